"""The search space of `EncoderDecoder` (Cho 2014)."""

import keras

from kerasext import _validation as v
from kerasext import models
from kerasext.tuning import space as space_lib
from kerasext.tuning.base import KerasextHyperModel


class HyperEncoderDecoder(KerasextHyperModel):
    """Search space of `kx.models.EncoderDecoder` (Cho et al. 2014's RNN encoder-decoder).

    Hyperparameters: `cell` ("gru", "lstm"), `units`, `embed_dim`,
    `dropout`, and the shared training group. Models are compiled with
    sparse categorical cross-entropy and token accuracy; both skip padded
    target steps (the model's output mask). Train with inputs
    `(encoder_tokens, decoder_input_tokens)` and the target tokens as labels.

    Args:
        input_vocab_size: number of source token ids (0 is padding).
        output_vocab_size: number of target token ids (0 is padding).
        input_length: source steps.
        output_length: decoder steps (length of the decoder inputs and of
            the targets).
        **kwargs: `fixed`, `metrics`, `early_stopping`,
            `early_stopping_patience`, `seed`, `name`, `tunable`.

    Example:

    ```python
    import keras_tuner
    import numpy as np
    hypermodel = kx.tuning.HyperEncoderDecoder(12, 14, input_length=5, output_length=6,
                                              fixed={"units": 16, "embed_dim": 16})
    model = hypermodel.build(keras_tuner.HyperParameters())
    source = np.random.randint(1, 12, size=(4, 5))
    decoder_inputs = np.random.randint(1, 14, size=(4, 6))
    assert model.predict((source, decoder_inputs), verbose=0).shape == (4, 6, 14)
    ```

    Reference:
        Cho et al., "Learning Phrase Representations using RNN
        Encoder-Decoder for Statistical Machine Translation", EMNLP 2014.
        https://arxiv.org/abs/1406.1078
    """

    def __init__(self, input_vocab_size, output_vocab_size, input_length, output_length,
                 **kwargs):
        for name, value in (("input_vocab_size", input_vocab_size),
                            ("output_vocab_size", output_vocab_size),
                            ("input_length", input_length), ("output_length", output_length)):
            v.check_positive_int(name, value)
        self.input_vocab_size = input_vocab_size
        self.output_vocab_size = output_vocab_size
        self.input_length = input_length
        self.output_length = output_length
        super().__init__(**kwargs)

    def _declare(self, space):
        cell = space.Choice("cell", ["gru", "lstm"], default="gru")
        units = space.Choice("units", [32, 64, 128, 256], ordered=True, default=128)
        embed_dim = space.Choice("embed_dim", [16, 32, 64, 128], ordered=True, default=64)
        dropout = space_lib.declare_dropout(space, default=0.0)
        return {
            "input_vocab_size": self.input_vocab_size,
            "output_vocab_size": self.output_vocab_size,
            "units": units,
            "cell": cell,
            "embed_dim": embed_dim,
            "dropout": dropout,
        }

    def _make_model(self, kwargs):
        return models.EncoderDecoder(**kwargs)

    def _build_weights(self, model):
        model.build(((None, self.input_length), (None, self.output_length)))

    def _input_shape(self):
        return ((self.input_length,), (self.output_length,))

    def _loss(self):
        return keras.losses.SparseCategoricalCrossentropy()

    def _default_metrics(self):
        return [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]
