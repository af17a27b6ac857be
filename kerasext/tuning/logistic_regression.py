"""The search space of `LogisticRegression`."""

import keras

from kerasext import _validation as v
from kerasext import models
from kerasext.tuning import space as space_lib
from kerasext.tuning._common import classification_metrics
from kerasext.tuning.base import KerasextHyperModel


class HyperLogisticRegression(KerasextHyperModel):
    """Search space of `kx.models.LogisticRegression`: penalty and training.

    Hyperparameters: `penalty` ("none", "l1", "l2", "l1_l2") with `l1` and
    `l2` (log scale) active only under the penalties that use them, and the
    shared training group (no weight decay: the penalty is the L2 here).
    Two classes use one sigmoid unit and binary cross-entropy (labels 0 / 1),
    more use softmax and sparse categorical cross-entropy. Default metrics:
    accuracy and kerasext's `F1Score` (macro for more than two classes).

    Args:
        input_dim: number of input features.
        num_classes: number of classes (>= 2). Defaults to `2`.
        **kwargs: `fixed`, `metrics`, `early_stopping`,
            `early_stopping_patience`, `seed`, `name`, `tunable`.

    Example:

    ```python
    hypermodel = kx.tuning.HyperLogisticRegression(4, num_classes=3)
    print(kx.tuning.describe(hypermodel))
    import keras_tuner
    import numpy as np
    model = hypermodel.build(keras_tuner.HyperParameters())
    assert model.predict(np.zeros((2, 4)), verbose=0).shape == (2, 3)
    ```
    """

    _weight_decay = False
    _learning_rate = 1e-2

    def __init__(self, input_dim, num_classes=2, **kwargs):
        v.check_positive_int("input_dim", input_dim)
        v.check_num_classes(num_classes, allow_none=False)
        self.input_dim = input_dim
        self.num_classes = num_classes
        super().__init__(**kwargs)

    def _declare(self, space):
        l1, l2 = space_lib.declare_penalty(space)
        return {"num_classes": self.num_classes, "l1": l1, "l2": l2}

    def _make_model(self, kwargs):
        return models.LogisticRegression(**kwargs)

    def _input_shape(self):
        return (self.input_dim,)

    def _loss(self):
        if self.num_classes == 2:
            return keras.losses.BinaryCrossentropy()
        return keras.losses.SparseCategoricalCrossentropy()

    def _default_metrics(self):
        from kerasext import metrics as kx_metrics

        if self.num_classes != 2:
            return classification_metrics(self.num_classes)
        result = [keras.metrics.BinaryAccuracy(name="accuracy")]
        if hasattr(kx_metrics, "F1Score"):
            result.append(kx_metrics.F1Score(name="f1_score"))
        return result
