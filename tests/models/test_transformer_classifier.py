import keras
import numpy as np
import pytest

import kerasext as kx
from kerasext._compat import set_random_seed
from tests import conformance
from tests.models.text_tasks import VOCAB_SIZE, order_task

TOKENS = np.array([[3, 5, 7, 9, 2, 0], [4, 4, 1, 0, 0, 0], [8, 1, 2, 3, 4, 5], [6, 0, 0, 0, 0, 0]])
SMALL = {"vocab_size": 10, "sequence_length": 8, "num_classes": 3, "embed_dim": 8,
         "num_heads": 2, "ff_dim": 16, "num_layers": 2, "dropout": 0.1}


def test_conformance():
    conformance.run_model_test(kx.models.TransformerClassifier, SMALL, TOKENS,
                               expected_output_shape=(4, 3))


@pytest.mark.parametrize("encoding", ["learned", "sinusoidal"])
def test_padding_never_changes_a_prediction(encoding):
    model = kx.models.TransformerClassifier(**{**SMALL, "position_encoding": encoding})
    short = np.array([[3, 5, 7, 0]])
    long = np.array([[3, 5, 7, 0, 0, 0, 0, 0]])
    np.testing.assert_allclose(model(short), model(long), atol=1e-5)


def test_order_matters():
    model = kx.models.TransformerClassifier(**SMALL)
    a = keras.ops.convert_to_numpy(model(np.array([[3, 5, 7, 0]])))
    b = keras.ops.convert_to_numpy(model(np.array([[7, 5, 3, 0]])))
    assert not np.allclose(a, b, atol=1e-6)


def test_invalid_arguments():
    with pytest.raises(ValueError, match="Invalid `num_heads` argument value"):
        kx.models.TransformerClassifier(**{**SMALL, "num_heads": 3})
    with pytest.raises(ValueError, match="Invalid `num_layers` argument value"):
        kx.models.TransformerClassifier(**{**SMALL, "num_layers": 0})


def test_too_long_input_names_shape():
    with pytest.raises(ValueError, match=r"longer than sequence_length=8.*\(1, 9\)"):
        kx.models.TransformerClassifier(**SMALL)(np.ones((1, 9), "int32"))


@pytest.mark.slow
def test_learns_a_word_order_task():
    (x_train, y_train), (x_test, y_test) = order_task(n_train=2000)
    set_random_seed(0)
    model = kx.models.TransformerClassifier(
        VOCAB_SIZE, x_train.shape[1], 2, embed_dim=16, num_heads=2, ff_dim=32, num_layers=2,
        dropout=0.0)
    model.compile(optimizer=keras.optimizers.Adam(3e-3),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    # Accuracy jumps from chance to ~1.0 once attention finds the marker pair
    # (epoch 4-6 for seeds 0-2); 8 epochs leave a margin.
    model.fit(x_train, y_train, epochs=8, batch_size=64, verbose=0)
    accuracy = model.evaluate(x_test, y_test, verbose=0, return_dict=True)["accuracy"]
    assert accuracy >= 0.95, accuracy
