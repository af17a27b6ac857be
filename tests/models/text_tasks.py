"""A synthetic text task that needs word order: bag-of-words models stay at chance."""

import numpy as np

FIRST, SECOND = 1, 2  # the two marker tokens
VOCAB_SIZE = 20  # markers 1-2, distractors 3-19, padding 0


def order_task(n_train=1000, n_test=400, max_length=16, seed=0):
    """Class 1 when the bigram (FIRST, SECOND) occurs, class 0 when (SECOND, FIRST) does.

    Both markers occur in every sentence, the marker pair sits anywhere among
    random distractors, and lengths (5 to `max_length`) vary with 0-padding,
    so neither which tokens occur nor where they sit decides the class:
    only their order does.
    """
    rng = np.random.default_rng(seed)
    n = n_train + n_test
    tokens = np.zeros((n, max_length), dtype="int32")
    labels = rng.integers(0, 2, size=n)
    for i in range(n):
        length = rng.integers(5, max_length + 1)
        sentence = rng.integers(3, VOCAB_SIZE, size=length)
        start = rng.integers(0, length - 1)
        sentence[start : start + 2] = (FIRST, SECOND) if labels[i] else (SECOND, FIRST)
        tokens[i, :length] = sentence
    return (tokens[:n_train], labels[:n_train]), (tokens[n_train:], labels[n_train:])
