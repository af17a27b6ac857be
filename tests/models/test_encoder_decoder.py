import copy

import keras
import numpy as np
import pytest

import kerasext as kx
from kerasext._compat import set_random_seed
from tests import conformance
from tests.models._data import TENSORFLOW_ONLY_LEARNING
from tests.models.seq_tasks import END, INPUT_VOCAB_SIZE, OUTPUT_VOCAB_SIZE, START, reverse_task

pytestmark = pytest.mark.cross_backend

SMALL = {"input_vocab_size": INPUT_VOCAB_SIZE, "output_vocab_size": OUTPUT_VOCAB_SIZE,
         "units": 8, "embed_dim": 4}


def batch(n=4):
    source, decoder_inputs, decoder_targets = reverse_task(n)
    return (source[:, :6], decoder_inputs[:, :7]), decoder_targets[:, :7]


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_conformance(cell):
    inputs, targets = batch()
    # The LSTM variant shares every code path but the cell: config and saving
    # only, to keep the suite's time budget.
    full = cell == "gru"
    conformance.run_model_test(
        kx.models.EncoderDecoder, {**SMALL, "cell": cell, "dropout": 0.1}, inputs,
        target=targets, loss="sparse_categorical_crossentropy",
        expected_output_shape=(4, 7, OUTPUT_VOCAB_SIZE),
        run_mixed_precision=full, run_jit=full, run_distributed=full,
    )


def _cross_entropy(probabilities, labels):
    picked = np.take_along_axis(probabilities, labels[..., None], axis=-1)[..., 0]
    return -np.log(picked)


def test_loss_ignores_padded_target_steps():
    (source, decoder_inputs), targets = batch(6)
    model = kx.models.EncoderDecoder(**SMALL)
    model.compile(loss="sparse_categorical_crossentropy")
    probabilities = keras.ops.convert_to_numpy(model((source, decoder_inputs)))
    real = decoder_inputs != 0
    expected = _cross_entropy(probabilities, targets)[real].mean()
    loss = model.evaluate((source, decoder_inputs), targets, batch_size=6, verbose=0)
    np.testing.assert_allclose(loss, expected, rtol=1e-5)


def test_teacher_forcing_step_matches_its_decoder_cell():
    """generate's one-step decoder computes what the sequence decoder computes."""
    (source, decoder_inputs), _ = batch(3)
    decoder_inputs = decoder_inputs[:, :5]  # no padding inside
    model = kx.models.EncoderDecoder(**SMALL)
    full = keras.ops.convert_to_numpy(model((source, decoder_inputs)))
    context, states = model._encode(source)
    for step in range(decoder_inputs.shape[1]):
        probabilities, states = model._decode_step(decoder_inputs[:, step], states, context)
        np.testing.assert_allclose(keras.ops.convert_to_numpy(probabilities), full[:, step],
                                   rtol=1e-5, atol=1e-6)


def test_generate_is_greedy_and_stops_at_the_end_token():
    (source, _), _ = batch(5)
    model = kx.models.EncoderDecoder(**SMALL)
    tokens = model.generate(source, max_length=6, start_token=START, end_token=None)
    assert tokens.shape == (5, 6) and tokens.dtype == np.int32
    # Greedy: feeding the generated prefix back through teacher forcing gives
    # the same argmax at every step.
    decoder_inputs = np.concatenate([np.full((5, 1), START), tokens[:, :-1]], axis=1)
    probabilities = keras.ops.convert_to_numpy(model((source, decoder_inputs)))
    np.testing.assert_array_equal(probabilities.argmax(-1), tokens)
    # With an end token everything after its first occurrence is 0.
    end = int(tokens[0, 1])
    ended = model.generate(source, max_length=6, start_token=START, end_token=end)
    for row, full_row in zip(ended, tokens):
        hits = np.flatnonzero(full_row == end)
        if hits.size:
            np.testing.assert_array_equal(row[: hits[0] + 1], full_row[: hits[0] + 1])
            assert not row[hits[0] + 1 :].any()
        else:
            np.testing.assert_array_equal(row, full_row)


def _greedy_reference(model, source, max_length):
    """Greedy decoding through the model's own teacher-forcing forward pass.

    Step t feeds `[START, y_1, ..., y_{t-1}]` (padded on the right with a
    non-padding token, which the causal decoder cannot see at step t) and
    takes the argmax at position t - 1.
    """
    tokens = np.ones((len(source), max_length), "int32")
    for step in range(max_length):
        decoder_inputs = np.concatenate([np.full((len(source), 1), START), tokens[:, :-1]], axis=1)
        probabilities = keras.ops.convert_to_numpy(model((source, decoder_inputs)))
        tokens[:, step] = probabilities[:, step].argmax(-1)
    return tokens


