"""The search space of `RecurrentNet`."""

from kerasext import _validation as v
from kerasext import models
from kerasext.tuning import space as space_lib
from kerasext.tuning._common import ClassifierMixin, check_shape
from kerasext.tuning.base import KerasextHyperModel


class HyperRecurrentNet(ClassifierMixin, KerasextHyperModel):
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
        self.input_shape = check_shape("input_shape", input_shape, (2,))
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
