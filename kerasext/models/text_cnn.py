"""TextCNN: Kim (2014)'s convolutional sentence classifier."""

import keras
from keras import ops

from kerasext import _validation as v
from kerasext.api_export import kerasext_export
from kerasext.layers.parallel_conv import ParallelConv1D
from kerasext.models._common import KerasextModel, output_dtype


def masked_max_over_time(features, mask):
    """Max over the steps where `mask` is True; 0 for a sequence with no such step."""
    keep = ops.cast(mask, "bool")[..., None]
    lowest = -6.0e4 if keras.backend.standardize_dtype(features.dtype) == "float16" else -1.0e9
    pooled = ops.max(ops.where(keep, features, ops.cast(lowest, features.dtype)), axis=1)
    return ops.where(ops.any(keep, axis=1), pooled, ops.zeros_like(pooled))


@kerasext_export
class TextCNN(KerasextModel):
    """Kim (2014)'s CNN for sentence classification.

    Token ids are embedded, convolved with filters of several widths side by
    side (`ParallelConv1D`: each width detects n-grams of that length), each
    feature map is max-pooled over time (the strongest match anywhere in the
    sentence), and the pooled features go through dropout into a softmax. As
    in the paper the softmax layer's weight vectors are kept to an L2 norm of
    at most `max_norm`. Token id 0 is padding: padded steps are zeroed before
    the convolutions and left out of the max-pooling, so padding never
    changes a prediction.

    Args:
        vocab_size: positive integer, number of token ids (0 is padding).
        num_classes: integer >= 2, number of classes.
        embed_dim: size of the word embeddings. Defaults to `128`.
        kernel_sizes: convolution widths. Defaults to `(3, 4, 5)`.
        filters: filters per width. Defaults to `100`.
        dropout: dropout rate in [0, 1) on the pooled features.
            Defaults to `0.5`.
        max_norm: upper bound on the L2 norm of each softmax weight vector,
            or `None` for no bound. Defaults to `3.0`.
        **kwargs: base model keyword arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: integer token ids of shape `(batch_size, steps)`, padded
            with 0; `steps` must be at least 1.
        training: whether dropout is active.

    Returns:
        Float32 class probabilities of shape `(batch_size, num_classes)`.

    Example:

    ```python
    import numpy as np

    model = kx.models.TextCNN(vocab_size=50, num_classes=2, embed_dim=16, filters=8)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    tokens = np.random.randint(1, 50, size=(32, 12))
    tokens[:, 9:] = 0  # padding
    model.fit(tokens, np.arange(32) % 2, epochs=1, verbose=0)
    assert model.predict(tokens, verbose=0).shape == (32, 2)
    ```

    Reference:
        Kim, "Convolutional Neural Networks for Sentence Classification",
        EMNLP 2014. https://arxiv.org/abs/1408.5882
    """

    _input_rank, _input_layout = 2, "(batch_size, steps) of token ids"

    def __init__(self, vocab_size, num_classes, embed_dim=128, kernel_sizes=(3, 4, 5),
                 filters=100, dropout=0.5, max_norm=3.0, **kwargs):
        super().__init__(**kwargs)
        v.check_positive_int("vocab_size", vocab_size)
        v.check_num_classes(num_classes, allow_none=False)
        v.check_positive_int("embed_dim", embed_dim)
        v.check_positive_int("filters", filters)
        widths = v.as_positive_int_tuple("kernel_sizes", kernel_sizes)
        v.check_rate("dropout", dropout)
        if max_norm is not None:
            v.check_non_negative("max_norm", max_norm)
        self.vocab_size = vocab_size
        self.num_classes = num_classes
        self.embed_dim = embed_dim
        self.kernel_sizes = kernel_sizes
        self.filters = filters
        self.dropout = dropout
        self.max_norm = max_norm
        policy = self.dtype_policy
        self.embedding = keras.layers.Embedding(vocab_size, embed_dim, dtype=policy,
                                                name="embedding")
        self.convolutions = ParallelConv1D(filters, widths, dtype=policy, name="convolutions")
        self.feature_dropout = keras.layers.Dropout(dropout, dtype=policy, name="dropout")
        self.head = keras.layers.Dense(
            num_classes,
            activation="softmax",
            kernel_constraint=None if max_norm is None else keras.constraints.MaxNorm(
                float(max_norm), axis=0),
            dtype=output_dtype(policy),
            name="head",
        )

    def _build_layers(self, input_shape):
        self.embedding.build(input_shape)
        self.convolutions.build((*input_shape, self.embed_dim))
        self.head.build((input_shape[0], self.filters * len(self.convolutions.kernel_sizes)))

    def call(self, inputs, training=None):
        inputs = ops.cast(inputs, "int32")
        mask = ops.not_equal(inputs, 0)
        features = self.convolutions(self.embedding(inputs), mask=mask)
        pooled = masked_max_over_time(features, mask)
        return self.head(self.feature_dropout(pooled, training=training))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.num_classes)

    def get_config(self):
        return {
            **super().get_config(),
            "vocab_size": self.vocab_size,
            "num_classes": self.num_classes,
            "embed_dim": self.embed_dim,
            "kernel_sizes": list(self.convolutions.kernel_sizes),
            "filters": self.filters,
            "dropout": self.dropout,
            "max_norm": self.max_norm,
        }

    def get_layout_map(self, device_mesh, model_dim_name="model"):
        """The `keras.distribution.LayoutMap` that splits this model's large kernels.

        For `keras.distribution.ModelParallel` (JAX), in the manner of
        keras-hub's backbones: the embeddings (along the embedding dimension) and the convolution kernels (along their filters) are split along the `model_dim_name`
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

        model = kx.models.TextCNN(1000, 2, embed_dim=64, filters=32)
        devices = keras.distribution.list_devices()
        mesh = keras.distribution.DeviceMesh((1, len(devices)), ["batch", "model"], devices)
        layout_map = model.get_layout_map(mesh)
        # keras.distribution.set_distribution(
        #     keras.distribution.ModelParallel(layout_map=layout_map))  # on JAX
        ```
        """
        from kerasext.distribute import _model_layout_map

        return _model_layout_map(device_mesh, {
            ".*/embedding/embeddings": (None, self.embed_dim),
            ".*/convolutions/conv_width_[0-9]+/kernel": (None, None, self.filters),
        }, model_dim_name)
