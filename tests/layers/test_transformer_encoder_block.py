import keras
import numpy as np
import pytest

import kerasext as kx
from tests import conformance

pytestmark = pytest.mark.cross_backend


def layer_norm(x, gamma, beta, eps):
    mean = x.mean(-1, keepdims=True)
    var = x.var(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * gamma + beta


def softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def numpy_block(block, x, mask):
    """Vaswani et al. post-norm encoder layer written from the paper's equations."""
    wq, bq, wk, bk, wv, bv, wo, bo = block.attention.get_weights()
    q = np.einsum("btd,dnh->btnh", x, wq) + bq
    k = np.einsum("btd,dnh->btnh", x, wk) + bk
    val = np.einsum("btd,dnh->btnh", x, wv) + bv
    scores = np.einsum("btnh,bsnh->bnts", q, k) / np.sqrt(q.shape[-1])
    scores = np.where(mask[:, None, None, :], scores, -1e9)
    heads = np.einsum("bnts,bsnh->btnh", softmax(scores), val)
    attended = np.einsum("btnh,nhd->btd", heads, wo) + bo
    eps = block.layer_norm_epsilon
    x = layer_norm(x + attended, *block.attention_norm.get_weights(), eps)
    w1, b1 = block.ff_inner.get_weights()
    w2, b2 = block.ff_outer.get_weights()
    ff = np.maximum(x @ w1 + b1, 0.0) @ w2 + b2
    return layer_norm(x + ff, *block.ff_norm.get_weights(), eps)


def test_conformance(rng):
    x = rng.normal(size=(4, 5, 8)).astype("float32")
    conformance.run_layer_test(
        kx.layers.TransformerEncoderBlock,
        {"embed_dim": 8, "num_heads": 2, "ff_dim": 12, "dropout": 0.1},
        x,
        expected_output_shape=(4, 5, 8),
    )


def test_matches_numpy_with_padding_mask(rng):
    x = rng.normal(size=(2, 5, 8)).astype("float32")
    mask = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], dtype=bool)
    block = kx.layers.TransformerEncoderBlock(8, 2, 12, dropout=0.0)
    out = keras.ops.convert_to_numpy(block(x, mask=mask))
    np.testing.assert_allclose(out, numpy_block(block, x.astype("float64"), mask),
                               rtol=1e-4, atol=1e-4)


def test_padded_steps_do_not_affect_real_steps():
    tokens = np.array([[5, 6, 7, 0, 0, 0]])
    other_padding = np.array([[5, 6, 7, 0, 0, 0]])
    embedding = kx.layers.PositionalEmbedding(6, 20, 8)
    block = kx.layers.TransformerEncoderBlock(8, 2, 16, dropout=0.0)
    x = keras.ops.convert_to_numpy(embedding(tokens))
    # Change what sits at the padded steps: real steps must not move.
    noisy = x + np.concatenate([np.zeros((1, 3, 8)), np.full((1, 3, 8), 5.0)], axis=1).astype(
        "float32")
    mask = embedding.compute_mask(other_padding)
    a = keras.ops.convert_to_numpy(block(x, mask=mask))
    b = keras.ops.convert_to_numpy(block(noisy, mask=mask))
    np.testing.assert_allclose(a[:, :3], b[:, :3], atol=1e-5)
    c = keras.ops.convert_to_numpy(block(noisy))
    assert not np.allclose(a[:, :3], c[:, :3], atol=1e-3)


def test_mask_propagates_through_stacked_blocks():
    tokens = keras.Input((6,), dtype="int32")
    x = kx.layers.PositionalEmbedding(6, 20, 8)(tokens)
    x = kx.layers.TransformerEncoderBlock(8, 2, 16)(x)
    x = kx.layers.TransformerEncoderBlock(8, 2, 16)(x)
    assert x._keras_mask is not None


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"embed_dim": 8, "num_heads": 3, "ff_dim": 4}, "num_heads"),
        ({"embed_dim": 8, "num_heads": 2, "ff_dim": 4, "dropout": 1.0}, "dropout"),
        ({"embed_dim": 0, "num_heads": 2, "ff_dim": 4}, "embed_dim"),
    ],
)
def test_invalid_arguments(kwargs, match):
    with pytest.raises(ValueError, match=f"Invalid `{match}` argument value"):
        kx.layers.TransformerEncoderBlock(**kwargs)


def test_wrong_width_names_shape():
    with pytest.raises(ValueError, match=r"Received: input_shape=\(2, 5, 6\)"):
        kx.layers.TransformerEncoderBlock(8, 2, 4)(np.zeros((2, 5, 6), "float32"))
