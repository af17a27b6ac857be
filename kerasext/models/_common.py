"""Pieces shared by the kerasext models, and their base class `KerasextModel`."""

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


class KerasextModel(keras.Model):
    """Base of every kerasext model: what each of them needs, written once.

    - `build(input_shape)` returns at once on a built model, then checks and
      standardizes the shape (`_standardize_input_shape`) and hands it to
      `_build_layers`, which every model implements and which builds each
      sublayer explicitly. A built model is built again when keras-tuner's
      Hyperband calls `build_from_config` on the model its HyperModel
      returned built: nothing is created twice.
    - Images: `_image_rank = True` accepts `(batch, height, width, channels)`
      and grayscale `(batch, height, width)`, which `_build_layers` receives
      with a channel axis of 1 and `call` turns into one (`_image_inputs`).
    - Symbolic outputs carry the output layer's dtype: Keras gives a model
      that overrides `compute_output_shape` its compute dtype symbolically
      (float16 under `mixed_float16`), while every kerasext model's output
      layer (`self.head`) computes in float32 under a mixed policy: a
      functional model built on it would declare float16 outputs and get
      float32 ones. The symbolic dtype is taken from the output layer
      instead, so that symbolic and eager outputs agree on every backend.
    """

    #: The rank of the inputs with their batch axis, and their layout in words, for the
    #: error on another rank; None: `_standardize_input_shape` checks nothing.
    _input_rank = None
    _input_layout = ""
    #: Images: rank-3 inputs are grayscale images without their channel axis.
    _image_inputs_accepted = False

    def build(self, input_shape):
        if self.built:
            return
        self._build_layers(self._standardize_input_shape(input_shape))
        self.built = True

    def _build_layers(self, input_shape):
        raise NotImplementedError(f"{type(self).__name__} must implement `_build_layers`.")

    def _standardize_input_shape(self, input_shape):
        input_shape = tuple(input_shape)
        if self._image_inputs_accepted and len(input_shape) == 3:
            return (*input_shape, 1)
        if self._input_rank is not None:
            check_input_rank(self, input_shape, self._input_rank, self._input_layout)
        return input_shape

    def _image_inputs(self, images):
        """Grayscale images get their channel axis; integer images (uint8) become floats."""
        if keras.backend.standardize_dtype(images.dtype) != self.compute_dtype:
            # Convolutions need floats (TF and torch refuse integers).
            images = keras.ops.cast(images, self.compute_dtype)
        if len(images.shape) == 3:
            images = keras.ops.expand_dims(images, -1)
        return images

    def _output_layer(self):
        return self.head

    def compute_output_spec(self, *args, **kwargs):
        spec = super().compute_output_spec(*args, **kwargs)
        dtype = self._output_layer().compute_dtype
        return keras.tree.map_structure(lambda t: keras.KerasTensor(t.shape, dtype=dtype), spec)


class LinearModel(KerasextModel):
    """Base of LinearRegression and LogisticRegression: one Dense layer, `self.linear`.

    Subclasses create `self.linear` in `__init__` and read the fitted weights
    through `_fitted()` in their scikit-learn style `coef_` / `intercept_`.
    """

    def _output_layer(self):
        return self.linear

    def _build_layers(self, input_shape):
        self.linear.build(input_shape)

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
