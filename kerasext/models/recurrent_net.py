"""RecurrentNet: a RecurrentBlock and a softmax (or regression) head."""


from kerasext import _validation as v
from kerasext.api_export import kerasext_export
from kerasext.layers._regularizers import l1_l2
from kerasext.layers.recurrent_block import CELLS, RecurrentBlock
from kerasext.models._common import KerasextModel, classification_head


@kerasext_export
class RecurrentNet(KerasextModel):
    """A recurrent network: stacked SimpleRNN / LSTM / GRU layers and a dense head.

    With its defaults this is the tutorial's RNN: two `SimpleRNN(32)` layers
    and a softmax over `num_classes`, reading `(batch_size, timesteps,
    features)` sequences (an image read row by row is `height` steps of
    `width` features). `num_classes=None` gives a regression head (one linear
    unit, e.g. for the adding problem); `return_sequences=True` applies the
    head at every step (sequence labelling).

    Args:
        num_classes: number of classes (integer >= 2, softmax output), or
            `None` for a regression head.
        units: units of each recurrent layer. Defaults to `(32, 32)`.
        cell: `"simple"`, `"lstm"` or `"gru"`. Defaults to `"simple"`.
        bidirectional: whether each recurrent layer reads both ways.
            Defaults to `False`.
        dropout: dropout rate in [0, 1) on the inputs of each recurrent
            layer. Defaults to `0.0`.
        return_sequences: whether to predict at every step instead of once
            per sequence. Defaults to `False`.
        l1: L1 penalty factor on the input kernels and the head. Defaults to
            `0.0`.
        l2: L2 penalty factor on the input kernels and the head. Defaults to
            `0.0`.
        **kwargs: base model keyword arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: sequences of shape `(batch_size, timesteps, features)`.
        mask: optional boolean padding mask `(batch_size, timesteps)`.
        training: whether dropout runs in training mode.

    Returns:
        Float32 tensor of shape `(batch_size, num_classes)` (or
        `(batch_size, 1)` for regression); with `return_sequences=True`,
        `(batch_size, timesteps, ...)`.

    Example:

    ```python
    import numpy as np
    model = kx.models.RecurrentNet(3, units=(8,), cell="gru", bidirectional=True)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    x = np.random.rand(12, 6, 4).astype("float32")
    model.fit(x, np.arange(12) % 3, epochs=1, verbose=0)
    assert model.predict(x, verbose=0).shape == (12, 3)
    model.summary()
    ```

    Reference:
        - [Elman, 1990](https://doi.org/10.1207/s15516709cog1402_1)
        - [Hochreiter & Schmidhuber, 1997](https://doi.org/10.1162/neco.1997.9.8.1735)
    """

    _input_rank, _input_layout = 3, "(batch_size, timesteps, features)"

    def __init__(
        self,
        num_classes,
        units=(32, 32),
        cell="simple",
        bidirectional=False,
        dropout=0.0,
        return_sequences=False,
        l1=0.0,
        l2=0.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        v.check_num_classes(num_classes)
        v.as_positive_int_tuple("units", units)
        v.check_choice("cell", cell, tuple(CELLS))
        v.check_rate("dropout", dropout)
        v.check_non_negative("l1", l1)
        v.check_non_negative("l2", l2)
        self.num_classes = num_classes
        self.units = units
        self.cell = cell
        self.bidirectional = bidirectional
        self.dropout = dropout
        self.return_sequences = return_sequences
        self.l1 = l1
        self.l2 = l2

        self.recurrent = RecurrentBlock(
            units,
            cell=cell,
            bidirectional=bidirectional,
            dropout=dropout,
            return_sequences=return_sequences,
            l1=l1,
            l2=l2,
            dtype=self.dtype_policy,
            name="recurrent_block",
        )
        self.supports_masking = True
        self.head = classification_head(
            num_classes, self.dtype_policy, kernel_regularizer=l1_l2(l1, l2)
        )

    def _build_layers(self, input_shape):
        self.recurrent.build(input_shape)
        self.head.build(self.recurrent.compute_output_shape(input_shape))

    def call(self, inputs, mask=None, training=None):
        return self.head(self.recurrent(inputs, mask=mask, training=training))

    def compute_mask(self, inputs, mask=None):
        return self.recurrent.compute_mask(inputs, mask)

    def compute_output_shape(self, input_shape):
        return self.head.compute_output_shape(self.recurrent.compute_output_shape(input_shape))

    def get_config(self):
        return {
            **super().get_config(),
            "num_classes": self.num_classes,
            "units": self.units,
            "cell": self.cell,
            "bidirectional": self.bidirectional,
            "dropout": self.dropout,
            "return_sequences": self.return_sequences,
            "l1": self.l1,
            "l2": self.l2,
        }
