"""kerasext.metrics.functional against scikit-learn, on every label format the classes accept."""

import inspect
import re

import keras
import numpy as np
import pytest
import sklearn.metrics as sk

import kerasext as kx
from kerasext.metrics import functional as F

pytestmark = pytest.mark.cross_backend

# The results are float64 where the backend has it; on JAX without x64, float32 from exact counts.
TOL = {"rtol": 1e-6, "atol": 1e-6}
N, C = 24, 4
#: JAX compiles each eager operation for its shapes (seconds per new format and metric): there
#: one format per task runs (the classes' own tests cover the formats on JAX); the other
#: backends run them all.
ON_JAX = keras.backend.backend() == "jax"


def _data(rng):
    y = rng.integers(0, C, N)
    scores = rng.random((N, C)).astype("float32")
    weights = rng.random(N).astype("float32")
    return y, scores, weights


def _multiclass_formats(y, scores):
    """(y_true, y_pred) in each single-label format the classes read, as NumPy and tensors."""
    yield y, scores
    if ON_JAX:
        return
    yield np.eye(C, dtype="float32")[y], scores
    yield y[:, None], scores
    yield keras.ops.convert_to_tensor(y), keras.ops.convert_to_tensor(scores)
    # Sequence labelling: (batch, time) labels, (batch, time, C) scores.
    yield y.reshape(4, 6), scores.reshape(4, 6, C)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.UndefinedMetricWarning")
def test_multiclass_functions_equal_sklearn_on_every_format(rng):
    y, scores, weights = _data(rng)
    predicted = scores.argmax(-1)
    cases = [
        (F.precision_score, {"average": "macro"},
         sk.precision_score(y, predicted, average="macro", sample_weight=weights)),
        (F.recall_score, {"average": None},
         sk.recall_score(y, predicted, average=None, labels=range(C), sample_weight=weights)),
        (F.fbeta_score, {"beta": 0.5, "average": "weighted"},
         sk.fbeta_score(y, predicted, beta=0.5, average="weighted", sample_weight=weights)),
        (F.f1_score, {"average": "micro"},
         sk.f1_score(y, predicted, average="micro", sample_weight=weights)),
        (F.confusion_matrix, {},
         sk.confusion_matrix(y, predicted, labels=range(C), sample_weight=weights)),
        (F.confusion_matrix, {"normalize": "true", "labels": [2, 0]},
         sk.confusion_matrix(y, predicted, labels=[2, 0], normalize="true",
                             sample_weight=weights)),
        (F.matthews_corrcoef, {}, sk.matthews_corrcoef(y, predicted, sample_weight=weights)),
        (F.cohen_kappa_score, {},
         sk.cohen_kappa_score(y, predicted, sample_weight=weights)),
        (F.cohen_kappa_score, {"weights": "quadratic"},
         sk.cohen_kappa_score(y, predicted, weights="quadratic", sample_weight=weights)),
        (F.balanced_accuracy_score, {"adjusted": True},
         sk.balanced_accuracy_score(y, predicted, adjusted=True, sample_weight=weights)),
    ]
    for y_true, y_pred in _multiclass_formats(y, scores):
        w = weights.reshape(4, 6) if len(y_pred.shape) == 3 else weights
        for function, kwargs, expected in cases:
            value = function(y_true, y_pred, sample_weight=w, num_classes=C, **kwargs)
            np.testing.assert_allclose(value, expected, **TOL,
                                       err_msg=f"{function.__name__} {kwargs}")
    # Unweighted: scikit-learn's integer matrix, exactly.
    matrix = F.confusion_matrix(y, scores, num_classes=C)
    assert matrix.tolist() == sk.confusion_matrix(y, predicted, labels=range(C)).tolist()


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.UndefinedMetricWarning")  # k >= C
def test_top_k_accuracy_score_equals_sklearn_on_every_format(rng):
    y, scores, weights = _data(rng)
    scores = np.round(scores * 3) / 3  # ties, broken as scikit-learn's stable sort
    for k in (2,) if ON_JAX else (1, 2):
        expected = sk.top_k_accuracy_score(y, scores, k=k, labels=range(C),
                                           sample_weight=weights)
        for y_true, y_score in list(_multiclass_formats(y, scores))[:4]:  # no sequences
            value = F.top_k_accuracy_score(y_true, y_score, k=k, sample_weight=weights)
            np.testing.assert_allclose(value, expected, **TOL)


