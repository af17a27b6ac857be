"""ConfusionMatrix against scikit-learn's confusion_matrix / multilabel_confusion_matrix."""

import numpy as np
import pytest
from sklearn.metrics import confusion_matrix, multilabel_confusion_matrix

import kerasext as kx
from tests import conformance

pytestmark = pytest.mark.cross_backend


def test_confusion_matrix_equals_sklearn_in_every_mode(rng):
    y = rng.integers(0, 4, size=40)
    y[::7] = -1
    scores = rng.random((40, 4)).astype("float32")
    weights = rng.integers(0, 3, size=40).astype("float32")
    kept = y != -1
    for labels in (None, [3, 1]):
        for normalize in (None, "true", "pred", "all"):
            metric = kx.metrics.ConfusionMatrix(num_classes=4, labels=labels, ignore_class=-1,
                                                normalize=normalize)
            for start in range(0, 40, 15):
                part = slice(start, start + 15)
                metric.update_state(y[part, None], scores[part], sample_weight=weights[part])
            expected = confusion_matrix(y[kept], scores[kept].argmax(-1),
                                        labels=labels if labels else range(4),
                                        sample_weight=weights[kept], normalize=normalize)
            result = np.asarray(metric.result())
            # Counts are exact everywhere; a normalized matrix is one division of exact counts,
            # in float64 where the backend has it, else float32 (JAX without jax_enable_x64,
            # where XLA divides by a broadcast total through its reciprocal: within 2 ulps).
            rtol = 0 if normalize is None else 1e-12 if result.dtype == np.float64 else 2**-22
            np.testing.assert_allclose(result, expected, rtol=rtol, err_msg=f"{labels} {normalize}")

    binary = kx.metrics.ConfusionMatrix(threshold=0.3)
    binary.update_state(y[kept] % 2, scores[kept, 0])
    np.testing.assert_array_equal(np.asarray(binary.result()),
                                  confusion_matrix(y[kept] % 2, scores[kept, 0] > np.float32(0.3)))

    indicators = rng.integers(0, 2, size=(25, 3))
    multilabel = kx.metrics.ConfusionMatrix(task="multilabel", num_classes=3, labels=[2, 0])
    multilabel.update_state(indicators, scores[:25, :3], sample_weight=weights[:25])
    np.testing.assert_array_equal(
        np.asarray(multilabel.result()),
        multilabel_confusion_matrix(indicators, scores[:25, :3] > 0.5, labels=[2, 0],
                                    sample_weight=weights[:25]))


def test_confusion_matrix_passes_the_conformance_harness(rng):
    y = rng.integers(0, 3, size=(12, 4))
    scores = rng.random((12, 4, 3)).astype("float32")
    weights = rng.integers(1, 4, size=12).astype("float32")
    expected = confusion_matrix(y.ravel(), scores.argmax(-1).ravel(), labels=range(3),
                                sample_weight=np.repeat(weights, 4))
    conformance.run_metric_test(kx.metrics.ConfusionMatrix, {"num_classes": 3}, y, scores,
                                weights, expected=expected)
