"""The reverse-a-sequence task (Sutskever et al. 2014; Cho et al. 2014 style seq2seq)."""

import numpy as np

PAD, START, END = 0, 11, 12
INPUT_VOCAB_SIZE = 11  # padding + tokens 1..10
OUTPUT_VOCAB_SIZE = 13  # padding + tokens 1..10 + start + end


def reverse_task(n, min_length=5, max_length=8, seed=0):
    """Sequences of 5-8 tokens over a 10-token vocabulary, and their reversals.

    Returns `(source, decoder_inputs, decoder_targets, reversed_with_end)`:
    the decoder inputs are START then the reversed sequence, the targets the
    reversed sequence then END (teacher forcing); all padded with 0.
    """
    rng = np.random.default_rng(seed)
    source = np.zeros((n, max_length), dtype="int32")
    decoder_inputs = np.zeros((n, max_length + 1), dtype="int32")
    decoder_targets = np.zeros((n, max_length + 1), dtype="int32")
    for i in range(n):
        length = rng.integers(min_length, max_length + 1)
        sequence = rng.integers(1, 11, size=length)
        source[i, :length] = sequence
        decoder_inputs[i, : length + 1] = [START, *sequence[::-1]]
        decoder_targets[i, : length + 1] = [*sequence[::-1], END]
    return source, decoder_inputs, decoder_targets
