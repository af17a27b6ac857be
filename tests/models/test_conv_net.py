import keras
import numpy as np
import pytest

import kerasext as kx
from tests import conformance
from tests.models._data import TENSORFLOW_ONLY_LEARNING, digits_split

pytestmark = pytest.mark.cross_backend

X = np.random.default_rng(0).normal(size=(4, 6, 6, 1)).astype("float32")


@pytest.mark.parametrize(
    "init_kwargs, expected_shape",
    [
        ({"num_classes": 3, "filters": (4,), "dense_units": (6,), "dropout": 0.1,
          "batch_norm": True, "pooling": "avg", "l2": 1e-3}, (4, 3)),
    ],
    ids=["classifier-regularized"],
)
def test_conformance(init_kwargs, expected_shape):
    conformance.run_model_test(
        kx.models.ConvNet, init_kwargs, X, expected_output_shape=expected_shape
    )


def test_defaults_are_the_tutorial_cnn():
    model = kx.models.ConvNet(10)
    model.build((None, 28, 28, 1))
    conv_0, conv_1 = (block.convs[0] for block in model.conv_blocks)
    assert (conv_0.filters, conv_1.filters) == (32, 64)
    assert conv_0.kernel_size == (3, 3)
    assert all(block.pooling == "max" for block in model.conv_blocks)
    assert [block.units for block in model.dense_blocks] == [128]
    assert model.head.units == 10
    # conv 3x3x1x32 + 32, conv 3x3x32x64 + 64, dense (7*7*64)x128 + 128, dense 128x10 + 10
    expected = (9 * 32 + 32) + (9 * 32 * 64 + 64) + (7 * 7 * 64 * 128 + 128) + (128 * 10 + 10)
    assert model.count_params() == expected


def test_any_input_size_and_grayscale_without_channel_axis():
    model = kx.models.ConvNet(4, filters=(2, 2, 2))
    assert tuple(model(np.zeros((2, 3, 5), "float32")).shape) == (2, 4)


def test_integer_images_are_cast_as_a_keras_functional_cnn_casts_them():
    images = np.random.default_rng(1).integers(0, 256, size=(6, 6, 6, 1)).astype("uint8")
    labels = np.arange(6) % 3
    model = kx.models.ConvNet(3, filters=(2,), dense_units=())
    # Keras' own CNN (a functional model on a float32 `keras.Input`) casts what it is given.
    inputs = keras.Input((6, 6, 1))
    functional = keras.Model(inputs, model(inputs))
    expected = keras.ops.convert_to_numpy(functional(images.astype("float32")))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(functional(images)), expected,
                               rtol=1e-6)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(model(images)), expected, rtol=1e-6)
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    history = model.fit(images, labels, epochs=1, batch_size=3, verbose=0)
    assert np.isfinite(history.history["loss"][0])


def test_summary_lists_blocks_with_shapes():
    model = kx.models.ConvNet(10)
    model.build((None, 8, 8, 1))
    lines = []
    model.summary(print_fn=lambda line, **_: lines.append(line))
    text = "\n".join(lines)
    assert "conv_block_1" in text and "(None, 2, 2, 64)" in text and "53,002" in text


@pytest.mark.parametrize(
    "kwargs, argument",
    [({"num_classes": 1}, "num_classes"), ({"num_classes": 3, "pooling": "min"}, "pooling"),
     ({"num_classes": 3, "dropout": -0.2}, "dropout"), ({"num_classes": 3, "filters": (0,)},
                                                         "filters"),
     # A ConvNet without a convolution is a dense network: refused, not built silently.
     ({"num_classes": 3, "filters": ()}, "filters")],
)
def test_invalid_arguments(kwargs, argument):
    with pytest.raises(ValueError, match=f"Invalid `{argument}` argument value"):
        kx.models.ConvNet(**kwargs)


@pytest.mark.slow
@TENSORFLOW_ONLY_LEARNING
def test_digits_validation_accuracy():
    x_train, x_test, y_train, y_test = digits_split()
    model = kx.models.ConvNet(10)
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    history = model.fit(x_train[..., None], y_train, validation_data=(x_test[..., None], y_test),
                        epochs=8, batch_size=32, verbose=0)
    assert history.history["val_accuracy"][-1] >= 0.95
