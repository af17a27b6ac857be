"""InceptionBlock: the Inception module with dimension reductions (Szegedy 2015, fig. 2b)."""

import keras
from keras import ops

from kerasext import _validation as v
from kerasext.api_export import kerasext_export

_FILTER_ARGUMENTS = (
    "filters_1x1",
    "filters_3x3_reduce",
    "filters_3x3",
    "filters_5x5_reduce",
    "filters_5x5",
    "filters_pool_proj",
)


@kerasext_export
class InceptionBlock(keras.layers.Layer):
    """The Inception module with dimension reductions (GoogLeNet, figure 2b).

    Four branches see the same input and are concatenated along channels:
    a 1x1 convolution; a 1x1 reduction then a 3x3 convolution; a 1x1
    reduction then a 5x5 convolution; a 3x3 max pooling (stride 1) then a 1x1
    projection. Every convolution is followed by the activation (ReLU in the
    paper) and uses `"same"` padding, so the spatial size is kept. The argument
    names are the column names of the paper's table 1.

    Args:
        filters_1x1: filters of the 1x1 branch.
        filters_3x3_reduce: filters of the 1x1 reduction before the 3x3.
        filters_3x3: filters of the 3x3 convolution.
        filters_5x5_reduce: filters of the 1x1 reduction before the 5x5.
        filters_5x5: filters of the 5x5 convolution.
        filters_pool_proj: filters of the 1x1 projection after the max pooling.
        activation: activation after every convolution. Defaults to `"relu"`.
        **kwargs: base layer keyword arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: a tensor of shape `(batch_size, height, width, channels)`
            (channels last).

    Returns:
        A tensor of shape `(batch_size, height, width, filters_1x1 +
        filters_3x3 + filters_5x5 + filters_pool_proj)`.

    Example:

    ```python
    import numpy as np

    # Inception (3a) of GoogLeNet: 64 + 128 + 32 + 32 = 256 output channels.
    block = kx.layers.InceptionBlock(64, 96, 128, 16, 32, 32)
    out = block(np.zeros((1, 8, 8, 3), dtype="float32"))
    assert tuple(out.shape) == (1, 8, 8, 256)
    ```

    Reference:
        Szegedy et al., "Going Deeper with Convolutions", CVPR 2015.
        https://arxiv.org/abs/1409.4842
    """

    def __init__(self, filters_1x1, filters_3x3_reduce, filters_3x3, filters_5x5_reduce,
                 filters_5x5, filters_pool_proj, activation="relu", **kwargs):
        super().__init__(**kwargs)
        values = (filters_1x1, filters_3x3_reduce, filters_3x3, filters_5x5_reduce,
                  filters_5x5, filters_pool_proj)
        for name, value in zip(_FILTER_ARGUMENTS, values):
            v.check_positive_int(name, value)
            setattr(self, name, int(value))
        self.activation = keras.activations.serialize(keras.activations.get(activation))

        def conv(filters, size, name):
            return keras.layers.Conv2D(filters, size, padding="same", activation=self.activation,
                                       dtype=self.dtype_policy, name=name)

        self.branch_1x1 = conv(self.filters_1x1, 1, "branch_1x1")
        self.branch_3x3_reduce = conv(self.filters_3x3_reduce, 1, "branch_3x3_reduce")
        self.branch_3x3 = conv(self.filters_3x3, 3, "branch_3x3")
        self.branch_5x5_reduce = conv(self.filters_5x5_reduce, 1, "branch_5x5_reduce")
        self.branch_5x5 = conv(self.filters_5x5, 5, "branch_5x5")
        self.branch_pool = keras.layers.MaxPooling2D(3, strides=1, padding="same",
                                                     dtype=self.dtype_policy, name="branch_pool")
        self.branch_pool_proj = conv(self.filters_pool_proj, 1, "branch_pool_proj")

    def build(self, input_shape):
        if len(input_shape) != 4:
            raise ValueError(
                "InceptionBlock expects inputs of shape (batch_size, height, width, channels). "
                f"Received: input_shape={tuple(input_shape)}"
            )
        input_shape = tuple(input_shape)
        self.branch_1x1.build(input_shape)
        self.branch_3x3_reduce.build(input_shape)
        self.branch_3x3.build((*input_shape[:-1], self.filters_3x3_reduce))
        self.branch_5x5_reduce.build(input_shape)
        self.branch_5x5.build((*input_shape[:-1], self.filters_5x5_reduce))
        self.branch_pool.build(input_shape)
        self.branch_pool_proj.build(input_shape)

    def call(self, inputs):
        return ops.concatenate(
            [
                self.branch_1x1(inputs),
                self.branch_3x3(self.branch_3x3_reduce(inputs)),
                self.branch_5x5(self.branch_5x5_reduce(inputs)),
                self.branch_pool_proj(self.branch_pool(inputs)),
            ],
            axis=-1,
        )

    def compute_output_shape(self, input_shape):
        channels = self.filters_1x1 + self.filters_3x3 + self.filters_5x5 + self.filters_pool_proj
        return (*input_shape[:-1], channels)

    def get_config(self):
        config = super().get_config()
        config.update({name: getattr(self, name) for name in _FILTER_ARGUMENTS})
        config["activation"] = self.activation
        return config
