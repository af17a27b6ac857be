"""ConvBlock: stacked Conv2D, optional batch normalization, activation, pooling, dropout."""

import keras

from kerasext import _validation as v
from kerasext.api_export import kerasext_export
from kerasext.layers._regularizers import l1_l2

POOLING = ("max", "avg", None)
PADDING = ("same", "valid")


def _pair(name, value):
    values = v.as_positive_int_tuple(name, value)
    if len(values) not in (1, 2):
        raise ValueError(
            f"Invalid `{name}` argument value. Expected an integer or a pair of integers. "
            f"Received: {name}={value!r}"
        )
    return values * 2 if len(values) == 1 else values


@kerasext_export
class ConvBlock(keras.layers.Layer):
    """A convolutional block: (`Conv2D` -> `BatchNormalization` -> activation) x n, pool, dropout.

    Convolutions find local patterns (edges, then textures); pooling makes the
    block tolerant to small shifts and halves the resolution. Pooling uses
    `"same"` padding, so a block never shrinks a spatial axis to zero: a stack
    of blocks works on inputs as small as 1x1 (e.g. scikit-learn's 8x8 digits
    through many blocks). With `batch_norm=True` the convolutions have no
    bias: the normalization's offset takes its place.

    Args:
        filters: positive integer, number of output channels of each
            convolution.
        kernel_size: integer or pair of integers, convolution window.
            Defaults to `3`.
        num_convs: number of convolutions before the pooling. Defaults to `1`.
        padding: `"same"` or `"valid"` padding of the convolutions.
            Defaults to `"same"`.
        activation: activation after each convolution (and its
            normalization). Defaults to `"relu"`.
        batch_norm: whether to normalize each convolution's output.
            Defaults to `False`.
        batch_norm_momentum: momentum of the normalization's moving mean and
            variance, in [0, 1). Defaults to `0.9` (PyTorch's default; Keras'
            0.99 lags behind the weights on small datasets: a ConvNet on
            scikit-learn's digits then evaluates at chance level for its first
            epochs).
        pooling: `"max"`, `"avg"` or `None` (no pooling). Defaults to `"max"`.
        pool_size: integer or pair of integers, pooling window and stride.
            Defaults to `2`.
        dropout: dropout rate in [0, 1) applied last. Defaults to `0.0`.
        l1: L1 penalty factor on the kernels. Defaults to `0.0`.
        l2: L2 penalty factor on the kernels. Defaults to `0.0`.
        seed: integer seed of the dropout. Defaults to `None`.
        **kwargs: base layer keyword arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: a tensor of shape `(batch_size, height, width, channels)`
            (channels last).
        training: whether dropout and batch normalization run in training
            mode.

    Returns:
        A tensor of shape `(batch_size, new_height, new_width, filters)`.

    Example:

    ```python
    import numpy as np
    block = kx.layers.ConvBlock(16, num_convs=2, batch_norm=True, pooling="max")
    y = block(np.random.rand(2, 8, 8, 1).astype("float32"))
    assert tuple(y.shape) == (2, 4, 4, 16)
    ```

    Reference:
        - [LeCun et al., 1998](http://yann.lecun.com/exdb/publis/pdf/lecun-98.pdf)
    """

    def __init__(
        self,
        filters,
        kernel_size=3,
        num_convs=1,
        padding="same",
        activation="relu",
        batch_norm=False,
        batch_norm_momentum=0.9,
        pooling="max",
        pool_size=2,
        dropout=0.0,
        l1=0.0,
        l2=0.0,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        v.check_positive_int("filters", filters)
        kernel = _pair("kernel_size", kernel_size)
        v.check_positive_int("num_convs", num_convs)
        v.check_choice("padding", padding, PADDING)
        v.check_choice("pooling", pooling, POOLING)
        pool = _pair("pool_size", pool_size)
        v.check_rate("dropout", dropout)
        v.check_rate("batch_norm_momentum", batch_norm_momentum)
        v.check_non_negative("l1", l1)
        v.check_non_negative("l2", l2)
        self.filters = filters
        self.kernel_size = kernel_size
        self.num_convs = num_convs
        self.padding = padding
        self.activation = keras.activations.get(activation)
        self.batch_norm = batch_norm
        self.batch_norm_momentum = batch_norm_momentum
        self.pooling = pooling
        self.pool_size = pool_size
        self.dropout = dropout
        self.l1 = l1
        self.l2 = l2
        self.seed = seed

        self.convs = []
        self.normalizations = []
        self.activations = []
        for index in range(num_convs):
            self.convs.append(
                keras.layers.Conv2D(
                    filters,
                    kernel,
                    padding=padding,
                    use_bias=not batch_norm,
                    kernel_regularizer=l1_l2(l1, l2),
                    dtype=self.dtype_policy,
                    name=f"conv_{index}",
                )
            )
            if batch_norm:
                self.normalizations.append(
                    keras.layers.BatchNormalization(
                        momentum=batch_norm_momentum,
                        dtype=self.dtype_policy,
                        name=f"batch_norm_{index}",
                    )
                )
            self.activations.append(
                keras.layers.Activation(
                    self.activation, dtype=self.dtype_policy, name=f"activation_{index}"
                )
            )
        pooling_cls = {"max": keras.layers.MaxPooling2D, "avg": keras.layers.AveragePooling2D}
        self.pool = (
            pooling_cls[pooling](pool, padding="same", dtype=self.dtype_policy, name="pool")
            if pooling
            else None
        )
        self.dropout_layer = (
            keras.layers.Dropout(dropout, seed=seed, dtype=self.dtype_policy, name="dropout")
            if dropout
            else None
        )

    def build(self, input_shape):
        if len(input_shape) != 4:
            raise ValueError(
                "ConvBlock expects inputs of rank 4 (batch_size, height, width, channels). "
                f"Received: input_shape={tuple(input_shape)}"
            )
        shape = tuple(input_shape)
        for index, conv in enumerate(self.convs):
            conv.build(shape)
            shape = conv.compute_output_shape(shape)
            if self.normalizations:
                self.normalizations[index].build(shape)
            self.activations[index].build(shape)
        if self.pool is not None:
            self.pool.build(shape)
            shape = self.pool.compute_output_shape(shape)
        if self.dropout_layer is not None:
            self.dropout_layer.build(shape)

    def call(self, inputs, training=None):
        x = inputs
        for index, conv in enumerate(self.convs):
            x = conv(x)
            if self.normalizations:
                x = self.normalizations[index](x, training=training)
            x = self.activations[index](x)
        if self.pool is not None:
            x = self.pool(x)
        if self.dropout_layer is not None:
            x = self.dropout_layer(x, training=training)
        return x

    def compute_output_shape(self, input_shape):
        shape = tuple(input_shape)
        for conv in self.convs:
            shape = conv.compute_output_shape(shape)
        if self.pool is not None:
            shape = self.pool.compute_output_shape(shape)
        return shape

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "num_convs": self.num_convs,
            "padding": self.padding,
            "activation": keras.activations.serialize(self.activation),
            "batch_norm": self.batch_norm,
            "batch_norm_momentum": self.batch_norm_momentum,
            "pooling": self.pooling,
            "pool_size": self.pool_size,
            "dropout": self.dropout,
            "l1": self.l1,
            "l2": self.l2,
            "seed": self.seed,
        }
