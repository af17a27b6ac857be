import keras
import numpy as np
import pytest

import kerasext as kx
from tests import conformance

pytestmark = pytest.mark.cross_backend


def conv2d_same(x, kernel, bias):
    kh, kw = kernel.shape[:2]
    padded = np.pad(x, ((0, 0), ((kh - 1) // 2, kh // 2), ((kw - 1) // 2, kw // 2), (0, 0)))
    _, h, w, _ = x.shape
    out = np.zeros((x.shape[0], h, w, kernel.shape[-1]))
    for i in range(h):
        for j in range(w):
            out[:, i, j] = np.einsum("bhwc,hwcf->bf", padded[:, i : i + kh, j : j + kw], kernel)
    return np.maximum(out + bias, 0.0)


def maxpool_3x3_same(x):
    padded = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)), constant_values=-np.inf)
    _, h, w, _ = x.shape
    out = np.zeros_like(x)
    for i in range(h):
        for j in range(w):
            out[:, i, j] = padded[:, i : i + 3, j : j + 3].max(axis=(1, 2))
    return out


ARGS = {
    "filters_1x1": 2,
    "filters_3x3_reduce": 3,
    "filters_3x3": 4,
    "filters_5x5_reduce": 2,
    "filters_5x5": 3,
    "filters_pool_proj": 2,
}


def test_conformance(rng):
    x = rng.normal(size=(2, 5, 5, 3)).astype("float32")
    conformance.run_layer_test(kx.layers.InceptionBlock, ARGS, x,
                               expected_output_shape=(2, 5, 5, 11))


def test_matches_figure_2b_in_numpy(rng):
    x = rng.normal(size=(2, 6, 5, 3)).astype("float32")
    block = kx.layers.InceptionBlock(**ARGS)
    out = keras.ops.convert_to_numpy(block(x))

    def conv(layer, inputs):
        return conv2d_same(inputs, *layer.get_weights())

    expected = np.concatenate(
        [
            conv(block.branch_1x1, x),
            conv(block.branch_3x3, conv(block.branch_3x3_reduce, x)),
            conv(block.branch_5x5, conv(block.branch_5x5_reduce, x)),
            conv(block.branch_pool_proj, maxpool_3x3_same(x)),
        ],
        axis=-1,
    )
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-5)


def test_invalid_filters():
    with pytest.raises(ValueError, match="Invalid `filters_5x5` argument value"):
        kx.layers.InceptionBlock(1, 1, 1, 1, 0, 1)


def test_wrong_rank_names_shape():
    with pytest.raises(ValueError, match=r"Received: input_shape=\(2, 5, 3\)"):
        kx.layers.InceptionBlock(1, 1, 1, 1, 1, 1)(np.zeros((2, 5, 3), "float32"))
