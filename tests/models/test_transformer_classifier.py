import keras
import numpy as np
import pytest

import kerasext as kx
from kerasext._compat import set_random_seed
from tests import conformance
from tests.models._data import TENSORFLOW_ONLY_LEARNING
from tests.models.text_tasks import VOCAB_SIZE, order_task

pytestmark = pytest.mark.cross_backend

TOKENS = np.array([[3, 5, 7, 9, 2, 0], [4, 4, 1, 0, 0, 0], [8, 1, 2, 3, 4, 5], [6, 0, 0, 0, 0, 0]])
SMALL = {"vocab_size": 10, "sequence_length": 8, "num_classes": 3, "embed_dim": 8,
         "num_heads": 2, "ff_dim": 16, "num_layers": 2, "dropout": 0.1}


def _on_jax_cpu():
    if conformance.BACKEND != "jax":
        return False
    import jax

    return jax.default_backend() == "cpu"


#: XLA on CPU has no float16 matmul accumulating in float32, which Keras' JAX attention asks for
#: ("The precision 'F16_F16_F32' is not supported by dot_general on CPU"): under mixed_float16,
#: Keras' own MultiHeadAttention trains on JAX CPU only with jit_compile=False.
JAX_CPU = _on_jax_cpu()


def test_conformance():
    conformance.run_model_test(kx.models.TransformerClassifier, SMALL, TOKENS,
                               expected_output_shape=(4, 3), run_mixed_precision=not JAX_CPU)


@pytest.mark.skipif(not JAX_CPU, reason="the conformance harness covers mixed precision")
@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision_on_jax_cpu(policy):
    """The harness' mixed precision check; under mixed_float16 a forward pass only (see JAX_CPU)."""
    keras.config.set_dtype_policy(policy)
    model = kx.models.TransformerClassifier(**SMALL)
    if policy == "mixed_bfloat16":
        model.compile(optimizer="sgd", loss="mse")  # jit_compile="auto": XLA on JAX
        target = np.zeros((len(TOKENS), SMALL["num_classes"]), "float32")
        history = model.fit(TOKENS, target, batch_size=len(TOKENS), epochs=1, verbose=0)
        assert np.all(np.isfinite(history.history["loss"]))
    outputs = model(TOKENS)
    assert keras.backend.standardize_dtype(outputs.dtype) == "float32"
    assert np.all(np.isfinite(keras.ops.convert_to_numpy(outputs)))
    assert {keras.backend.standardize_dtype(w.dtype) for w in model.weights} == {"float32"}


@pytest.mark.parametrize("encoding", ["learned", "sinusoidal"])
def test_padding_never_changes_a_prediction(encoding):
    model = kx.models.TransformerClassifier(**{**SMALL, "position_encoding": encoding})
    short = np.array([[3, 5, 7, 0]])
    long = np.array([[3, 5, 7, 0, 0, 0, 0, 0]])
    np.testing.assert_allclose(keras.ops.convert_to_numpy(model(short)),
                               keras.ops.convert_to_numpy(model(long)), atol=1e-5)


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
@TENSORFLOW_ONLY_LEARNING
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
