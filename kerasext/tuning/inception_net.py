"""The search space of `InceptionNet` (Szegedy 2015)."""

from kerasext import _validation as v
from kerasext import models
from kerasext.tuning import space as space_lib
from kerasext.tuning._common import ClassifierMixin, check_shape
from kerasext.tuning.base import KerasextHyperModel


class HyperInceptionNet(ClassifierMixin, KerasextHyperModel):
    """Search space of `kx.models.InceptionNet` (GoogLeNet for small images).

    Hyperparameters: `width_multiplier` (on GoogLeNet's filter counts),
    `stem_filters`, `stage3_blocks` / `stage4_blocks` / `stage5_blocks`
    (Inception modules kept per stage), `aux_classifiers` with
    `aux_loss_weight` active only when they are on, `dropout` (0.4 in the
    paper), and the shared training group.

    Args:
        input_shape: image shape `(height, width)` or `(height, width,
            channels)`, no batch axis.
        num_classes: number of classes (>= 2).
        **kwargs: `fixed`, `metrics`, `early_stopping`,
            `early_stopping_patience`, `seed`, `name`, `tunable`.

    Example:

    ```python
    space = kx.tuning.describe(kx.tuning.HyperInceptionNet((8, 8, 1), num_classes=10))
    assert space.get("aux_loss_weight")[0].condition == "aux_classifiers == True"
    ```

    Reference:
        Szegedy et al., "Going Deeper with Convolutions", CVPR 2015.
        https://arxiv.org/abs/1409.4842
    """

    def __init__(self, input_shape, num_classes, **kwargs):
        self.input_shape = check_shape("input_shape", input_shape, (2, 3))
        v.check_num_classes(num_classes, allow_none=False)
        self.num_classes = num_classes
        super().__init__(**kwargs)

    def _declare(self, space):
        width = space.Choice("width_multiplier", [0.0625, 0.125, 0.25], ordered=True, default=0.125)
        stem_filters = space.Choice("stem_filters", [16, 32, 64], ordered=True, default=32)
        stage3 = space.Int("stage3_blocks", 1, 2, default=2)
        stage4 = space.Int("stage4_blocks", 1, 5, default=2)
        stage5 = space.Int("stage5_blocks", 0, 2, default=1)
        aux = space.Boolean("aux_classifiers", default=False)
        with space.conditional_scope("aux_classifiers", [True]):
            aux_weight = space.Float("aux_loss_weight", 0.1, 0.5, step=0.1, default=0.3)
        dropout = space_lib.declare_dropout(space, default=0.4, max_value=0.6)
        return {
            "num_classes": self.num_classes,
            "width_multiplier": width,
            "blocks_per_stage": (stage3, stage4, stage5),
            "stem_filters": stem_filters,
            "dropout": dropout,
            "aux_classifiers": aux,
            "aux_loss_weight": aux_weight if aux else 0.3,
        }

    def _make_model(self, kwargs):
        return models.InceptionNet(**kwargs)

    def _input_shape(self):
        return self.input_shape
