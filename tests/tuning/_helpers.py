"""Shared pieces of the tuning tests: one tiny instance of every HyperModel and its data."""

import numpy as np

import kerasext as kx
from kerasext.tuning.describe import explore

T = kx.tuning


def tiny_cases():
    """`{name: (hypermodel factory, x, y)}` for every HyperModel, on a few samples."""
    rng = np.random.default_rng(0)
    n = 24
    tokens = rng.integers(1, 30, size=(n, 8))
    source = rng.integers(1, 12, size=(n, 5))
    target = rng.integers(1, 14, size=(n, 6))
    return {
        "LinearRegression": (
            lambda **kw: T.HyperLinearRegression(3, **kw),
            rng.normal(size=(n, 3)).astype("float32"),
            rng.normal(size=(n, 1)).astype("float32"),
        ),
        "LogisticRegression": (
            lambda **kw: T.HyperLogisticRegression(4, num_classes=3, **kw),
            rng.normal(size=(n, 4)).astype("float32"),
            np.arange(n) % 3,
        ),
        "ConvNet": (
            lambda **kw: T.HyperConvNet((8, 8, 1), 3, **kw),
            rng.random((n, 8, 8, 1)).astype("float32"),
            np.arange(n) % 3,
        ),
        "RecurrentNet": (
            lambda **kw: T.HyperRecurrentNet((6, 3), 3, **kw),
            rng.random((n, 6, 3)).astype("float32"),
            np.arange(n) % 3,
        ),
        "TextCNN": (
            lambda **kw: T.HyperTextCNN(30, 8, 2, **kw),
            tokens,
            np.arange(n) % 2,
        ),
        "InceptionNet": (
            lambda **kw: T.HyperInceptionNet((8, 8, 1), 3, **kw),
            rng.random((n, 8, 8, 1)).astype("float32"),
            np.arange(n) % 3,
        ),
        "TransformerClassifier": (
            lambda **kw: T.HyperTransformerClassifier(30, 8, 2, **kw),
            tokens,
            np.arange(n) % 2,
        ),
        "EncoderDecoder": (
            lambda **kw: T.HyperEncoderDecoder(12, 14, 5, 6, **kw),
            (source, target),
            np.concatenate([target[:, 1:], np.full((n, 1), 13)], axis=1),
        ),
    }


#: Pins that keep each architecture small where a test trains it (searches stay cheap;
#: the training group and the remaining architecture choices stay tunable).
SMALL = {
    "LinearRegression": {},
    "LogisticRegression": {},
    "ConvNet": {"filters": 16, "num_blocks": 1, "dense_units": 64},
    "RecurrentNet": {"num_layers": 1, "simple_units": 16, "gated_units": 32},
    "TextCNN": {"embed_dim": 32, "filters": 32},
    "InceptionNet": {
        "width_multiplier": 0.0625, "stage3_blocks": 1, "stage4_blocks": 1,
        "stage5_blocks": 0, "stem_filters": 16,
    },
    "TransformerClassifier": {"num_layers": 1, "embed_dim": 32, "ff_dim": 64},
    "EncoderDecoder": {"units": 32, "embed_dim": 16},
}


def random_values(hypermodel, seed):
    """One random point of the whole space, drawn the way RandomSearchOracle draws.

    Walks every hyperparameter (inactive branches included, found by
    `explore`) in declaration order and samples those whose conditions hold
    for the values drawn so far.
    """
    values = {}
    for index, hp in enumerate(explore(hypermodel)):
        if hp.name not in values and all(c.is_active(values) for c in hp.conditions):
            values[hp.name] = hp.random_sample(seed * 1000 + index)
    return values
