"""The search space of `ConvNet`."""

import math

from kerasext import _validation as v
from kerasext import models
from kerasext.tuning import space as space_lib
from kerasext.tuning._common import ClassifierMixin, check_shape
from kerasext.tuning.base import KerasextHyperModel


class HyperConvNet(ClassifierMixin, KerasextHyperModel):
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
        self.input_shape = check_shape("input_shape", input_shape, (2, 3))
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
