"""HyperModels of the reading-list architectures: TextCNN, InceptionNet, Transformer, EncoderDecoder."""

import keras

from kerasext import _validation as v
from kerasext import models
from kerasext.tuning import space as space_lib
from kerasext.tuning.base import KerasextHyperModel
from kerasext.tuning.seed_models import (
    _check_shape,
    _ClassifierMixin,
)

#: Kernel-width sets of TextCNN's parallel convolutions (Kim 2014 uses 3, 4, 5).
TEXT_CNN_KERNEL_SIZES = ("2,3,4", "3,4,5", "3,5,7")


class HyperTextCNN(_ClassifierMixin, KerasextHyperModel):
    """Search space of `kx.models.TextCNN` (Kim 2014).

    Hyperparameters: `embed_dim`, `kernel_sizes` (a set of widths, as text
    "3,4,5"; sets wider than the sequence are left out), `filters` per width,
    `dropout` (0.5 in the paper), and the shared training group. Inputs are
    integer token ids of shape `(batch_size, sequence_length)`, 0 padding.

    Args:
        vocab_size: number of token ids (0 is padding).
        sequence_length: number of tokens per example.
        num_classes: number of classes (>= 2).
        **kwargs: `fixed`, `metrics`, `early_stopping`,
            `early_stopping_patience`, `seed`, `name`, `tunable`.

    Example:

    ```python
    import keras_tuner
    import numpy as np
    hypermodel = kx.tuning.HyperTextCNN(vocab_size=50, sequence_length=12, num_classes=2)
    hp = keras_tuner.HyperParameters()
    hp.values["kernel_sizes"] = "2,3,4"
    model = hypermodel.build(hp)
    assert tuple(model.kernel_sizes) == (2, 3, 4)
    assert model.predict(np.ones((2, 12)), verbose=0).shape == (2, 2)
    ```

    Reference:
        Kim, "Convolutional Neural Networks for Sentence Classification",
        EMNLP 2014. https://arxiv.org/abs/1408.5882
    """

    def __init__(self, vocab_size, sequence_length, num_classes, **kwargs):
        v.check_positive_int("vocab_size", vocab_size)
        v.check_positive_int("sequence_length", sequence_length)
        v.check_num_classes(num_classes, allow_none=False)
        self.vocab_size = vocab_size
        self.sequence_length = sequence_length
        self.num_classes = num_classes
        super().__init__(**kwargs)

    def _declare(self, space):
        widths = [
            text for text in TEXT_CNN_KERNEL_SIZES
            if max(int(w) for w in text.split(",")) <= self.sequence_length
        ] or [str(self.sequence_length)]
        default = "3,4,5" if "3,4,5" in widths else widths[0]
        embed_dim = space.Choice("embed_dim", [32, 64, 128], ordered=True, default=128)
        kernel_sizes = space.Choice("kernel_sizes", widths, default=default)
        filters = space.Choice("filters", [32, 64, 100, 128], ordered=True, default=100)
        dropout = space_lib.declare_dropout(space, default=0.5, max_value=0.6)
        return {
            "vocab_size": self.vocab_size,
            "num_classes": self.num_classes,
            "embed_dim": embed_dim,
            "kernel_sizes": tuple(int(w) for w in str(kernel_sizes).split(",")),
            "filters": filters,
            "dropout": dropout,
        }

    def _make_model(self, kwargs):
        return models.TextCNN(**kwargs)

    def _input_shape(self):
        return (self.sequence_length,)