def test_generate_decodes_with_the_current_weights():
    """After `set_weights` (as after more `fit`), generate decodes with the new weights."""
    (source, _), _ = batch(4)
    model = kx.models.EncoderDecoder(**SMALL)
    first = model.generate(source, max_length=5, start_token=START)
    rng = np.random.default_rng(3)
    weights = [rng.normal(scale=0.7, size=w.shape).astype("float32") for w in model.get_weights()]
    (head_bias,) = [i for i, w in enumerate(model.weights) if w is model.head.bias]
    weights[head_bias][0] = -10.0  # never padding: the teacher-forcing reference masks it
    model.set_weights(weights)
    expected = _greedy_reference(model, source, 5)
    assert expected.all(), expected
    assert not np.array_equal(expected, first), "the new weights must change the decoding"
    np.testing.assert_array_equal(model.generate(source, max_length=5, start_token=START),
                                  expected)


def test_generate_runs_as_one_compiled_loop():
    (source, _), _ = batch(2)
    model = kx.models.EncoderDecoder(**SMALL)
    model.generate(source, max_length=4, start_token=START, end_token=END)
    function = model._generate_function(4, START, END)
    if conformance.BACKEND == "tensorflow":
        graph = function.get_concrete_function(
            keras.ops.convert_to_tensor(source, "int32")).graph
        assert any(op.type in ("While", "StatelessWhile") for op in graph.get_operations())
    elif conformance.BACKEND == "jax":
        import jax

        values = [v.value for v in model.trainable_variables + model.non_trainable_variables]
        jaxpr = jax.make_jaxpr(function.compiled)(values, source.astype("int32"))
        assert "while[" in str(jaxpr)
        # Stateless: every weight is an input of the compiled loop, none a constant.
        assert len(jaxpr.consts) == 0 and len(jaxpr.in_avals) == len(values) + 1
    # The function is cached per (max_length, start, end), and a deep copy (as
    # keras-tuner makes) works and decodes alike.
    assert model._generate_function(4, START, END) is function
    clone = copy.deepcopy(model)
    np.testing.assert_array_equal(
        clone.generate(source, max_length=4, start_token=START, end_token=END),
        model.generate(source, max_length=4, start_token=START, end_token=END),
    )


@pytest.mark.parametrize(
    "kwargs, match",
    [({"start_token": 99}, "start_token"), ({"start_token": 0}, "start_token"),
     ({"start_token": 2.5}, "start_token"), ({"end_token": OUTPUT_VOCAB_SIZE}, "end_token"),
     ({"max_length": 0}, "max_length"), ({"inputs": np.full((2, 3), INPUT_VOCAB_SIZE)}, "inputs"),
     ({"inputs": np.ones(3, "int32")}, "inputs")],
)
def test_generate_rejects_invalid_arguments(kwargs, match):
    model = kx.models.EncoderDecoder(**SMALL)
    arguments = {"inputs": np.ones((2, 3), "int32"), "max_length": 3, "start_token": START,
                 "end_token": END, **kwargs}
    with pytest.raises(ValueError, match=f"Invalid `{match}` argument value"):
        model.generate(**arguments)


def test_invalid_arguments():
    with pytest.raises(ValueError, match="Invalid `cell` argument value"):
        kx.models.EncoderDecoder(10, 10, cell="rnn")
    with pytest.raises(ValueError, match="Invalid `units` argument value"):
        kx.models.EncoderDecoder(10, 10, units=0)


def test_single_input_names_what_it_received():
    with pytest.raises(ValueError, match="expects inputs \\(encoder_tokens, decoder_input"):
        kx.models.EncoderDecoder(**SMALL)(np.ones((2, 5), "int32"))


@pytest.mark.slow
@TENSORFLOW_ONLY_LEARNING
def test_learns_to_reverse_sequences():
    source, decoder_inputs, decoder_targets = reverse_task(4000, seed=0)
    test_source, _, test_targets = reverse_task(300, seed=1)
    set_random_seed(0)
    model = kx.models.EncoderDecoder(INPUT_VOCAB_SIZE, OUTPUT_VOCAB_SIZE, units=128,
                                     embed_dim=16)
    epochs, batch_size = 8, 64
    schedule = keras.optimizers.schedules.CosineDecay(1e-2, epochs * len(source) // batch_size)
    model.compile(optimizer=keras.optimizers.Adam(schedule),
                  loss="sparse_categorical_crossentropy")
    model.fit((source, decoder_inputs), decoder_targets, epochs=epochs, batch_size=batch_size,
              verbose=0)
    generated = model.generate(test_source, max_length=test_targets.shape[1],
                               start_token=START, end_token=END)
    exact = np.mean(np.all(generated == test_targets, axis=1))
    assert exact >= 0.95, exact
