"""HyperModels of the seed architectures: linear and logistic regression, ConvNet, RecurrentNet."""

import math

import keras

from kerasext import _validation as v
from kerasext import models
from kerasext.tuning import space as space_lib
from kerasext.tuning.base import KerasextHyperModel


def _check_shape(name, shape, ranks):
    """An input shape without its batch axis: a tuple of `ranks` positive integers."""
    return v.as_positive_int_tuple(
        name, shape, lengths=ranks,
        expected=f"a tuple of {' or '.join(map(str, ranks))} positive integers (no batch axis)")


def classification_metrics(num_classes):
    """Accuracy and kerasext's macro F1 score, for softmax outputs and sparse labels."""
    from kerasext import metrics as kx_metrics

    result = [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]
    if hasattr(kx_metrics, "F1Score"):
        result.append(kx_metrics.F1Score(num_classes=num_classes, name="f1_score"))
    return result


def regression_metrics():
    """Root mean squared error and mean absolute error."""
    return [
        keras.metrics.RootMeanSquaredError(name="root_mean_squared_error"),
        keras.metrics.MeanAbsoluteError(name="mean_absolute_error"),
    ]


class _ClassifierMixin:
    def _loss(self):
        return keras.losses.SparseCategoricalCrossentropy()

    def _default_metrics(self):
        return classification_metrics(self.num_classes)


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


class HyperConvNet(_ClassifierMixin, KerasextHyperModel):
    """Search space of `kx.models.ConvNet`, sized to the input image.

    Hyperparameters: `num_blocks` (convolutional blocks, at most as many as
    halvings the image allows, up to 4), `filters` (of the first block,
    doubled at each next one), `kernel_size`, `pooling`, `batch_norm`,
    `dense_layers` (0-2) with `dense_units` active only when there is a dense
    layer, `dropout`, and the shared training group (`optimizer`, log-scale
    `learning_rate`, `momentum` under SGD, `weight_decay`, `batch_size`).
    Default metrics: accuracy and kerasext's macro `F1Score`.

    Args:
        input_shape: image shape `(height, width)` or `(height, width,
            channels)`, no batch axis.
        num_classes: number of classes (>= 2).
        **kwargs: `fixed`, `metrics`, `early_stopping`,
            `early_stopping_patience`, `seed`, `name`, `tunable`.

    Example:

    ```python
    import keras_tuner
    import numpy as np
    x = np.random.default_rng(0).random((48, 8, 8, 1)).astype("float32")
    y = np.arange(48) % 3
    hypermodel = kx.tuning.HyperConvNet((8, 8, 1), num_classes=3, fixed={"filters": 8})
    tuner = keras_tuner.RandomSearch(
        hypermodel, objective=hypermodel.objective("val_f1_score"), max_trials=2,
        seed=0, overwrite=True, directory="tuning_example")
    tuner.search(x, y, validation_split=0.25, epochs=1, verbose=0)
    assert tuner.oracle.objective.direction == "max"
    ```
    """

    _learning_rate = 3e-3

    def __init__(self, input_shape, num_classes, **kwargs):
        self.input_shape = _check_shape("input_shape", input_shape, (2, 3))
        v.check_num_classes(num_classes, allow_none=False)
        self.num_classes = num_classes
        super().__init__(**kwargs)

    @property
    def max_blocks(self):
        """The most convolutional blocks: each halves the image, which must stay >= 1 pixel."""
        return max(1, min(4, int(math.log2(min(self.input_shape[:2])))))

    def _declare(self, space):
        max_blocks = self.max_blocks
        num_blocks = space.Int("num_blocks", 1, max_blocks, default=min(2, max_blocks))
        filters = space.Choice("filters", [16, 32, 64], ordered=True, default=32)
        kernel_sizes = [k for k in (3, 5) if k <= max(self.input_shape[:2])] or [1]
        kernel_size = space.Choice("kernel_size", kernel_sizes, ordered=True, default=kernel_sizes[0])
        pooling = space.Choice("pooling", ["max", "avg"], default="max")
        batch_norm = space.Boolean("batch_norm", default=False)
        dense_layers = space.Int("dense_layers", 0, 2, default=1)
        with space.conditional_scope("dense_layers", [1, 2]):
            dense_units = space.Choice("dense_units", [64, 128, 256], ordered=True, default=128)
        dropout = space_lib.declare_dropout(space, default=0.2)
        return {
            "num_classes": self.num_classes,
            "filters": tuple(int(filters) * 2**i for i in range(num_blocks)),
            "kernel_size": kernel_size,
            "dense_units": (dense_units,) * dense_layers if dense_units else (),
            "dropout": dropout,
            "batch_norm": batch_norm,
            "pooling": pooling,
        }

    def _make_model(self, kwargs):
        return models.ConvNet(**kwargs)

    def _input_shape(self):
        return self.input_shape


class HyperRecurrentNet(_ClassifierMixin, KerasextHyperModel):
    """Search space of `kx.models.RecurrentNet`, with cell-dependent widths.

    Hyperparameters: `cell` ("simple", "lstm", "gru"); `simple_units`, active
    only for SimpleRNN, and `gated_units`, active only for LSTM / GRU (gated
    cells carry 3-4 times the weights per unit and keep long memories, so
    they get their own range); `num_layers` (1-3), `bidirectional`,
    `dropout`, and the shared training group. Default metrics: accuracy and
    kerasext's macro `F1Score`.

    Args:
        input_shape: `(timesteps, features)`, no batch axis.
        num_classes: number of classes (>= 2).
        return_sequences: whether the model predicts at every step (sequence
            labelling). Defaults to `False`.
        **kwargs: `fixed`, `metrics`, `early_stopping`,
            `early_stopping_patience`, `seed`, `name`, `tunable`.

    Example:

    ```python
    import keras_tuner
    hypermodel = kx.tuning.HyperRecurrentNet((12, 4), num_classes=2, fixed={"cell": "lstm"})
    hp = keras_tuner.HyperParameters()
    model = hypermodel.build(hp)
    assert model.cell == "lstm" and hp.get("gated_units") == 64
    assert "simple_units" not in hp  # inactive: its branch is not taken
    ```
    """

    def __init__(self, input_shape, num_classes, return_sequences=False, **kwargs):
        self.input_shape = _check_shape("input_shape", input_shape, (2,))
        v.check_num_classes(num_classes, allow_none=False)
        self.num_classes = num_classes
        self.return_sequences = bool(return_sequences)
        super().__init__(**kwargs)

    def _declare(self, space):
        cell = space.Choice("cell", ["simple", "lstm", "gru"], default="gru")
        with space.conditional_scope("cell", ["simple"]):
            simple_units = space.Choice("simple_units", [16, 32, 64], ordered=True, default=32)
        with space.conditional_scope("cell", ["lstm", "gru"]):
            gated_units = space.Choice("gated_units", [32, 64, 128], ordered=True, default=64)
        num_layers = space.Int("num_layers", 1, 3, default=1)
        bidirectional = space.Boolean("bidirectional", default=False)
        dropout = space_lib.declare_dropout(space, default=0.0)
        units = simple_units if cell == "simple" else gated_units
        return {
            "num_classes": self.num_classes,
            "units": (units,) * num_layers,
            "cell": cell,
            "bidirectional": bidirectional,
            "dropout": dropout,
            "return_sequences": self.return_sequences,
        }

    def _make_model(self, kwargs):
        return models.RecurrentNet(**kwargs)

    def _input_shape(self):
        return self.input_shape
