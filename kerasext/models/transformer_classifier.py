"""TransformerClassifier: a Transformer encoder over tokens, pooled into a softmax."""

import keras
from keras import ops

from kerasext import _validation as v
from kerasext.api_export import kerasext_export
from kerasext.layers.positional_embedding import POSITION_ENCODINGS, PositionalEmbedding
from kerasext.layers.transformer_encoder_block import TransformerEncoderBlock
from kerasext.models._common import KerasextModel, output_dtype


@kerasext_export
class TransformerClassifier(KerasextModel):
    """A Transformer encoder text classifier.

    Tokens are embedded with their positions (`PositionalEmbedding`), go
    through `num_layers` encoder layers (`TransformerEncoderBlock`:
    multi-head self-attention and a feed-forward net, each with dropout, a
    residual connection and layer normalization), are averaged over the real
    (non-padding) steps, and a softmax gives the class. Token id 0 is padding
    and is masked out of the attention and the average.

    Args:
        vocab_size: positive integer, number of token ids (0 is padding).
        sequence_length: positive integer, the longest sequence accepted.
        num_classes: integer >= 2, number of classes.
        embed_dim: model width (d_model). Defaults to `64`.
        num_heads: attention heads per layer (a divisor of `embed_dim`).
            Defaults to `4`.
        ff_dim: inner size of the feed-forward nets (d_ff). Defaults to `128`.
        num_layers: number of encoder layers. Defaults to `2`.
        dropout: dropout rate in [0, 1) on the embeddings, every sub-layer's
            output and the pooled features. Defaults to `0.1`.
        position_encoding: `"learned"` or `"sinusoidal"`.
            Defaults to `"sinusoidal"`.
        **kwargs: base model keyword arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: integer token ids of shape `(batch_size, steps)`, padded with
            0, `steps <= sequence_length`.
        training: whether dropout is active.

    Returns:
        Float32 class probabilities of shape `(batch_size, num_classes)`.

    Example:

    ```python
    import numpy as np

    model = kx.models.TransformerClassifier(
        vocab_size=50, sequence_length=12, num_classes=2, embed_dim=16, num_heads=2,
        ff_dim=32, num_layers=1)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    tokens = np.random.randint(1, 50, size=(32, 12))
    model.fit(tokens, np.arange(32) % 2, epochs=1, verbose=0)
    assert model.predict(tokens, verbose=0).shape == (32, 2)
    ```

    Reference:
        Vaswani et al., "Attention Is All You Need", NeurIPS 2017.
        https://arxiv.org/abs/1706.03762
    """

    _input_rank, _input_layout = 2, "(batch_size, steps) of token ids"

    def __init__(self, vocab_size, sequence_length, num_classes, embed_dim=64, num_heads=4,
                 ff_dim=128, num_layers=2, dropout=0.1, position_encoding="sinusoidal", **kwargs):
        super().__init__(**kwargs)
        v.check_positive_int("vocab_size", vocab_size)
        v.check_positive_int("sequence_length", sequence_length)
        v.check_num_classes(num_classes, allow_none=False)
        v.check_positive_int("num_layers", num_layers)
        v.check_rate("dropout", dropout)
        v.check_choice("position_encoding", position_encoding, POSITION_ENCODINGS)
        self.vocab_size = vocab_size
        self.sequence_length = sequence_length
        self.num_classes = num_classes
        self.embed_dim = embed_dim
        self.num_heads = num_heads
        self.ff_dim = ff_dim
        self.num_layers = num_layers
        self.dropout = dropout
        self.position_encoding = position_encoding
        policy = self.dtype_policy
        self.embedding = PositionalEmbedding(
            sequence_length, vocab_size, embed_dim, position_encoding=position_encoding,
            dtype=policy, name="embedding",
        )
        self.embedding_dropout = keras.layers.Dropout(dropout, dtype=policy,
                                                      name="embedding_dropout")
        self.encoder_blocks = [
            TransformerEncoderBlock(embed_dim, num_heads, ff_dim, dropout=dropout, dtype=policy,
                                    name=f"encoder_block_{index}")
            for index in range(num_layers)
        ]
        self.feature_dropout = keras.layers.Dropout(dropout, dtype=policy, name="dropout")
        self.head = keras.layers.Dense(num_classes, activation="softmax",
                                       dtype=output_dtype(policy), name="head")

    def _build_layers(self, input_shape):
        self.embedding.build(input_shape)
        hidden_shape = (*input_shape, self.embed_dim)
        for block in self.encoder_blocks:
            block.build(hidden_shape)
        self.head.build((input_shape[0], self.embed_dim))

    def call(self, inputs, training=None):
        inputs = ops.cast(inputs, "int32")
        mask = ops.not_equal(inputs, 0)
        x = self.embedding_dropout(self.embedding(inputs), training=training)
        for block in self.encoder_blocks:
            x = block(x, mask=mask, training=training)
        # Mean over real steps, in float32 (a long sum is fragile in float16).
        weights = ops.cast(mask, "float32")[..., None]
        total = ops.sum(ops.cast(x, "float32") * weights, axis=1)
        pooled = total / ops.maximum(ops.sum(weights, axis=1), 1.0)
        pooled = ops.cast(pooled, self.compute_dtype)
        return self.head(self.feature_dropout(pooled, training=training))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.num_classes)

    def get_config(self):
        return {
            **super().get_config(),
            "vocab_size": self.vocab_size,
            "sequence_length": self.sequence_length,
            "num_classes": self.num_classes,
            "embed_dim": self.embed_dim,
            "num_heads": self.num_heads,
            "ff_dim": self.ff_dim,
            "num_layers": self.num_layers,
            "dropout": self.dropout,
            "position_encoding": self.position_encoding,
        }

    def get_layout_map(self, device_mesh, model_dim_name="model"):
        """The `keras.distribution.LayoutMap` that splits this model's large kernels.

        For `keras.distribution.ModelParallel` (JAX), in the manner of
        keras-hub's backbones: the token embeddings (along the embedding dimension), the attention projections (along the heads) and the feed-forward kernels (along their inner dimension) are split along the `model_dim_name`
        axis of `device_mesh` (a dimension that the axis size does not divide
        stays whole: JAX shards evenly only); everything else is replicated,
        and the data is split along the mesh's other axis. Call it before the
        model is built, and set the distribution before building.

        Args:
            device_mesh: a `keras.distribution.DeviceMesh` with a
                `model_dim_name` axis.
            model_dim_name: the mesh axis to split kernels along. Defaults
                to `"model"`.

        Returns:
            A `keras.distribution.LayoutMap`.

        Example:

        ```python
        import keras

        model = kx.models.TransformerClassifier(1000, 32, 2, embed_dim=64, num_heads=4)
        devices = keras.distribution.list_devices()
        mesh = keras.distribution.DeviceMesh((1, len(devices)), ["batch", "model"], devices)
        layout_map = model.get_layout_map(mesh)
        # keras.distribution.set_distribution(
        #     keras.distribution.ModelParallel(layout_map=layout_map))  # on JAX
        ```
        """
        from kerasext.distribute import _model_layout_map

        heads, inner = self.num_heads, self.ff_dim
        return _model_layout_map(device_mesh, {
            ".*/token_embedding/embeddings": (None, self.embed_dim),
            ".*/attention/(query|key|value)/kernel": (None, heads, None),
            ".*/attention/attention_output/kernel": (heads, None, None),
            ".*/ff_inner/kernel": (None, inner),
            ".*/ff_outer/kernel": (inner, None),
        }, model_dim_name)