def test_binary_functions_equal_sklearn_on_every_format(rng):
    y = rng.integers(0, 2, N)
    scores = rng.random(N).astype("float32")
    weights = rng.random(N)  # float64 weights: split exactly into float32 pairs
    predicted = (scores > 0.5).astype(int)
    cases = [
        (F.precision_score, sk.precision_score),
        (F.recall_score, sk.recall_score),
        (F.f1_score, sk.f1_score),
        (F.matthews_corrcoef, sk.matthews_corrcoef),
        (F.cohen_kappa_score, sk.cohen_kappa_score),
        (F.balanced_accuracy_score, sk.balanced_accuracy_score),
    ]
    formats = [(y, scores), (y[:, None], scores[:, None]), (y, scores[:, None])]
    for y_true, y_pred in formats[:1] if ON_JAX else formats:
        for function, reference in cases:
            np.testing.assert_allclose(
                function(y_true, y_pred, sample_weight=weights),
                reference(y, predicted, sample_weight=weights), **TOL,
                err_msg=function.__name__)
        np.testing.assert_allclose(
            F.confusion_matrix(y_true, y_pred, sample_weight=weights),
            sk.confusion_matrix(y, predicted, sample_weight=weights), **TOL)
        np.testing.assert_allclose(
            F.fbeta_score(y_true, y_pred, beta=2.0, threshold=0.3),
            sk.fbeta_score(y, (scores > np.float32(0.3)).astype(int), beta=2.0), **TOL)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.UndefinedMetricWarning")
def test_multilabel_functions_equal_sklearn(rng):
    y = rng.integers(0, 2, (N, C))
    logits = rng.normal(size=(N, C)).astype("float32")
    predicted = (logits > 0).astype(int)
    weights = rng.random(N).astype("float32")
    common = {"task": "multilabel", "num_classes": C, "from_logits": True}
    for average in ("macro", "samples") if ON_JAX else ("micro", "macro", "weighted", "samples",
                                                           None):
        for function, reference in ((F.precision_score, sk.precision_score),
                                    (F.recall_score, sk.recall_score),
                                    (F.f1_score, sk.f1_score)):
            np.testing.assert_allclose(
                function(y, logits, sample_weight=weights, average=average, **common),
                reference(y, predicted, average=average, sample_weight=weights), **TOL,
                err_msg=f"{function.__name__} {average}")
    np.testing.assert_allclose(
        F.confusion_matrix(y, logits, sample_weight=weights, **common),
        sk.multilabel_confusion_matrix(y, predicted, sample_weight=weights), **TOL)


def test_functions_return_host_values_and_the_classes_result(rng):
    y, scores, _ = _data(rng)
    value = F.f1_score(y, scores, num_classes=C)
    assert isinstance(value, float)
    assert isinstance(F.recall_score(y, scores, num_classes=C, average=None), np.ndarray)
    # The same code as the class: one update, one result().
    metric = kx.metrics.F1Score(num_classes=C, dtype=F._doublefloat.counts_dtype())
    metric.update_state(y, scores)
    assert value == float(metric.result())
    with pytest.raises(ValueError, match="Invalid `average` argument value"):
        F.f1_score(y, scores, num_classes=C, average="mean")
    assert kx.metrics.functional is F


@pytest.mark.skipif(ON_JAX, reason="the same code as on TensorFlow and torch; seconds on JAX")
def test_every_function_has_an_example_that_runs(monkeypatch, tmp_path):
    # The module is not a class registry entry: run its examples here.
    monkeypatch.chdir(tmp_path)
    for name in F.__all__:
        doc = inspect.getdoc(getattr(F, name))
        example = re.search(r"Example:\s*\n\s*```python\n(.*?)```", doc, re.S).group(1)
        exec(compile(example, f"<{name} example>", "exec"), {"kx": kx})


def test_ranking_functions_equal_sklearn_with_ties(rng):
    y = rng.integers(0, 3, 60)
    counts = rng.integers(1, 4, (60, 3)).astype("float64")  # few distinct rows: many ties
    scores = counts / counts.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(
        F.roc_auc_score(y, scores, num_classes=3),
        sk.roc_auc_score(y, scores, multi_class="ovr"), rtol=1e-12)
    binary_true, binary_score = (y == 1).astype(int), scores[:, 1]
    np.testing.assert_allclose(
        F.average_precision_score(binary_true, binary_score),
        sk.average_precision_score(binary_true, binary_score), rtol=1e-12)
