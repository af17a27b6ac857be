"""Offline data for the seed-architecture tests: scikit-learn's bundled sets, synthetic tasks."""

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split


def digits_split(seed=0):
    """scikit-learn's 8x8 digits scaled to [0, 1], as (batch, 8, 8), 80/20 stratified split."""
    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype("float32").reshape(-1, 8, 8)
    return train_test_split(x, y, test_size=0.2, stratify=y, random_state=seed)


def adding_problem(num_samples, length, rng):
    """The adding problem (Hochreiter & Schmidhuber 1997, experiment 4).

    Each step carries a value drawn from U(0, 1) and a marker; exactly two
    steps are marked, one in each half of the sequence, and the target is the
    sum of their two values. Predicting the mean (1.0) scores an MSE of 1/6.
    """
    values = rng.uniform(size=(num_samples, length))
    markers = np.zeros((num_samples, length))
    rows = np.arange(num_samples)
    markers[rows, rng.integers(0, length // 2, size=num_samples)] = 1.0
    markers[rows, rng.integers(length // 2, length, size=num_samples)] = 1.0
    x = np.stack([values, markers], axis=-1).astype("float32")
    y = (values * markers).sum(axis=1, keepdims=True).astype("float32")
    return x, y


#: Learning tests (several epochs on real or synthetic data) run on TensorFlow only: every
#: backend's training step is already checked by the conformance harness and the short fits,
#: and these would take the JAX and torch suites past their time budget.
TENSORFLOW_ONLY_LEARNING = pytest.mark.tensorflow_only(
    "learns over several epochs: run on TensorFlow only, for the cross-backend time budget"
)
