"""Pieces shared by the seed-architecture models."""

import keras
import numpy as np


def output_dtype(policy):
    """The dtype of a model's output layer: float32 under a mixed policy.

    Softmax, sigmoid and the loss on top of them are fragile in float16, and
    Keras' loss scaling expects float32 predictions.
    """
    if policy.compute_dtype != policy.variable_dtype:
        return "float32"
    return policy


def classification_head(num_classes, policy, *, name="head", kernel_regularizer=None):
    """`Dense(num_classes, "softmax")`, or one linear unit when `num_classes` is None."""
    if num_classes is None:
        units, activation = 1, None
    else:
        units, activation = num_classes, "softmax"
    return keras.layers.Dense(
        units,
        activation=activation,
        kernel_regularizer=kernel_regularizer,
        dtype=output_dtype(policy),
        name=name,
    )


def check_input_rank(model, input_shape, rank, layout):
    if len(input_shape) != rank:
        raise ValueError(
            f"{type(model).__name__} expects inputs of rank {rank} {layout}. "
            f"Received: input_shape={tuple(input_shape)}"
        )


class OutputDTypeModel(keras.Model):
    """Base of kerasext's models: symbolic outputs carry the output layer's dtype.

    Keras gives a model that overrides `compute_output_shape` its compute
    dtype symbolically (float16 under `mixed_float16`), while every kerasext
    model's output layer (`self.head`) computes in float32 under a mixed
    policy: a functional model built on it would declare float16 outputs and
    get float32 ones. The symbolic dtype is taken from the output layer
    instead, so that symbolic and eager outputs agree on every backend.
    """

    def _output_layer(self):
        return self.head

    def compute_output_spec(self, *args, **kwargs):
        spec = super().compute_output_spec(*args, **kwargs)
        dtype = self._output_layer().compute_dtype
        return keras.tree.map_structure(lambda t: keras.KerasTensor(t.shape, dtype=dtype), spec)


class LinearModel(OutputDTypeModel):
    """Base of LinearRegression and LogisticRegression: one Dense layer, `self.linear`.

    Subclasses create `self.linear` in `__init__` and read the fitted weights
    through `_fitted()` in their scikit-learn style `coef_` / `intercept_`.
    """

    def _output_layer(self):
        return self.linear

    def build(self, input_shape):
        if self.built:  # built already (e.g. keras-tuner's Hyperband calls build_from_config
            return  # on the model its HyperModel returned built): nothing to create again
        self.linear.build(input_shape)
        self.built = True

    def call(self, inputs):
        return self.linear(inputs)

    def _fitted(self):
        """The (kernel, bias) as NumPy arrays; an error before the model is built."""
        if not self.linear.built:
            raise ValueError(
                f"{type(self).__name__} has no coefficients yet: call it on data, "
                "`build()` or `fit()` it first."
            )
        return (
            np.asarray(keras.ops.convert_to_numpy(self.linear.kernel)),
            np.asarray(keras.ops.convert_to_numpy(self.linear.bias)),
        )
