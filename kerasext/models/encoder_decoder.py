"""EncoderDecoder: Cho et al. (2014)'s RNN encoder-decoder, with greedy generation."""

import numbers
import weakref

import keras
import numpy as np
from keras import ops

from kerasext import _validation as v
from kerasext.api_export import kerasext_export
from kerasext.models._common import KerasextModel, output_dtype

CELLS = ("gru", "lstm")

#: model -> {(max_length, start_token, end_token): compiled greedy decoder}
_GENERATE_FUNCTIONS = weakref.WeakKeyDictionary()


class _AttachMask(keras.layers.Layer):
    """Returns its inputs with `mask` attached as their Keras mask."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs, mask=None):
        return inputs

    def compute_mask(self, inputs, mask=None):
        return mask

    def compute_output_spec(self, inputs, mask=None):
        return keras.KerasTensor(inputs.shape, dtype=inputs.dtype)


@kerasext_export
class EncoderDecoder(KerasextModel):
    """Cho et al. (2014)'s RNN encoder-decoder for sequence-to-sequence tasks.

    The encoder RNN reads the source tokens; its last hidden state is the
    summary `c` of the whole source. The decoder RNN starts from
    `tanh(W c)` and, at every step, reads the previous target token together
    with `c`; each output token's distribution is a softmax over the
    decoder state, the previous token's embedding and `c` (the paper's
    equations for `h<t>` and `P(y_t | y_<t, c)`). Token id 0 is padding in
    both vocabularies: the encoder skips padded steps and the output carries
    a mask (decoder input != 0) so that the loss and metrics ignore padded
    target steps.

    Training uses teacher forcing through `fit`: the inputs are
    `(encoder_tokens, decoder_input_tokens)` where the decoder input is the
    target shifted right behind a start token, and the targets are the
    target tokens (followed by an end token). `generate` decodes greedily
    from a start token, with the current weights, in one compiled loop on
    TensorFlow and JAX (eagerly on torch).

    Args:
        input_vocab_size: positive integer, number of source token ids
            (0 is padding).
        output_vocab_size: positive integer, number of target token ids
            (0 is padding; the start and end tokens are among them).
        units: size of the encoder and decoder states. Defaults to `128`.
        cell: `"gru"` (the paper's gated unit) or `"lstm"`.
            Defaults to `"gru"`.
        embed_dim: size of the token embeddings. Defaults to `64`.
        dropout: dropout rate in [0, 1) on the embeddings.
            Defaults to `0.0`.
        **kwargs: base model keyword arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: a pair `(encoder_tokens, decoder_input_tokens)` of integer
            tensors of shapes `(batch_size, source_steps)` and
            `(batch_size, target_steps)`.
        training: whether dropout is active.

    Returns:
        Float32 next-token probabilities of shape `(batch_size,
        target_steps, output_vocab_size)`, masked where the decoder input
        is 0.

    Example:

    ```python
    import numpy as np

    model = kx.models.EncoderDecoder(input_vocab_size=12, output_vocab_size=14, units=16,
                                     embed_dim=8)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    source = np.random.randint(1, 12, size=(16, 5))
    target = np.random.randint(1, 12, size=(16, 5))
    start, end = 12, 13
    decoder_inputs = np.concatenate([np.full((16, 1), start), target], axis=1)
    decoder_targets = np.concatenate([target, np.full((16, 1), end)], axis=1)
    model.fit((source, decoder_inputs), decoder_targets, epochs=1, verbose=0)
    tokens = model.generate(source, max_length=6, start_token=start, end_token=end)
    assert tokens.shape == (16, 6)
    ```

    Reference:
        Cho et al., "Learning Phrase Representations using RNN
        Encoder-Decoder for Statistical Machine Translation", EMNLP 2014.
        https://arxiv.org/abs/1406.1078
    """

    def __init__(self, input_vocab_size, output_vocab_size, units=128, cell="gru", embed_dim=64,
                 dropout=0.0, **kwargs):
        super().__init__(**kwargs)
        v.check_positive_int("input_vocab_size", input_vocab_size)
        v.check_positive_int("output_vocab_size", output_vocab_size)
        v.check_positive_int("units", units)
        v.check_choice("cell", cell, CELLS)
        v.check_positive_int("embed_dim", embed_dim)
        v.check_rate("dropout", dropout)
        self.input_vocab_size = input_vocab_size
        self.output_vocab_size = output_vocab_size
        self.units = units
        self.cell = cell
        self.embed_dim = embed_dim
        self.dropout = dropout
        policy = self.dtype_policy
        rnn = keras.layers.GRU if cell == "gru" else keras.layers.LSTM
        self.source_embedding = keras.layers.Embedding(input_vocab_size, embed_dim, dtype=policy,
                                                       name="source_embedding")
        self.target_embedding = keras.layers.Embedding(output_vocab_size, embed_dim,
                                                       dtype=policy, name="target_embedding")
        self.embedding_dropout = keras.layers.Dropout(dropout, dtype=policy,
                                                      name="embedding_dropout")
        self.encoder = rnn(units, return_state=True, dtype=policy, name="encoder")
        self.initial_state = keras.layers.Dense(units, activation="tanh", dtype=policy,
                                                name="initial_state")
        self.decoder = rnn(units, return_sequences=True, dtype=policy, name="decoder")
        self.padding_mask = _AttachMask(dtype=policy, name="padding_mask")
        self.head = keras.layers.Dense(output_vocab_size, activation="softmax",
                                       dtype=output_dtype(policy), name="head")

    # ----------------------------------------------------------------- structure

    @staticmethod
    def _split(inputs, what):
        if (not isinstance(inputs, (list, tuple)) or len(inputs) != 2
                or any(isinstance(part, (int, type(None))) for part in inputs)):
            raise ValueError(
                "EncoderDecoder expects inputs (encoder_tokens, decoder_input_tokens). "
                f"Received: {what}={inputs!r}"
            )
        return inputs

    def _standardize_input_shape(self, input_shape):
        source_shape, target_shape = (tuple(s) for s in self._split(input_shape, "input_shape"))
        if len(source_shape) != 2 or len(target_shape) != 2:
            raise ValueError(
                "EncoderDecoder expects token ids of shapes (batch_size, source_steps) and "
                f"(batch_size, target_steps). Received: input_shape={(source_shape, target_shape)}"
            )
        return source_shape, target_shape

    def _build_layers(self, input_shape):
        source_shape, target_shape = input_shape
        self.source_embedding.build(source_shape)
        self.target_embedding.build(target_shape)
        self.encoder.build((*source_shape, self.embed_dim))
        self.initial_state.build((source_shape[0], self.units))
        self.decoder.build((*target_shape, self.embed_dim + self.units))
        features_shape = (*target_shape, 2 * self.units + self.embed_dim)
        self.padding_mask.build(features_shape)
        self.head.build(features_shape)

    def _encode(self, source, training=None):
        """The summary `c` and the decoder's initial state(s)."""
        source = ops.cast(source, "int32")
        embedded = self.embedding_dropout(self.source_embedding(source), training=training)
        outputs = self.encoder(embedded, mask=ops.not_equal(source, 0), training=training)
        context = outputs[1]  # the last hidden state (h for an LSTM)
        state = self.initial_state(context)
        states = [state] if self.cell == "gru" else [state, ops.zeros_like(state)]
        return context, states

    def call(self, inputs, training=None):
        source, target = self._split(inputs, "inputs")
        target = ops.cast(target, "int32")
        context, states = self._encode(source, training=training)
        embedded = self.embedding_dropout(self.target_embedding(target), training=training)
        steps = ops.shape(target)[1]
        repeated = ops.repeat(context[:, None, :], steps, axis=1)
        hidden = self.decoder(ops.concatenate([embedded, repeated], axis=-1),
                              initial_state=states, mask=ops.not_equal(target, 0),
                              training=training)
        features = ops.concatenate([hidden, embedded, repeated], axis=-1)
        # The mask rides on the head's inputs (Dense passes it on), not only on
        # `compute_mask`: Keras' JAX trainer runs `call` through `stateless_call`,
        # where the model's own `compute_mask` never reaches the loss.
        features = self.padding_mask(features, mask=ops.not_equal(target, 0))
        return self.head(features)

    def compute_mask(self, inputs, mask=None):
        return ops.not_equal(self._split(inputs, "inputs")[1], 0)

    def compute_output_shape(self, input_shape):
        target_shape = self._split(input_shape, "input_shape")[1]
        return (*target_shape, self.output_vocab_size)

    # ----------------------------------------------------------------- generation

    def _decode_step(self, tokens, states, context):
        embedded = self.target_embedding(tokens)
        hidden, states = self.decoder.cell(ops.concatenate([embedded, context], axis=-1), states,
                                           training=False)
        probabilities = self.head(ops.concatenate([hidden, embedded, context], axis=-1))
        return probabilities, list(states)

    def _generate_graph(self, source, max_length, start_token, end_token):
        context, states = self._encode(source, training=False)
        batch_size = ops.shape(source)[0]
        tokens = ops.full((batch_size,), start_token, dtype="int32")
        outputs = ops.zeros((batch_size, max_length), dtype="int32")
        finished = ops.zeros((batch_size,), dtype="bool")

        def cond(step, tokens, states, outputs, finished):
            return ops.logical_and(step < max_length, ops.logical_not(ops.all(finished)))

        def body(step, tokens, states, outputs, finished):
            probabilities, states = self._decode_step(tokens, states, context)
            tokens = ops.cast(ops.argmax(probabilities, axis=-1), "int32")
            tokens = ops.where(finished, ops.zeros_like(tokens), tokens)
            position = ops.cast(ops.equal(ops.arange(max_length), step), "int32")
            outputs = outputs + position[None, :] * tokens[:, None]
            if end_token is not None:
                finished = ops.logical_or(finished, ops.equal(tokens, end_token))
            return step + 1, tokens, states, outputs, finished

        loop_vars = (ops.convert_to_tensor(0, dtype="int32"), tokens, states, outputs, finished)
        return ops.while_loop(cond, body, loop_vars, maximum_iterations=max_length)[3]

    def _generate_function(self, max_length, start_token, end_token):
        # Cached outside the instance (which stays deep-copyable and
        # picklable), without keeping it alive.
        cache = _GENERATE_FUNCTIONS.setdefault(self, {})
        key = (max_length, start_token, end_token)
        if key not in cache:
            cache[key] = _compiled_decoder(weakref.ref(self), max_length, start_token, end_token)
        return cache[key]

    def _check_token(self, name, value):
        if (isinstance(value, bool) or not isinstance(value, numbers.Integral)
                or not 1 <= value < self.output_vocab_size):
            raise ValueError(
                f"Invalid `{name}` argument value. Expected a token id in "
                f"[1, output_vocab_size={self.output_vocab_size}) (0 is padding). "
                f"Received: {name}={value!r}"
            )
        return int(value)

    def generate(self, inputs, max_length, start_token, end_token=None):
        """Greedy decoding: the most probable token at each step, fed back in.

        Stops early once every sequence has produced `end_token`, and always
        decodes with the model's current weights (after more `fit`,
        `set_weights` or `load_weights`). On TensorFlow and JAX the loop is
        compiled once per `(max_length, start_token, end_token)`: a
        `tf.function` holding a `while_loop`, which reads the variables when
        it runs; a `jax.jit`-compiled stateless `while_loop` that takes the
        variables' values as arguments. On torch it runs eagerly under
        `torch.no_grad()`.

        Args:
            inputs: integer source tokens of shape `(batch_size, steps)`,
                in `[0, input_vocab_size)`.
            max_length: positive integer, the most tokens generated.
            start_token: the token id the decoder starts from, in
                `[1, output_vocab_size)`.
            end_token: the token id that ends a sequence, in
                `[1, output_vocab_size)`, or `None` to always generate
                `max_length` tokens. Defaults to `None`.

        Returns:
            A NumPy int32 array of shape `(batch_size, max_length)`: the
            generated tokens, the end token included where produced, and 0
            after it.
        """
        v.check_positive_int("max_length", max_length)
        start_token = self._check_token("start_token", start_token)
        if end_token is not None:
            end_token = self._check_token("end_token", end_token)
        source = np.asarray(ops.convert_to_numpy(inputs) if ops.is_tensor(inputs) else inputs)
        if (source.ndim != 2 or source.shape[1] < 1
                or not (np.issubdtype(source.dtype, np.integer)
                        or np.array_equal(source, np.round(source)))):
            raise ValueError(
                "Invalid `inputs` argument value. Expected integer token ids of shape "
                f"(batch_size, steps). Received: inputs with shape {source.shape} and "
                f"dtype {source.dtype}"
            )
        if source.size and (source.min() < 0 or source.max() >= self.input_vocab_size):
            raise ValueError(
                "Invalid `inputs` argument value. Expected token ids in "
                f"[0, input_vocab_size={self.input_vocab_size}). Received: token ids from "
                f"{source.min()} to {source.max()}"
            )
        source = ops.convert_to_tensor(source.astype("int32"), dtype="int32")
        if not self.built:
            self.build((tuple(source.shape), (source.shape[0], 1)))
        function = self._generate_function(int(max_length), start_token, end_token)
        return np.asarray(ops.convert_to_numpy(function(source)), dtype="int32")

    def get_config(self):
        return {
            **super().get_config(),
            "input_vocab_size": self.input_vocab_size,
            "output_vocab_size": self.output_vocab_size,
            "units": self.units,
            "cell": self.cell,
            "embed_dim": self.embed_dim,
            "dropout": self.dropout,
        }

    def get_layout_map(self, device_mesh, model_dim_name="model"):
        """The `keras.distribution.LayoutMap` that splits this model's large kernels.

        For `keras.distribution.ModelParallel` (JAX), in the manner of
        keras-hub's backbones: the embeddings (along the embedding dimension), the recurrent kernels (along their gates) and the output projection (along the target vocabulary) are split along the `model_dim_name`
        axis of `device_mesh` (a dimension that the axis size does not divide
        stays whole: JAX shards evenly only); everything else is replicated,
        and the data is split along the mesh's other axis. Call it before the
        model is built, and set the distribution before building.

        Args:
            device_mesh: a `keras.distribution.DeviceMesh` with a
                `model_dim_name` axis.
            model_dim_name: the mesh axis to split kernels along. Defaults
                to `"model"`.

        Returns:
            A `keras.distribution.LayoutMap`.

        Example:

        ```python
        import keras

        model = kx.models.EncoderDecoder(1000, 1000, units=64, embed_dim=32)
        devices = keras.distribution.list_devices()
        mesh = keras.distribution.DeviceMesh((1, len(devices)), ["batch", "model"], devices)
        layout_map = model.get_layout_map(mesh)
        # keras.distribution.set_distribution(
        #     keras.distribution.ModelParallel(layout_map=layout_map))  # on JAX
        ```
        """
        from kerasext.distribute import _model_layout_map

        gates = (3 if self.cell == "gru" else 4) * self.units
        return _model_layout_map(device_mesh, {
            ".*/(source|target)_embedding/embeddings": (None, self.embed_dim),
            ".*/(encoder|decoder)/(gru|lstm)_cell/(kernel|recurrent_kernel)": (None, gates),
            ".*/initial_state/kernel": (None, self.units),
            ".*/head/kernel": (None, self.output_vocab_size),
        }, model_dim_name)


def _compiled_decoder(model_ref, max_length, start_token, end_token):
    """`source -> tokens`: the greedy loop compiled once by this backend.

    Whatever the backend, every call decodes with the model's current
    weights: nothing compiled keeps the variables' values of its first call.
    """

    def decode(source):
        return model_ref()._generate_graph(source, max_length, start_token, end_token)

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        # A tf.function reads the tf.Variables when it runs, not when it is traced.
        return tf.function(decode, reduce_retracing=True)
    if backend == "jax":
        import jax

        # jax.jit of a closure over the model would freeze the variables' values at
        # trace time: they go in as arguments, read through a StatelessScope.
        def stateless_decode(values, source):
            variables = _decoder_variables(model_ref())
            with keras.StatelessScope(state_mapping=list(zip(variables, values))):
                return decode(source)

        compiled = jax.jit(stateless_decode)

        def run(source):
            return compiled([v.value for v in _decoder_variables(model_ref())], source)

        run.compiled = compiled  # the jitted loop, for inspection
        return run
    if backend == "torch":
        import torch

        def run(source):
            with torch.no_grad():
                return decode(source)

        return run
    return decode


def _decoder_variables(model):
    return [*model.trainable_variables, *model.non_trainable_variables]
