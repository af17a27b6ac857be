"""DenseBlock: Dense, optional batch normalization, activation, dropout."""

import keras

from kerasext import _validation as v
from kerasext.api_export import kerasext_export
from kerasext.layers._regularizers import l1_l2


@kerasext_export
class DenseBlock(keras.layers.Layer):
    """A fully connected block: `Dense` -> `BatchNormalization` -> activation -> `Dropout`.

    The building block of a multilayer perceptron, with the regularizers the
    tutorial recommends against overfitting (L1 / L2 weight penalties, batch
    normalization and dropout) as arguments. With `batch_norm=True` the dense
    layer has no bias: the normalization's offset takes its place.

    Args:
        units: positive integer, dimensionality of the output.
        activation: activation applied after the (normalized) dense layer; any
            name `keras.activations.get` accepts, or `None` for linear.
            Defaults to `"relu"`.
        batch_norm: whether to normalize the dense outputs before the
            activation. Defaults to `False`.
        batch_norm_momentum: momentum of the normalization's moving mean and
            variance, in [0, 1). Defaults to `0.9` (PyTorch's default; Keras'
            0.99 lags behind the weights on small datasets: a ConvNet on
            scikit-learn's digits then evaluates at chance level for its first
            epochs).
        dropout: dropout rate in [0, 1) applied last. Defaults to `0.0`.
        l1: L1 penalty factor on the kernel. Defaults to `0.0`.
        l2: L2 penalty factor on the kernel. Defaults to `0.0`.
        kernel_initializer: initializer of the kernel. Defaults to
            `"glorot_uniform"`.
        seed: integer seed of the dropout. Defaults to `None`.
        **kwargs: base layer keyword arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: a tensor of shape `(batch_size, ..., features)`.
        training: whether dropout and batch normalization run in training
            mode.

    Returns:
        A tensor of shape `(batch_size, ..., units)`.

    Example:

    ```python
    import numpy as np
    block = kx.layers.DenseBlock(8, batch_norm=True, dropout=0.2, l2=1e-4)
    y = block(np.random.rand(4, 3).astype("float32"))
    assert tuple(y.shape) == (4, 8)
    ```

    Reference:
        - [Ioffe & Szegedy, 2015](https://arxiv.org/abs/1502.03167) (batch normalization)
        - [Srivastava et al., 2014](https://jmlr.org/papers/v15/srivastava14a.html) (dropout)
    """

    def __init__(
        self,
        units,
        activation="relu",
        batch_norm=False,
        batch_norm_momentum=0.9,
        dropout=0.0,
        l1=0.0,
        l2=0.0,
        kernel_initializer="glorot_uniform",
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        v.check_positive_int("units", units)
        v.check_rate("dropout", dropout)
        v.check_rate("batch_norm_momentum", batch_norm_momentum)
        v.check_non_negative("l1", l1)
        v.check_non_negative("l2", l2)
        self.units = units
        self.activation = keras.activations.get(activation)
        self.batch_norm = batch_norm
        self.batch_norm_momentum = batch_norm_momentum
        self.dropout = dropout
        self.l1 = l1
        self.l2 = l2
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.seed = seed
        self.supports_masking = True

        self.dense = keras.layers.Dense(
            units,
            use_bias=not batch_norm,
            kernel_initializer=self.kernel_initializer,
            kernel_regularizer=l1_l2(l1, l2),
            dtype=self.dtype_policy,
            name="dense",
        )
        self.normalization = (
            keras.layers.BatchNormalization(
                momentum=batch_norm_momentum, dtype=self.dtype_policy, name="batch_norm"
            )
            if batch_norm
            else None
        )
        self.activation_layer = keras.layers.Activation(
            self.activation, dtype=self.dtype_policy, name="activation"
        )
        self.dropout_layer = (
            keras.layers.Dropout(dropout, seed=seed, dtype=self.dtype_policy, name="dropout")
            if dropout
            else None
        )

    def build(self, input_shape):
        self.dense.build(input_shape)
        output_shape = self.dense.compute_output_shape(input_shape)
        if self.normalization is not None:
            self.normalization.build(output_shape)
        self.activation_layer.build(output_shape)
        if self.dropout_layer is not None:
            self.dropout_layer.build(output_shape)

    def call(self, inputs, training=None):
        x = self.dense(inputs)
        if self.normalization is not None:
            x = self.normalization(x, training=training)
        x = self.activation_layer(x)
        if self.dropout_layer is not None:
            x = self.dropout_layer(x, training=training)
        return x

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "activation": keras.activations.serialize(self.activation),
            "batch_norm": self.batch_norm,
            "batch_norm_momentum": self.batch_norm_momentum,
            "dropout": self.dropout,
            "l1": self.l1,
            "l2": self.l2,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "seed": self.seed,
        }
