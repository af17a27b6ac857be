import keras
import numpy as np
import pytest

import kerasext as kx
from tests import conformance

pytestmark = pytest.mark.cross_backend

X = np.random.default_rng(0).normal(size=(4, 6, 6, 2)).astype("float32")


@pytest.mark.parametrize(
    "init_kwargs, expected_shape",
    [
        ({"filters": 3, "kernel_size": (3, 2), "num_convs": 2, "batch_norm": True,
          "batch_norm_momentum": 0.8, "pooling": "avg", "dropout": 0.2, "l2": 1e-3, "seed": 1},
         (4, 3, 3, 3)),
        ({"filters": 2, "padding": "valid", "pooling": None}, (4, 4, 4, 2)),
    ],
    ids=["regularized", "valid-no-pool"],
)
def test_conformance(init_kwargs, expected_shape):
    conformance.run_layer_test(
        kx.layers.ConvBlock, init_kwargs, X, expected_output_shape=expected_shape
    )


def _conv_same_numpy(x, kernel, bias):
    kh, kw = kernel.shape[:2]
    top, left = (kh - 1) // 2, (kw - 1) // 2
    padded = np.pad(x, ((0, 0), (top, kh - 1 - top), (left, kw - 1 - left), (0, 0)))
    out = np.zeros((*x.shape[:3], kernel.shape[-1]), "float64")
    for i in range(x.shape[1]):
        for j in range(x.shape[2]):
            patch = padded[:, i:i + kh, j:j + kw, :]
            out[:, i, j, :] = np.tensordot(patch, kernel, axes=([1, 2, 3], [0, 1, 2]))
    return out + bias


def test_matches_numpy_conv_relu_maxpool():
    block = kx.layers.ConvBlock(3)
    out = keras.ops.convert_to_numpy(block(X))
    kernel, bias = block.convs[0].get_weights()
    conv = np.maximum(_conv_same_numpy(X, kernel, bias), 0.0)
    pooled = conv.reshape(4, 3, 2, 3, 2, 3).max(axis=(2, 4))
    np.testing.assert_allclose(out, pooled, rtol=1e-4, atol=1e-5)


def test_pooling_never_shrinks_to_zero():
    block = kx.layers.ConvBlock(2)
    assert tuple(block(np.zeros((1, 1, 1, 1), "float32")).shape) == (1, 1, 1, 2)


@pytest.mark.parametrize("momentum", [0.9, 0.5])
def test_batch_norm_moving_statistics_follow_the_momentum(momentum):
    kwargs = {} if momentum == 0.9 else {"batch_norm_momentum": momentum}  # 0.9: the default
    block = kx.layers.ConvBlock(3, batch_norm=True, pooling=None, **kwargs)
    block(X)
    (kernel,) = block.convs[0].get_weights()
    block(X, training=True)  # one update from mean 0, variance 1
    h = _conv_same_numpy(X.astype("float64"), kernel, 0.0)
    _, _, mean, var = block.normalizations[0].get_weights()
    np.testing.assert_allclose(mean, (1 - momentum) * h.mean((0, 1, 2)), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(
        var, momentum + (1 - momentum) * h.var((0, 1, 2)), rtol=1e-4, atol=1e-6
    )


def test_rank_error_names_the_shape():
    with pytest.raises(ValueError, match=r"rank 4.*\(2, 5, 3\)"):
        kx.layers.ConvBlock(2)(np.zeros((2, 5, 3), "float32"))


@pytest.mark.parametrize(
    "kwargs, argument",
    [({"filters": 2, "pooling": "median"}, "pooling"), ({"filters": 0}, "filters"),
     ({"filters": 2, "kernel_size": (1, 2, 3)}, "kernel_size"),
     ({"filters": 2, "padding": "causal"}, "padding"), ({"filters": 2, "dropout": 2}, "dropout"),
     ({"filters": 2, "batch_norm_momentum": -0.5}, "batch_norm_momentum")],
)
def test_invalid_arguments(kwargs, argument):
    with pytest.raises(ValueError, match=f"Invalid `{argument}` argument value"):
        kx.layers.ConvBlock(**kwargs)
