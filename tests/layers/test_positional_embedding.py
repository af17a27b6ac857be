import math

import keras
import numpy as np
import pytest

import kerasext as kx
from tests import conformance

pytestmark = pytest.mark.cross_backend

TOKENS = np.array([[3, 1, 4, 1, 5, 0, 0], [9, 2, 6, 0, 0, 0, 0]], dtype="int32")


@pytest.mark.parametrize("encoding", ["learned", "sinusoidal"])
def test_conformance(encoding):
    # The encodings share everything but the position table: the learned one
    # gets the config, saving and deepcopy checks only, to save time.
    full = encoding == "sinusoidal"
    conformance.run_layer_test(
        kx.layers.PositionalEmbedding,
        {"sequence_length": 8, "vocab_size": 10, "embed_dim": 6, "position_encoding": encoding},
        TOKENS,
        expected_output_shape=(2, 7, 6),
        run_mixed_precision=full, run_jit=full, run_distributed=full,
    )


def test_learned_is_token_plus_position_vector():
    layer = kx.layers.PositionalEmbedding(8, 10, 6, position_encoding="learned")
    out = keras.ops.convert_to_numpy(layer(TOKENS))
    tokens = layer.token_embedding.get_weights()[0]
    positions = layer.position_embedding.get_weights()[0]
    np.testing.assert_allclose(out, tokens[TOKENS] + positions[None, :7], rtol=1e-6)


def test_sinusoidal_follows_the_paper_formula():
    d = 6
    layer = kx.layers.PositionalEmbedding(8, 10, d, position_encoding="sinusoidal")
    out = keras.ops.convert_to_numpy(layer(TOKENS))
    tokens = layer.token_embedding.get_weights()[0]
    table = np.zeros((7, d))
    for pos in range(7):
        for i in range(d // 2):
            table[pos, 2 * i] = math.sin(pos / 10000 ** (2 * i / d))
            table[pos, 2 * i + 1] = math.cos(pos / 10000 ** (2 * i / d))
    np.testing.assert_allclose(out, tokens[TOKENS] * math.sqrt(d) + table, rtol=1e-5, atol=1e-6)


def test_mask_marks_padding():
    layer = kx.layers.PositionalEmbedding(8, 10, 4)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer.compute_mask(TOKENS)),
                                  TOKENS != 0)
    assert kx.layers.PositionalEmbedding(8, 10, 4, mask_zero=False).compute_mask(TOKENS) is None


def test_too_long_sequence_names_shape():
    with pytest.raises(ValueError, match=r"longer than sequence_length=5.*\(2, 7\)"):
        kx.layers.PositionalEmbedding(5, 10, 4)(TOKENS)


def test_invalid_encoding():
    with pytest.raises(ValueError, match="Invalid `position_encoding` argument value"):
        kx.layers.PositionalEmbedding(5, 10, 4, position_encoding="rotary")
