"""TransformerEncoderBlock: self-attention and feed-forward sub-layers (Vaswani 2017)."""

import keras
from keras import ops

from kerasext import _validation as v
from kerasext.api_export import kerasext_export


@kerasext_export
class TransformerEncoderBlock(keras.layers.Layer):
    """One Transformer encoder layer: self-attention, then a position-wise feed-forward net.

    As in the paper, each sub-layer's output goes through dropout, is added to
    its input and layer-normalized (post-norm): `x = LayerNorm(x +
    Dropout(MultiHeadAttention(x, x)))`, then `x = LayerNorm(x +
    Dropout(FFN(x)))` with `FFN(x) = Dense(embed_dim)(ReLU(Dense(ff_dim)(x)))`.
    A padding mask (from `PositionalEmbedding(mask_zero=True)` or passed as
    `mask`) keeps every step from attending to padded steps, and is passed on.

    Args:
        embed_dim: positive integer, size of the inputs' last axis (d_model).
        num_heads: positive integer, number of attention heads; each head has
            size `embed_dim // num_heads`.
        ff_dim: positive integer, inner size of the feed-forward net (d_ff).
        dropout: dropout rate in [0, 1) on each sub-layer's output.
            Defaults to `0.1`.
        activation: activation of the feed-forward net. Defaults to `"relu"`.
        layer_norm_epsilon: epsilon of the layer normalizations.
            Defaults to `1e-6`.
        **kwargs: base layer keyword arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: a tensor of shape `(batch_size, steps, embed_dim)`.
        mask: optional boolean tensor of shape `(batch_size, steps)`, `True`
            at real (non-padding) steps.
        training: whether dropout is active.

    Returns:
        A tensor of the inputs' shape; the mask is passed on.

    Example:

    ```python
    import numpy as np

    tokens = np.array([[4, 8, 15, 16, 0, 0], [23, 42, 0, 0, 0, 0]])
    x = kx.layers.PositionalEmbedding(6, vocab_size=50, embed_dim=16)(tokens)
    y = kx.layers.TransformerEncoderBlock(embed_dim=16, num_heads=2, ff_dim=32)(x)
    assert tuple(y.shape) == (2, 6, 16)
    ```

    Reference:
        Vaswani et al., "Attention Is All You Need", NeurIPS 2017.
        https://arxiv.org/abs/1706.03762
    """

    def __init__(self, embed_dim, num_heads, ff_dim, dropout=0.1, activation="relu",
                 layer_norm_epsilon=1e-6, **kwargs):
        super().__init__(**kwargs)
        v.check_positive_int("embed_dim", embed_dim)
        v.check_positive_int("num_heads", num_heads)
        v.check_positive_int("ff_dim", ff_dim)
        v.check_rate("dropout", dropout)
        if embed_dim % num_heads:
            raise ValueError(
                "Invalid `num_heads` argument value. Expected a divisor of "
                f"embed_dim={embed_dim}. Received: num_heads={num_heads!r}"
            )
        self.embed_dim = int(embed_dim)
        self.num_heads = int(num_heads)
        self.ff_dim = int(ff_dim)
        self.dropout = float(dropout)
        self.activation = keras.activations.serialize(keras.activations.get(activation))
        self.layer_norm_epsilon = float(layer_norm_epsilon)
        self.supports_masking = True
        policy = self.dtype_policy
        self.attention = keras.layers.MultiHeadAttention(
            self.num_heads, self.embed_dim // self.num_heads, dtype=policy, name="attention"
        )
        self.attention_dropout = keras.layers.Dropout(self.dropout, dtype=policy,
                                                      name="attention_dropout")
        self.attention_norm = keras.layers.LayerNormalization(
            epsilon=self.layer_norm_epsilon, dtype=policy, name="attention_norm"
        )
        self.ff_inner = keras.layers.Dense(self.ff_dim, activation=self.activation, dtype=policy,
                                           name="ff_inner")
        self.ff_outer = keras.layers.Dense(self.embed_dim, dtype=policy, name="ff_outer")
        self.ff_dropout = keras.layers.Dropout(self.dropout, dtype=policy, name="ff_dropout")
        self.ff_norm = keras.layers.LayerNormalization(
            epsilon=self.layer_norm_epsilon, dtype=policy, name="ff_norm"
        )

    def build(self, input_shape):
        if len(input_shape) != 3 or input_shape[-1] != self.embed_dim:
            raise ValueError(
                f"TransformerEncoderBlock expects inputs of shape (batch_size, steps, "
                f"{self.embed_dim}). Received: input_shape={tuple(input_shape)}"
            )
        input_shape = tuple(input_shape)
        self.attention.build(input_shape, input_shape)
        self.attention_norm.build(input_shape)
        self.ff_inner.build(input_shape)
        self.ff_outer.build((*input_shape[:-1], self.ff_dim))
        self.ff_norm.build(input_shape)

    def call(self, inputs, mask=None, training=None):
        attention_mask = None
        if mask is not None:
            # Every query may look only at real keys: shape (batch, 1, steps)
            # broadcast over the queries.
            mask = ops.cast(mask, "bool")
            attention_mask = ops.broadcast_to(
                mask[:, None, :], (ops.shape(mask)[0], ops.shape(mask)[1], ops.shape(mask)[1])
            )
        attended = self.attention(inputs, inputs, attention_mask=attention_mask,
                                  training=training)
        x = self.attention_norm(inputs + self.attention_dropout(attended, training=training))
        transformed = self.ff_outer(self.ff_inner(x))
        return self.ff_norm(x + self.ff_dropout(transformed, training=training))

    def compute_mask(self, inputs, mask=None):
        return mask

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {
            **super().get_config(),
            "embed_dim": self.embed_dim,
            "num_heads": self.num_heads,
            "ff_dim": self.ff_dim,
            "dropout": self.dropout,
            "activation": self.activation,
            "layer_norm_epsilon": self.layer_norm_epsilon,
        }
