"""RecurrentBlock: stacked SimpleRNN / LSTM / GRU layers, optionally bidirectional."""

import keras

from kerasext import _validation as v
from kerasext.api_export import kerasext_export
from kerasext.layers._regularizers import l1_l2

CELLS = {"simple": keras.layers.SimpleRNN, "lstm": keras.layers.LSTM, "gru": keras.layers.GRU}
MERGE_MODES = ("concat", "sum", "mul", "ave")


@kerasext_export
class RecurrentBlock(keras.layers.Layer):
    """A stack of recurrent layers (SimpleRNN, LSTM or GRU), optionally bidirectional.

    Each layer carries a hidden state along the sequence; every layer but the
    last returns its whole sequence so that the next one reads it step by
    step. Padding masks (from `keras.layers.Masking` or an `Embedding` with
    `mask_zero=True`) are passed to every layer, and returned when
    `return_sequences=True`.

    Args:
        units: positive integer, or a sequence of them: one recurrent layer
            per entry, e.g. `(32, 32)` for two stacked layers of 32 units.
        cell: `"simple"` (`SimpleRNN`), `"lstm"` or `"gru"`. Defaults to
            `"simple"`.
        bidirectional: whether each layer reads the sequence both ways.
            Defaults to `False`.
        merge_mode: how the two directions are combined when `bidirectional`:
            `"concat"`, `"sum"`, `"mul"` or `"ave"`. Defaults to `"concat"`.
        dropout: dropout rate in [0, 1) on the inputs of each layer.
            Defaults to `0.0`.
        recurrent_dropout: dropout rate in [0, 1) on the recurrent state.
            Note that a non-zero value disables the fused cuDNN kernels on GPU.
            Defaults to `0.0`.
        return_sequences: whether the last layer returns the whole sequence
            (sequence labelling) or only its last output. Defaults to `False`.
        l1: L1 penalty factor on the input kernels. Defaults to `0.0`.
        l2: L2 penalty factor on the input kernels. Defaults to `0.0`.
        seed: integer seed of the dropouts. Defaults to `None`.
        **kwargs: base layer keyword arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: a tensor of shape `(batch_size, timesteps, features)`.
        mask: optional boolean tensor of shape `(batch_size, timesteps)`,
            `False` at padded steps.
        training: whether dropout runs in training mode.

    Returns:
        A tensor of shape `(batch_size, timesteps, last_units)` if
        `return_sequences`, else `(batch_size, last_units)`; `last_units` is
        doubled for a bidirectional `"concat"` block.

    Example:

    ```python
    import numpy as np
    block = kx.layers.RecurrentBlock((16, 8), cell="lstm", bidirectional=True)
    y = block(np.random.rand(2, 5, 3).astype("float32"))
    assert tuple(y.shape) == (2, 16)
    ```

    Reference:
        - [Elman, 1990](https://doi.org/10.1207/s15516709cog1402_1) (simple RNN)
        - [Hochreiter & Schmidhuber, 1997](https://doi.org/10.1162/neco.1997.9.8.1735) (LSTM)
        - [Cho et al., 2014](https://arxiv.org/abs/1406.1078) (GRU)
        - [Schuster & Paliwal, 1997](https://doi.org/10.1109/78.650093) (bidirectional RNN)
    """

    def __init__(
        self,
        units,
        cell="simple",
        bidirectional=False,
        merge_mode="concat",
        dropout=0.0,
        recurrent_dropout=0.0,
        return_sequences=False,
        l1=0.0,
        l2=0.0,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        layer_units = v.as_positive_int_tuple("units", units)
        v.check_choice("cell", cell, tuple(CELLS))
        v.check_choice("merge_mode", merge_mode, MERGE_MODES)
        v.check_rate("dropout", dropout)
        v.check_rate("recurrent_dropout", recurrent_dropout)
        v.check_non_negative("l1", l1)
        v.check_non_negative("l2", l2)
        self.units = units
        self.cell = cell
        self.bidirectional = bidirectional
        self.merge_mode = merge_mode
        self.dropout = dropout
        self.recurrent_dropout = recurrent_dropout
        self.return_sequences = return_sequences
        self.l1 = l1
        self.l2 = l2
        self.seed = seed
        self.supports_masking = True

        self.recurrent_layers = []
        for index, size in enumerate(layer_units):
            last = index == len(layer_units) - 1
            layer = CELLS[cell](
                size,
                dropout=dropout,
                recurrent_dropout=recurrent_dropout,
                kernel_regularizer=l1_l2(l1, l2),
                return_sequences=return_sequences or not last,
                seed=None if seed is None else seed + index,
                dtype=self.dtype_policy,
                name=f"{cell}_{index}",
            )
            if bidirectional:
                layer = keras.layers.Bidirectional(
                    layer, merge_mode=merge_mode, dtype=self.dtype_policy,
                    name=f"bidirectional_{index}",
                )
            self.recurrent_layers.append(layer)

    def build(self, input_shape):
        if len(input_shape) != 3:
            raise ValueError(
                "RecurrentBlock expects inputs of rank 3 (batch_size, timesteps, features). "
                f"Received: input_shape={tuple(input_shape)}"
            )
        shape = tuple(input_shape)
        for layer in self.recurrent_layers:
            layer.build(shape)
            shape = layer.compute_output_shape(shape)

    def call(self, inputs, mask=None, training=None):
        x = inputs
        for layer in self.recurrent_layers:
            x = layer(x, mask=mask, training=training)
        return x

    def compute_mask(self, inputs, mask=None):
        return mask if self.return_sequences else None

    def compute_output_shape(self, input_shape):
        shape = tuple(input_shape)
        for layer in self.recurrent_layers:
            shape = layer.compute_output_shape(shape)
        return shape

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "cell": self.cell,
            "bidirectional": self.bidirectional,
            "merge_mode": self.merge_mode,
            "dropout": self.dropout,
            "recurrent_dropout": self.recurrent_dropout,
            "return_sequences": self.return_sequences,
            "l1": self.l1,
            "l2": self.l2,
            "seed": self.seed,
        }