class HyperInceptionNet(_ClassifierMixin, KerasextHyperModel):
    """Search space of `kx.models.InceptionNet` (GoogLeNet for small images).

    Hyperparameters: `width_multiplier` (on GoogLeNet's filter counts),
    `stem_filters`, `stage3_blocks` / `stage4_blocks` / `stage5_blocks`
    (Inception modules kept per stage), `aux_classifiers` with
    `aux_loss_weight` active only when they are on, `dropout` (0.4 in the
    paper), and the shared training group.

    Args:
        input_shape: image shape `(height, width)` or `(height, width,
            channels)`, no batch axis.
        num_classes: number of classes (>= 2).
        **kwargs: `fixed`, `metrics`, `early_stopping`,
            `early_stopping_patience`, `seed`, `name`, `tunable`.

    Example:

    ```python
    space = kx.tuning.describe(kx.tuning.HyperInceptionNet((8, 8, 1), num_classes=10))
    assert space.get("aux_loss_weight")[0].condition == "aux_classifiers == True"
    ```

    Reference:
        Szegedy et al., "Going Deeper with Convolutions", CVPR 2015.
        https://arxiv.org/abs/1409.4842
    """

    def __init__(self, input_shape, num_classes, **kwargs):
        self.input_shape = _check_shape("input_shape", input_shape, (2, 3))
        v.check_num_classes(num_classes, allow_none=False)
        self.num_classes = num_classes
        super().__init__(**kwargs)

    def _declare(self, space):
        width = space.Choice("width_multiplier", [0.0625, 0.125, 0.25], ordered=True, default=0.125)
        stem_filters = space.Choice("stem_filters", [16, 32, 64], ordered=True, default=32)
        stage3 = space.Int("stage3_blocks", 1, 2, default=2)
        stage4 = space.Int("stage4_blocks", 1, 5, default=2)
        stage5 = space.Int("stage5_blocks", 0, 2, default=1)
        aux = space.Boolean("aux_classifiers", default=False)
        with space.conditional_scope("aux_classifiers", [True]):
            aux_weight = space.Float("aux_loss_weight", 0.1, 0.5, step=0.1, default=0.3)
        dropout = space_lib.declare_dropout(space, default=0.4, max_value=0.6)
        return {
            "num_classes": self.num_classes,
            "width_multiplier": width,
            "blocks_per_stage": (stage3, stage4, stage5),
            "stem_filters": stem_filters,
            "dropout": dropout,
            "aux_classifiers": aux,
            "aux_loss_weight": aux_weight if aux else 0.3,
        }

    def _make_model(self, kwargs):
        return models.InceptionNet(**kwargs)

    def _input_shape(self):
        return self.input_shape


class HyperTransformerClassifier(_ClassifierMixin, KerasextHyperModel):
    """Search space of `kx.models.TransformerClassifier` (an encoder-only Transformer).

    Hyperparameters: `embed_dim`, `num_heads` (all choices divide every
    `embed_dim`), `ff_dim`, `num_layers`, `position_encoding` ("learned",
    "sinusoidal"), `dropout`, and the shared training group. Inputs are
    integer token ids `(batch_size, sequence_length)`, 0 padding.

    Args:
        vocab_size: number of token ids (0 is padding).
        sequence_length: number of tokens per example.
        num_classes: number of classes (>= 2).
        **kwargs: `fixed`, `metrics`, `early_stopping`,
            `early_stopping_patience`, `seed`, `name`, `tunable`.

    Example:

    ```python
    import keras_tuner
    import numpy as np
    hypermodel = kx.tuning.HyperTransformerClassifier(30, 10, 2, fixed={"num_layers": 1})
    model = hypermodel.build(keras_tuner.HyperParameters())
    assert model.num_layers == 1
    assert model.predict(np.ones((2, 10)), verbose=0).shape == (2, 2)
    ```

    Reference:
        Vaswani et al., "Attention Is All You Need", NeurIPS 2017.
        https://arxiv.org/abs/1706.03762
    """

    def __init__(self, vocab_size, sequence_length, num_classes, **kwargs):
        v.check_positive_int("vocab_size", vocab_size)
        v.check_positive_int("sequence_length", sequence_length)
        v.check_num_classes(num_classes, allow_none=False)
        self.vocab_size = vocab_size
        self.sequence_length = sequence_length
        self.num_classes = num_classes
        super().__init__(**kwargs)

    def _declare(self, space):
        embed_dim = space.Choice("embed_dim", [32, 64, 128], ordered=True, default=64)
        num_heads = space.Choice("num_heads", [1, 2, 4, 8], ordered=True, default=4)
        ff_dim = space.Choice("ff_dim", [64, 128, 256], ordered=True, default=128)
        num_layers = space.Int("num_layers", 1, 4, default=2)
        position_encoding = space.Choice(
            "position_encoding", ["learned", "sinusoidal"], default="learned"
        )
        dropout = space_lib.declare_dropout(space, default=0.1)
        return {
            "vocab_size": self.vocab_size,
            "sequence_length": self.sequence_length,
            "num_classes": self.num_classes,
            "embed_dim": embed_dim,
            "num_heads": num_heads,
            "ff_dim": ff_dim,
            "num_layers": num_layers,
            "dropout": dropout,
            "position_encoding": position_encoding,
        }

    def _make_model(self, kwargs):
        return models.TransformerClassifier(**kwargs)

    def _input_shape(self):
        return (self.sequence_length,)


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
