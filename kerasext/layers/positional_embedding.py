"""PositionalEmbedding: token embedding plus position encoding (Vaswani 2017)."""

import math

import keras
import numpy as np
from keras import ops

from kerasext import _validation as v
from kerasext.api_export import kerasext_export

POSITION_ENCODINGS = ("learned", "sinusoidal")


def sinusoidal_encoding(length, depth):
    """The paper's table: PE[pos, 2i] = sin(pos / 10000^(2i/d)), PE[pos, 2i+1] = cos(...)."""
    positions = np.arange(length, dtype="float64")[:, None]
    rates = np.power(10000.0, -np.arange(0, depth, 2, dtype="float64") / depth)
    table = np.zeros((length, depth), dtype="float64")
    table[:, 0::2] = np.sin(positions * rates)
    table[:, 1::2] = np.cos(positions * rates[: depth // 2])
    return table.astype("float32")


@kerasext_export
class PositionalEmbedding(keras.layers.Layer):
    """Embeds token ids and adds an encoding of each token's position.

    Attention alone ignores order; adding a position encoding to each token's
    embedding gives the model word order. With `position_encoding=
    "sinusoidal"` the encoding is the paper's fixed sine/cosine table and the
    token embeddings are scaled by `sqrt(embed_dim)` as in the paper; with
    `"learned"` (the paper's alternative, "nearly identical results") each
    position has a trainable vector. Token id 0 is padding when
    `mask_zero=True`: the layer then emits a mask that the following
    `TransformerEncoderBlock`s use to ignore padded steps.

    Args:
        sequence_length: positive integer, the longest sequence accepted.
        vocab_size: positive integer, number of token ids (0 included).
        embed_dim: positive integer, size of each embedding.
        position_encoding: `"sinusoidal"` or `"learned"`.
            Defaults to `"sinusoidal"`.
        mask_zero: whether token id 0 is padding and masked.
            Defaults to `True`.
        **kwargs: base layer keyword arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: integer tensor of token ids, shape `(batch_size, steps)` with
            `steps <= sequence_length`.

    Returns:
        A tensor of shape `(batch_size, steps, embed_dim)`, with a mask
        `inputs != 0` when `mask_zero=True`.

    Example:

    ```python
    import keras
    import numpy as np

    layer = kx.layers.PositionalEmbedding(sequence_length=10, vocab_size=30, embed_dim=8)
    tokens = np.array([[5, 7, 9, 0, 0, 0, 0, 0, 0, 0]])
    out = layer(tokens)
    assert tuple(out.shape) == (1, 10, 8)
    mask = keras.ops.convert_to_numpy(layer.compute_mask(tokens))
    assert mask.tolist()[0][:4] == [True, True, True, False]
    ```

    Reference:
        Vaswani et al., "Attention Is All You Need", NeurIPS 2017, section 3.5.
        https://arxiv.org/abs/1706.03762
    """

    def __init__(self, sequence_length, vocab_size, embed_dim, position_encoding="sinusoidal",
                 mask_zero=True, **kwargs):
        super().__init__(**kwargs)
        v.check_positive_int("sequence_length", sequence_length)
        v.check_positive_int("vocab_size", vocab_size)
        v.check_positive_int("embed_dim", embed_dim)
        v.check_choice("position_encoding", position_encoding, POSITION_ENCODINGS)
        self.sequence_length = int(sequence_length)
        self.vocab_size = int(vocab_size)
        self.embed_dim = int(embed_dim)
        self.position_encoding = position_encoding
        self.mask_zero = bool(mask_zero)
        self.supports_masking = self.mask_zero
        self.token_embedding = keras.layers.Embedding(
            self.vocab_size, self.embed_dim, dtype=self.dtype_policy, name="token_embedding"
        )
        if position_encoding == "learned":
            self.position_embedding = keras.layers.Embedding(
                self.sequence_length, self.embed_dim, dtype=self.dtype_policy,
                name="position_embedding",
            )
        else:
            self.position_embedding = None
            self._table = sinusoidal_encoding(self.sequence_length, self.embed_dim)

    def build(self, input_shape):
        if len(input_shape) != 2:
            raise ValueError(
                "PositionalEmbedding expects token ids of shape (batch_size, steps). "
                f"Received: input_shape={tuple(input_shape)}"
            )
        steps = input_shape[1]
        if steps is not None and steps > self.sequence_length:
            raise ValueError(
                f"PositionalEmbedding got sequences of {steps} steps, longer than "
                f"sequence_length={self.sequence_length}. Received: input_shape={tuple(input_shape)}"
            )
        self.token_embedding.build(input_shape)
        if self.position_embedding is not None:
            self.position_embedding.build((self.sequence_length,))

    def call(self, inputs):
        steps = ops.shape(inputs)[1]
        embedded = self.token_embedding(inputs)
        if self.position_embedding is not None:
            positions = self.position_embedding(ops.arange(steps, dtype="int32"))
        else:
            embedded = embedded * ops.cast(math.sqrt(self.embed_dim), embedded.dtype)
            positions = ops.cast(ops.convert_to_tensor(self._table)[:steps], embedded.dtype)
        return embedded + positions[None]

    def compute_mask(self, inputs, mask=None):
        if not self.mask_zero:
            return None
        return ops.not_equal(inputs, 0)

    def compute_output_shape(self, input_shape):
        return (*input_shape, self.embed_dim)

    def get_config(self):
        return {
            **super().get_config(),
            "sequence_length": self.sequence_length,
            "vocab_size": self.vocab_size,
            "embed_dim": self.embed_dim,
            "position_encoding": self.position_encoding,
            "mask_zero": self.mask_zero,
        }
