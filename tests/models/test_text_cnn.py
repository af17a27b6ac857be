import keras
import numpy as np
import pytest

import kerasext as kx
from kerasext._compat import set_random_seed
from kerasext.models.text_cnn import masked_max_over_time
from tests import conformance
from tests.models._data import TENSORFLOW_ONLY_LEARNING
from tests.models.text_tasks import VOCAB_SIZE, order_task

pytestmark = pytest.mark.cross_backend

TOKENS = np.array([[3, 5, 7, 9, 2, 0], [4, 4, 1, 0, 0, 0], [8, 1, 2, 3, 4, 5], [6, 0, 0, 0, 0, 0]])


def test_conformance():
    conformance.run_model_test(
        kx.models.TextCNN,
        {"vocab_size": 10, "num_classes": 3, "embed_dim": 6, "kernel_sizes": (2, 3),
         "filters": 4, "dropout": 0.5},
        TOKENS,
        expected_output_shape=(4, 3),
    )


def test_masked_max_over_time_matches_numpy(rng):
    features = rng.normal(size=(3, 5, 2)).astype("float32")
    mask = np.array([[1, 1, 0, 0, 0], [1, 1, 1, 1, 1], [0, 0, 0, 0, 0]], dtype=bool)
    expected = np.stack([
        features[0, :2].max(0), features[1].max(0), np.zeros(2, "float32")
    ])
    np.testing.assert_allclose(keras.ops.convert_to_numpy(masked_max_over_time(features, mask)),
                               expected)


def test_padding_never_changes_a_prediction():
    model = kx.models.TextCNN(20, 2, embed_dim=8, filters=4, dropout=0.0)
    short = np.array([[3, 5, 7, 0]])
    long = np.array([[3, 5, 7, 0, 0, 0, 0, 0, 0]])
    np.testing.assert_allclose(keras.ops.convert_to_numpy(model(short)),
                               keras.ops.convert_to_numpy(model(long)), atol=1e-6)


@pytest.mark.parametrize(
    "kwargs, match",
    [({"vocab_size": 0, "num_classes": 2}, "vocab_size"),
     ({"vocab_size": 5, "num_classes": 1}, "num_classes"),
     ({"vocab_size": 5, "num_classes": 2, "kernel_sizes": []}, "kernel_sizes"),
     ({"vocab_size": 5, "num_classes": 2, "dropout": 1.5}, "dropout")],
)
def test_invalid_arguments(kwargs, match):
    with pytest.raises(ValueError, match=f"Invalid `{match}` argument value"):
        kx.models.TextCNN(**kwargs)


def test_wrong_rank_names_shape():
    with pytest.raises(ValueError, match=r"Received: input_shape=\(2, 3, 4\)"):
        kx.models.TextCNN(10, 2)(np.zeros((2, 3, 4), "int32"))


@pytest.mark.slow
@TENSORFLOW_ONLY_LEARNING
def test_learns_a_word_order_task():
    (x_train, y_train), (x_test, y_test) = order_task()
    set_random_seed(0)
    model = kx.models.TextCNN(VOCAB_SIZE, 2, embed_dim=16, kernel_sizes=(2, 3),
                              filters=16, dropout=0.2)
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(x_train, y_train, epochs=4, batch_size=64, verbose=0)
    accuracy = model.evaluate(x_test, y_test, verbose=0, return_dict=True)["accuracy"]
    assert accuracy >= 0.95, accuracy
