import keras
import numpy as np
import pytest

import kerasext as kx
from tests import conformance

pytestmark = pytest.mark.cross_backend


def conv1d_same(x, kernel, bias):
    """NumPy 'same' 1D convolution (TF pads (k-1)//2 left, k//2 right)."""
    width = kernel.shape[0]
    padded = np.pad(x, ((0, 0), ((width - 1) // 2, width // 2), (0, 0)))
    steps = x.shape[1]
    out = np.stack(
        [np.einsum("bkc,kcf->bf", padded[:, t : t + width], kernel) for t in range(steps)], axis=1
    )
    return out + bias


def test_conformance(rng):
    x = rng.normal(size=(4, 9, 5)).astype("float32")
    conformance.run_layer_test(
        kx.layers.ParallelConv1D,
        {"filters": 3, "kernel_sizes": (2, 3)},
        x,
        expected_output_shape=(4, 9, 6),
    )


def test_matches_numpy_convolutions(rng):
    x = rng.normal(size=(2, 7, 4)).astype("float32")
    layer = kx.layers.ParallelConv1D(filters=3, kernel_sizes=(2, 3, 4), activation="relu")
    out = keras.ops.convert_to_numpy(layer(x))
    expected = np.concatenate(
        [
            np.maximum(conv1d_same(x, *conv.get_weights()), 0.0)
            for conv in layer.convolutions
        ],
        axis=-1,
    )
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)


def test_padding_amount_does_not_change_features_at_tokens(rng):
    embedding = keras.layers.Embedding(20, 6, mask_zero=True)
    layer = kx.layers.ParallelConv1D(filters=4, kernel_sizes=(3, 5))
    short = np.array([[3, 7, 9, 11, 0, 0]])
    long = np.array([[3, 7, 9, 11, 0, 0, 0, 0, 0, 0]])

    def features(tokens):
        x = embedding(tokens)
        return keras.ops.convert_to_numpy(layer(x, mask=embedding.compute_mask(tokens)))

    np.testing.assert_allclose(features(short)[:, :4], features(long)[:, :4], atol=1e-6)
    # Without the mask the pad embedding leaks into the last windows.
    unmasked = keras.ops.convert_to_numpy(layer(keras.ops.convert_to_numpy(embedding(short))))
    assert not np.allclose(unmasked[:, :4], features(short)[:, :4], atol=1e-6)


def test_mask_is_propagated():
    tokens = keras.Input((6,), dtype="int32")
    x = keras.layers.Embedding(20, 4, mask_zero=True)(tokens)
    y = kx.layers.ParallelConv1D(2, (3,))(x)
    pooled = keras.layers.GlobalAveragePooling1D()(y)  # averages over the mask it receives
    model = keras.Model(tokens, [y, pooled])
    features, averaged = (keras.ops.convert_to_numpy(t)
                          for t in model(np.array([[1, 2, 3, 0, 0, 0]])))
    np.testing.assert_allclose(averaged, features[:, :3].mean(1), rtol=1e-5, atol=1e-6)
    assert not np.allclose(averaged, features.mean(1), atol=1e-4)
    assert y._keras_mask is not None


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"filters": 0}, "filters"),
        ({"filters": 4, "kernel_sizes": ()}, "kernel_sizes"),
        ({"filters": 4, "kernel_sizes": (3, -1)}, "kernel_sizes"),
    ],
)
def test_invalid_arguments(kwargs, match):
    with pytest.raises(ValueError, match=f"Invalid `{match}` argument value"):
        kx.layers.ParallelConv1D(**kwargs)


def test_wrong_rank_names_shape():
    with pytest.raises(ValueError, match=r"Received: input_shape=\(2, 5\)"):
        kx.layers.ParallelConv1D(2)(np.zeros((2, 5), "float32"))
