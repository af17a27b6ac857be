import keras
import numpy as np
import pytest

import kerasext as kx
from tests import conformance

pytestmark = pytest.mark.cross_backend

X = np.random.default_rng(0).normal(size=(4, 5, 3)).astype("float32")


@pytest.mark.parametrize(
    "init_kwargs, expected_shape",
    [
        ({"units": 4}, (4, 4)),
        ({"units": [3, 2], "cell": "lstm", "bidirectional": True, "return_sequences": True,
          "dropout": 0.2, "l2": 1e-3, "seed": 2}, (4, 5, 4)),
    ],
    ids=["simple", "lstm-bidirectional-stacked-sequences"],
)
def test_conformance(init_kwargs, expected_shape):
    conformance.run_layer_test(
        kx.layers.RecurrentBlock, init_kwargs, X, expected_output_shape=expected_shape
    )


def test_simple_rnn_matches_numpy_recurrence():
    block = kx.layers.RecurrentBlock(4)
    out = keras.ops.convert_to_numpy(block(X))
    kernel, recurrent, bias = block.recurrent_layers[0].get_weights()
    h = np.zeros((4, 4))
    for t in range(X.shape[1]):
        h = np.tanh(X[:, t] @ kernel + h @ recurrent + bias)
    np.testing.assert_allclose(out, h, rtol=1e-5, atol=1e-5)


def test_mask_skips_padded_steps_and_is_propagated():
    x = X.copy()
    x[:2, 3:] = 0.0  # two padded sequences of length 3
    inputs = keras.Input((5, 3))
    masked = keras.layers.Masking(0.0)(inputs)
    sequences = kx.layers.RecurrentBlock((4, 2), cell="gru", return_sequences=True)
    last = kx.layers.RecurrentBlock(4, cell="lstm")
    model = keras.Model(inputs, [sequences(masked), last(masked)])
    seq_out, last_out = (keras.ops.convert_to_numpy(t) for t in model(x))
    # masked steps repeat the last valid output
    np.testing.assert_allclose(seq_out[:2, 3], seq_out[:2, 2], rtol=1e-6)
    truncated = keras.ops.convert_to_numpy(last(x[:2, :3]))
    np.testing.assert_allclose(last_out[:2], truncated, rtol=1e-5, atol=1e-6)
    assert sequences.compute_mask(x, np.ones((4, 5), bool)) is not None
    assert last.compute_mask(x, np.ones((4, 5), bool)) is None


@pytest.mark.parametrize(
    "kwargs, argument",
    [({"units": 4, "cell": "transformer"}, "cell"), ({"units": ()}, "units"),
     ({"units": (4, -1)}, "units"), ({"units": 4, "dropout": -0.5}, "dropout"),
     ({"units": 4, "merge_mode": "max"}, "merge_mode")],
)
def test_invalid_arguments(kwargs, argument):
    with pytest.raises(ValueError, match=f"Invalid `{argument}` argument value"):
        kx.layers.RecurrentBlock(**kwargs)


def test_rank_error_names_the_shape():
    with pytest.raises(ValueError, match=r"rank 3.*\(4, 5\)"):
        kx.layers.RecurrentBlock(2)(np.zeros((4, 5), "float32"))
