"""ConvNet: ConvBlocks, then DenseBlocks, then a softmax (or regression) head."""

import keras

from kerasext import _validation as v
from kerasext.api_export import kerasext_export
from kerasext.layers._regularizers import l1_l2
from kerasext.layers.conv_block import POOLING, ConvBlock
from kerasext.layers.dense_block import DenseBlock
from kerasext.models._common import KerasextModel, classification_head


@kerasext_export
class ConvNet(KerasextModel):
    """A convolutional classifier: `ConvBlock`s, `Flatten`, `DenseBlock`s, softmax.

    With its defaults this is the tutorial's CNN: Conv2D(32, 3) + ReLU + max
    pooling, Conv2D(64, 3) + ReLU + max pooling, a 128-unit ReLU layer and a
    softmax over `num_classes`. Convolutions use `"same"` padding, so it
    works on images of any size, down to scikit-learn's 8x8 digits. Inputs are
    channels-last `(batch_size, height, width, channels)`; a grayscale batch
    `(batch_size, height, width)` gets its channel axis added. Inputs of any
    numeric dtype (e.g. `uint8` images) are cast to the compute dtype, as a
    functional Keras model casts them to its `keras.Input` dtype.

    Args:
        num_classes: number of classes (integer >= 2, softmax output), or
            `None` for a regression head (one linear unit).
        filters: number of filters of each convolutional block (one block per
            entry; at least one). Defaults to `(32, 64)`.
        kernel_size: convolution window, integer or pair. Defaults to `3`.
        dense_units: units of each hidden dense block (may be empty).
            Defaults to `(128,)`.
        dropout: dropout rate in [0, 1) at the end of every convolutional and
            dense block. Defaults to `0.0`.
        batch_norm: whether every convolution and hidden dense layer is
            batch-normalized. Defaults to `False`.
        pooling: `"max"`, `"avg"` or `None`, pooling of each convolutional
            block. Defaults to `"max"`.
        l1: L1 penalty factor on every kernel. Defaults to `0.0`.
        l2: L2 penalty factor on every kernel. Defaults to `0.0`.
        **kwargs: base model keyword arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: images of shape `(batch_size, height, width, channels)` or
            `(batch_size, height, width)`.
        training: whether dropout and batch normalization run in training
            mode.

    Returns:
        Float32 class probabilities of shape `(batch_size, num_classes)`, or
        predictions of shape `(batch_size, 1)` when `num_classes` is None.

    Example:

    ```python
    import numpy as np
    model = kx.models.ConvNet(10, filters=(8,), dense_units=(16,), dropout=0.1)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    x = np.random.rand(16, 8, 8, 1).astype("float32")
    model.fit(x, np.arange(16) % 10, epochs=1, verbose=0)
    assert model.predict(x, verbose=0).shape == (16, 10)
    model.summary()
    ```

    Reference:
        - [LeCun et al., 1998](http://yann.lecun.com/exdb/publis/pdf/lecun-98.pdf)
    """

    _input_rank, _input_layout = 4, "(batch_size, height, width, channels)"
    _image_inputs_accepted = True

    def __init__(
        self,
        num_classes,
        filters=(32, 64),
        kernel_size=3,
        dense_units=(128,),
        dropout=0.0,
        batch_norm=False,
        pooling="max",
        l1=0.0,
        l2=0.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        v.check_num_classes(num_classes)
        conv_filters = v.as_positive_int_tuple("filters", filters)
        hidden_units = v.as_positive_int_tuple("dense_units", dense_units, allow_empty=True)
        v.check_rate("dropout", dropout)
        v.check_choice("pooling", pooling, POOLING)
        v.check_non_negative("l1", l1)
        v.check_non_negative("l2", l2)
        self.num_classes = num_classes
        self.filters = filters
        self.kernel_size = kernel_size
        self.dense_units = dense_units
        self.dropout = dropout
        self.batch_norm = batch_norm
        self.pooling = pooling
        self.l1 = l1
        self.l2 = l2

        self.conv_blocks = [
            ConvBlock(
                size,
                kernel_size=kernel_size,
                batch_norm=batch_norm,
                pooling=pooling,
                dropout=dropout,
                l1=l1,
                l2=l2,
                dtype=self.dtype_policy,
                name=f"conv_block_{index}",
            )
            for index, size in enumerate(conv_filters)
        ]
        self.flatten = keras.layers.Flatten(dtype=self.dtype_policy, name="flatten")
        self.dense_blocks = [
            DenseBlock(
                size,
                batch_norm=batch_norm,
                dropout=dropout,
                l1=l1,
                l2=l2,
                dtype=self.dtype_policy,
                name=f"dense_block_{index}",
            )
            for index, size in enumerate(hidden_units)
        ]
        self.head = classification_head(
            num_classes, self.dtype_policy, kernel_regularizer=l1_l2(l1, l2)
        )

    def _build_layers(self, input_shape):
        shape = input_shape
        for block in self.conv_blocks:
            block.build(shape)
            shape = block.compute_output_shape(shape)
        self.flatten.build(shape)
        shape = self.flatten.compute_output_shape(shape)
        for block in self.dense_blocks:
            block.build(shape)
            shape = block.compute_output_shape(shape)
        self.head.build(shape)

    def call(self, inputs, training=None):
        x = self._image_inputs(inputs)
        for block in self.conv_blocks:
            x = block(x, training=training)
        x = self.flatten(x)
        for block in self.dense_blocks:
            x = block(x, training=training)
        return self.head(x)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], 1 if self.num_classes is None else self.num_classes)

    def get_config(self):
        return {
            **super().get_config(),
            "num_classes": self.num_classes,
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "dense_units": self.dense_units,
            "dropout": self.dropout,
            "batch_norm": self.batch_norm,
            "pooling": self.pooling,
            "l1": self.l1,
            "l2": self.l2,
        }
