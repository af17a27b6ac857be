"""The search space of `TextCNN` (Kim 2014)."""

from kerasext import _validation as v
from kerasext import models
from kerasext.tuning import space as space_lib
from kerasext.tuning._common import ClassifierMixin
from kerasext.tuning.base import KerasextHyperModel

TEXT_CNN_KERNEL_SIZES = ("2,3,4", "3,4,5", "3,5,7")


class HyperTextCNN(ClassifierMixin, KerasextHyperModel):
    """Search space of `kx.models.TextCNN` (Kim 2014).

    Hyperparameters: `embed_dim`, `kernel_sizes` (a set of widths, as text
    "3,4,5"; sets wider than the sequence are left out), `filters` per width,
    `dropout` (0.5 in the paper), and the shared training group. Inputs are
    integer token ids of shape `(batch_size, sequence_length)`, 0 padding.

    Args:
        vocab_size: number of token ids (0 is padding).
        sequence_length: number of tokens per example.
        num_classes: number of classes (>= 2).
        **kwargs: `fixed`, `metrics`, `early_stopping`,
            `early_stopping_patience`, `seed`, `name`, `tunable`.

    Example:

    ```python
    import keras_tuner
    import numpy as np
    hypermodel = kx.tuning.HyperTextCNN(vocab_size=50, sequence_length=12, num_classes=2)
    hp = keras_tuner.HyperParameters()
    hp.values["kernel_sizes"] = "2,3,4"
    model = hypermodel.build(hp)
    assert tuple(model.kernel_sizes) == (2, 3, 4)
    assert model.predict(np.ones((2, 12)), verbose=0).shape == (2, 2)
    ```

    Reference:
        Kim, "Convolutional Neural Networks for Sentence Classification",
        EMNLP 2014. https://arxiv.org/abs/1408.5882
    """

    def __init__(self, vocab_size, sequence_length, num_classes, **kwargs):
        v.check_positive_int("vocab_size", vocab_size)
        v.check_positive_int("sequence_length", sequence_length)
        v.check_num_classes(num_classes, allow_none=False)
        self.vocab_size = vocab_size
        self.sequence_length = sequence_length
        self.num_classes = num_classes
        super().__init__(**kwargs)

    def _declare(self, space):
        widths = [
            text for text in TEXT_CNN_KERNEL_SIZES
            if max(int(w) for w in text.split(",")) <= self.sequence_length
        ] or [str(self.sequence_length)]
        default = "3,4,5" if "3,4,5" in widths else widths[0]
        embed_dim = space.Choice("embed_dim", [32, 64, 128], ordered=True, default=128)
        kernel_sizes = space.Choice("kernel_sizes", widths, default=default)
        filters = space.Choice("filters", [32, 64, 100, 128], ordered=True, default=100)
        dropout = space_lib.declare_dropout(space, default=0.5, max_value=0.6)
        return {
            "vocab_size": self.vocab_size,
            "num_classes": self.num_classes,
            "embed_dim": embed_dim,
            "kernel_sizes": tuple(int(w) for w in str(kernel_sizes).split(",")),
            "filters": filters,
            "dropout": dropout,
        }

    def _make_model(self, kwargs):
        return models.TextCNN(**kwargs)

    def _input_shape(self):
        return (self.sequence_length,)
