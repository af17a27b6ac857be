"""ParallelConv1D: several 1D convolution widths side by side (Kim 2014)."""

import keras
from keras import ops

from kerasext import _validation as v
from kerasext.api_export import kerasext_export


@kerasext_export
class ParallelConv1D(keras.layers.Layer):
    """Parallel 1D convolutions of several widths, concatenated along channels.

    Each width sees n-grams of that many tokens; Kim (2014) uses widths 3, 4
    and 5 with 100 filters each. All convolutions use `"same"` padding, so
    every output step lines up with an input step and a padding mask passes
    through unchanged. Masked (padded) steps are zeroed before convolving, so
    they act exactly like the convolution's own zero padding: a sentence gives
    the same features at its tokens however much padding surrounds it.

    Args:
        filters: positive integer, number of filters per width.
        kernel_sizes: sequence of positive integers, the convolution widths.
            Defaults to `(3, 4, 5)`.
        activation: activation of every convolution. Defaults to `"relu"`.
        use_bias: whether the convolutions have a bias. Defaults to `True`.
        **kwargs: base layer keyword arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: a float tensor of shape `(batch_size, steps, channels)`.
        mask: optional boolean tensor of shape `(batch_size, steps)`, `True`
            at real (non-padding) steps. Propagated by a preceding
            `Embedding(mask_zero=True)`.

    Returns:
        A tensor of shape `(batch_size, steps, filters * len(kernel_sizes))`;
        the mask is passed on unchanged.

    Example:

    ```python
    import numpy as np
    import keras

    tokens = keras.Input((12,), dtype="int32")
    x = keras.layers.Embedding(50, 16, mask_zero=True)(tokens)
    x = kx.layers.ParallelConv1D(filters=8, kernel_sizes=(3, 4, 5))(x)
    model = keras.Model(tokens, x)
    out = model(np.random.randint(1, 50, size=(2, 12)))
    assert tuple(out.shape) == (2, 12, 24)
    ```

    Reference:
        Kim, "Convolutional Neural Networks for Sentence Classification",
        EMNLP 2014. https://arxiv.org/abs/1408.5882
    """

    def __init__(self, filters, kernel_sizes=(3, 4, 5), activation="relu", use_bias=True,
                 **kwargs):
        super().__init__(**kwargs)
        v.check_positive_int("filters", filters)
        self.filters = int(filters)
        self.kernel_sizes = v.as_positive_int_tuple("kernel_sizes", kernel_sizes)
        self.activation = keras.activations.serialize(keras.activations.get(activation))
        self.use_bias = bool(use_bias)
        self.supports_masking = True
        self.convolutions = [
            keras.layers.Conv1D(
                self.filters,
                width,
                padding="same",
                activation=self.activation,
                use_bias=self.use_bias,
                dtype=self.dtype_policy,
                name=f"conv_width_{width}",
            )
            for width in self.kernel_sizes
        ]

    def build(self, input_shape):
        if len(input_shape) != 3:
            raise ValueError(
                "ParallelConv1D expects inputs of shape (batch_size, steps, channels). "
                f"Received: input_shape={tuple(input_shape)}"
            )
        for convolution in self.convolutions:
            convolution.build(input_shape)

    def call(self, inputs, mask=None):
        if mask is not None:
            inputs = inputs * ops.cast(mask, inputs.dtype)[..., None]
        return ops.concatenate([conv(inputs) for conv in self.convolutions], axis=-1)

    def compute_mask(self, inputs, mask=None):
        return mask

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.filters * len(self.kernel_sizes))

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "kernel_sizes": list(self.kernel_sizes),
            "activation": self.activation,
            "use_bias": self.use_bias,
        }
