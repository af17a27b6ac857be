"""The search space of `LinearRegression`."""

import keras

from kerasext import _validation as v
from kerasext import models
from kerasext.tuning import space as space_lib
from kerasext.tuning._common import regression_metrics
from kerasext.tuning.base import KerasextHyperModel


class HyperLinearRegression(KerasextHyperModel):
    """Search space of `kx.models.LinearRegression`: lasso / ridge / elastic-net penalty and training.

    Hyperparameters: `penalty` ("none", "l1", "l2", "l1_l2") with `l1` and
    `l2` (log scale) active only under the penalties that use them, and the
    shared training group (`optimizer`, log-scale `learning_rate`, `momentum`
    under SGD, `batch_size`; no weight decay: the penalty is the L2 here).
    Models are compiled with the mean squared error. See `describe`.

    Args:
        input_dim: number of input features.
        units: number of targets. Defaults to `1`.
        **kwargs: `fixed`, `metrics`, `early_stopping`,
            `early_stopping_patience`, `seed`, `name`, `tunable` (see
            `kerasext.tuning.base.KerasextHyperModel`).

    Example:

    ```python
    import keras_tuner
    import numpy as np
    x = np.random.default_rng(0).normal(size=(64, 3)).astype("float32")
    y = x @ np.array([[1.0], [-2.0], [0.5]], dtype="float32")
    tuner = keras_tuner.RandomSearch(
        kx.tuning.HyperLinearRegression(3, fixed={"learning_rate": 0.05}),
        objective="val_loss", max_trials=2, seed=1, overwrite=True, directory="tuning_example")
    tuner.search(x, y, validation_split=0.25, epochs=2, verbose=0)
    model = tuner.get_best_models(1)[0]
    assert model.predict(x, verbose=0).shape == (64, 1)
    ```
    """

    _weight_decay = False
    _learning_rate = 1e-2

    def __init__(self, input_dim, units=1, **kwargs):
        v.check_positive_int("input_dim", input_dim)
        v.check_positive_int("units", units)
        self.input_dim = input_dim
        self.units = units
        super().__init__(**kwargs)

    def _declare(self, space):
        l1, l2 = space_lib.declare_penalty(space)
        return {"units": self.units, "l1": l1, "l2": l2}

    def _make_model(self, kwargs):
        return models.LinearRegression(**kwargs)

    def _input_shape(self):
        return (self.input_dim,)

    def _loss(self):
        return keras.losses.MeanSquaredError()

    def _default_metrics(self):
        return regression_metrics()
