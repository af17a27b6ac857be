"""The search space of `TransformerClassifier` (Vaswani 2017)."""

from kerasext import _validation as v
from kerasext import models
from kerasext.tuning import space as space_lib
from kerasext.tuning._common import ClassifierMixin
from kerasext.tuning.base import KerasextHyperModel


class HyperTransformerClassifier(ClassifierMixin, KerasextHyperModel):
    """Search space of `kx.models.TransformerClassifier` (an encoder-only Transformer).

    Hyperparameters: `embed_dim`, `num_heads` (all choices divide every
    `embed_dim`), `ff_dim`, `num_layers`, `position_encoding` ("learned",
    "sinusoidal"), `dropout`, and the shared training group. Inputs are
    integer token ids `(batch_size, sequence_length)`, 0 padding.

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
    hypermodel = kx.tuning.HyperTransformerClassifier(30, 10, 2, fixed={"num_layers": 1})
    model = hypermodel.build(keras_tuner.HyperParameters())
    assert model.num_layers == 1
    assert model.predict(np.ones((2, 10)), verbose=0).shape == (2, 2)
    ```

    Reference:
        Vaswani et al., "Attention Is All You Need", NeurIPS 2017.
        https://arxiv.org/abs/1706.03762
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
        embed_dim = space.Choice("embed_dim", [32, 64, 128], ordered=True, default=64)
        num_heads = space.Choice("num_heads", [1, 2, 4, 8], ordered=True, default=4)
        ff_dim = space.Choice("ff_dim", [64, 128, 256], ordered=True, default=128)
        num_layers = space.Int("num_layers", 1, 4, default=2)
        position_encoding = space.Choice(
            "position_encoding", ["learned", "sinusoidal"], default="learned"
        )
        dropout = space_lib.declare_dropout(space, default=0.1)
        return {
            "vocab_size": self.vocab_size,
            "sequence_length": self.sequence_length,
            "num_classes": self.num_classes,
            "embed_dim": embed_dim,
            "num_heads": num_heads,
            "ff_dim": ff_dim,
            "num_layers": num_layers,
            "dropout": dropout,
            "position_encoding": position_encoding,
        }

    def _make_model(self, kwargs):
        return models.TransformerClassifier(**kwargs)

    def _input_shape(self):
        return (self.sequence_length,)
