import keras
import numpy as np
import pytest

import kerasext as kx
from tests import conformance
from tests.models._data import TENSORFLOW_ONLY_LEARNING, adding_problem, digits_split

pytestmark = pytest.mark.cross_backend

X = np.random.default_rng(0).normal(size=(4, 5, 3)).astype("float32")


@pytest.mark.parametrize(
    "init_kwargs, expected_shape",
    [
        # Bidirectional stacked LSTMs go through the harness in test_recurrent_block.py.
        ({"num_classes": None, "units": [4], "cell": "gru", "dropout": 0.1,
          "return_sequences": True, "l2": 1e-3}, (4, 5, 1)),
    ],
    ids=["gru-sequence-regression"],
)
def test_conformance(init_kwargs, expected_shape):
    conformance.run_model_test(
        kx.models.RecurrentNet, init_kwargs, X, expected_output_shape=expected_shape
    )


def test_defaults_are_the_tutorial_rnn():
    model = kx.models.RecurrentNet(10)
    model.build((None, 8, 8))
    first, second = model.recurrent.recurrent_layers
    assert isinstance(first, keras.layers.SimpleRNN) and isinstance(second, keras.layers.SimpleRNN)
    assert (first.units, second.units) == (32, 32)
    assert first.return_sequences and not second.return_sequences
    # SimpleRNN: input kernel + recurrent kernel + bias, twice; then Dense 32x10 + 10
    expected = (8 * 32 + 32 * 32 + 32) + (32 * 32 + 32 * 32 + 32) + (32 * 10 + 10)
    assert model.count_params() == expected


def test_sequence_labelling_predicts_every_step():
    model = kx.models.RecurrentNet(5, units=(4,), cell="gru", return_sequences=True)
    probabilities = keras.ops.convert_to_numpy(model(X))
    assert probabilities.shape == (4, 5, 5)
    np.testing.assert_allclose(probabilities.sum(-1), 1.0, rtol=1e-5)


def test_rank_error_names_the_shape():
    with pytest.raises(ValueError, match=r"rank 3.*\(4, 5\)"):
        kx.models.RecurrentNet(3)(np.zeros((4, 5), "float32"))


@pytest.mark.parametrize(
    "kwargs, argument",
    [({"cell": "transformer"}, "cell"), ({"num_classes": 1}, "num_classes"),
     ({"dropout": -0.1}, "dropout"), ({"units": ()}, "units"), ({"l1": -1}, "l1")],
)
def test_invalid_arguments(kwargs, argument):
    kwargs = {"num_classes": 3, **kwargs}
    with pytest.raises(ValueError, match=f"Invalid `{argument}` argument value"):
        kx.models.RecurrentNet(**kwargs)


@pytest.mark.slow
@TENSORFLOW_ONLY_LEARNING
def test_digits_read_row_by_row():
    x_train, x_test, y_train, y_test = digits_split()  # 8 steps of 8 features
    model = kx.models.RecurrentNet(10)
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(x_train, y_train, epochs=10, batch_size=32, verbose=0)
    _, accuracy = model.evaluate(x_test, y_test, verbose=0)
    assert accuracy >= 0.90


@pytest.mark.slow
@TENSORFLOW_ONLY_LEARNING
def test_lstm_learns_the_adding_problem():
    rng = np.random.default_rng(0)
    x_train, y_train = adding_problem(2000, 50, rng)
    x_test, y_test = adding_problem(500, 50, rng)
    baseline = np.mean((y_test - y_train.mean()) ** 2)
    assert baseline > 0.12  # predicting the mean scores ~1/6
    model = kx.models.RecurrentNet(None, units=(16,), cell="lstm")
    # The loss sits on the 1/6 plateau until the LSTM finds the markers. With Adam(0.05) and
    # clipping the way out came after 200-560 steps over 8 seeds (and at most 700 with
    # Adam(0.02) or bigger LSTMs): 630 steps (2000 x 10 / 32) is the cheapest reliable budget.
    model.compile(optimizer=keras.optimizers.Adam(0.05, clipnorm=1.0), loss="mse")
    model.fit(x_train, y_train, epochs=10, batch_size=32, verbose=0)
    assert model.evaluate(x_test, y_test, verbose=0) < 0.05


def test_explicit_mask_skips_padding():
    x = X.copy()
    x[0, 3:] = 0.0
    mask = np.ones((4, 5), bool)
    mask[0, 3:] = False
    model = kx.models.RecurrentNet(3, units=(4,), cell="lstm")
    padded = keras.ops.convert_to_numpy(model(x, mask=mask))
    truncated = keras.ops.convert_to_numpy(model(x[:1, :3]))
    np.testing.assert_allclose(padded[0], truncated[0], rtol=1e-5, atol=1e-6)
