"""MatthewsCorrelation, CohenKappa, BalancedAccuracy: equal to scikit-learn, streamed, weighted,
for every label format, through the conformance harness and inside a compiled model."""

import warnings

import keras
import numpy as np
import pytest
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.metrics import (
    balanced_accuracy_score,
    cohen_kappa_score,
    matthews_corrcoef,
    top_k_accuracy_score,
)

import kerasext as kx
from kerasext._compat import set_random_seed
from tests import conformance

M = kx.metrics

pytestmark = pytest.mark.cross_backend

# Scores in [-1, 1]; JAX without x64 computes them in float32 from correctly rounded counts.
TOL = {"rtol": 1e-6, "atol": 1e-6}

CASES = [
    (M.MatthewsCorrelation, {}, matthews_corrcoef),
    (M.CohenKappa, {}, cohen_kappa_score),
    (M.CohenKappa, {"weights": "linear"}, cohen_kappa_score),
    (M.CohenKappa, {"weights": "quadratic"}, cohen_kappa_score),
    (M.BalancedAccuracy, {}, balanced_accuracy_score),
    (M.BalancedAccuracy, {"adjusted": True}, balanced_accuracy_score),
]
IDS = [f"{cls.__name__}-{'-'.join(map(str, kwargs.values())) or 'default'}"
       for cls, kwargs, _ in CASES]


def _softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return (e / e.sum(-1, keepdims=True)).astype("float32")


def _sigmoid(x):
    return (1.0 / (1.0 + np.exp(-x))).astype("float32")


def _reference(function, y_true, y_pred, sample_weight=None, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # balanced accuracy warns about classes not in y_true
        return function(y_true, y_pred, sample_weight=sample_weight, **kwargs)


def _streamed(metric, y_true, y_pred, weights=None, splits=(0, 7, 8, 19)):
    bounds = [*splits, len(y_pred)]
    for start, stop in zip(bounds[:-1], bounds[1:]):
        metric.update_state(y_true[start:stop], y_pred[start:stop],
                            sample_weight=None if weights is None else weights[start:stop])
    return float(metric.result())


def _multiclass_data(rng, n=40, num_classes=4, absent=1):
    y = rng.integers(0, num_classes, size=n)
    y[y == absent] = 0  # a class absent from y_true (it may still be predicted)
    scores = _softmax(rng.normal(size=(n, num_classes)) + 1.2 * np.eye(num_classes)[y])
    weights = rng.integers(0, 4, size=n).astype("float32") * 0.75
    return y, scores, weights


@pytest.mark.parametrize(("cls", "kwargs", "reference"), CASES, ids=IDS)
def test_multiclass_equals_sklearn_streamed_for_every_label_format(cls, kwargs, reference, rng):
    y, scores, weights = _multiclass_data(rng)
    predicted = scores.argmax(-1)
    for y_true in (y, y[:, None], np.eye(4, dtype="float32")[y]):
        for w in (None, weights):
            expected = _reference(reference, y, predicted, w, **kwargs)
            actual = _streamed(cls(num_classes=4, **kwargs), y_true, scores, w)
            np.testing.assert_allclose(actual, expected, **TOL,
                                       err_msg=f"{y_true.shape} weighted={w is not None}")
    # Logits give the argmax of the probabilities.
    logits = np.log(scores)
    expected = _reference(reference, y, predicted, weights, **kwargs)
    actual = _streamed(cls(num_classes=4, from_logits=True, **kwargs), y, logits, weights)
    np.testing.assert_allclose(actual, expected, **TOL)


@pytest.mark.parametrize(("cls", "kwargs", "reference"), CASES, ids=IDS)
def test_binary_equals_sklearn_streamed_for_every_label_format(cls, kwargs, reference, rng):
    y = rng.integers(0, 2, size=30)
    logits = (rng.normal(size=30) + 1.5 * (y - 0.5)).astype("float32")
    weights = rng.random(30).astype("float32")
    for threshold in (0.5, 0.3):
        predicted = (_sigmoid(logits) > np.float32(threshold)).astype(int)
        for y_true, y_pred in ((y, _sigmoid(logits)), (y[:, None], _sigmoid(logits)[:, None])):
            for w in (None, weights):
                expected = _reference(reference, y, predicted, w, **kwargs)
                actual = _streamed(cls(threshold=threshold, **kwargs), y_true, y_pred, w)
                np.testing.assert_allclose(actual, expected, **TOL)
    expected = _reference(reference, y, (logits > 0).astype(int), weights, **kwargs)
    actual = _streamed(cls(from_logits=True, **kwargs), y, logits, weights)
    np.testing.assert_allclose(actual, expected, **TOL)


@pytest.mark.parametrize(("cls", "kwargs", "reference"), CASES, ids=IDS)
def test_ignore_class_skips_padding_in_sequences(cls, kwargs, reference, rng):
    y = rng.integers(0, 3, size=(6, 5))
    y[:, 3:] = -1
    scores = _softmax(rng.normal(size=(6, 5, 3)) + np.eye(3)[np.maximum(y, 0)])
    metric = cls(num_classes=3, ignore_class=-1, **kwargs)
    metric.update_state(y[..., None], scores)
    kept = y != -1
    expected = _reference(reference, y[kept], scores.argmax(-1)[kept], **kwargs)
    np.testing.assert_allclose(float(metric.result()), expected, **TOL)


def test_kappa_with_labels_equals_sklearn(rng):
    y, scores, weights = _multiclass_data(rng, num_classes=5)
    predicted = scores.argmax(-1)
    for weighting in (None, "linear", "quadratic"):
        for labels in ([0, 1, 2, 3, 4], [3, 0, 2]):
            metric = M.CohenKappa(num_classes=5, weights=weighting, labels=labels)
            expected = cohen_kappa_score(y, predicted, weights=weighting, labels=labels,
                                         sample_weight=weights)
            np.testing.assert_allclose(_streamed(metric, y, scores, weights), expected, **TOL)


def test_weighted_kappa_measures_distances_between_present_classes_as_sklearn():
    # Class 1 never occurs: scikit-learn's label list is [0, 2, 3], so 0 and 2 are 1 apart.
    y_true = np.array([0, 2, 3, 3, 2, 0])
    y_pred = np.array([2, 2, 3, 0, 0, 0])
    metric = M.CohenKappa(num_classes=4, weights="linear")
    metric.update_state(y_true, np.eye(4)[y_pred])
    expected = cohen_kappa_score(y_true, y_pred, weights="linear")
    assert expected != cohen_kappa_score(y_true, y_pred, weights="linear", labels=range(4))
    np.testing.assert_allclose(float(metric.result()), expected, **TOL)


@pytest.mark.filterwarnings("ignore:A single label was found:UserWarning")
def test_degenerate_cases_follow_sklearn():
    y_true = np.array([0, 1, 2, 1])
    one_class = np.eye(3)[[1, 1, 1, 1]]
    # MCC: a zero denominator gives 0.0.
    metric = M.MatthewsCorrelation(num_classes=3)
    assert float(metric.result()) == 0.0  # nothing seen
    metric.update_state(y_true, one_class)
    assert float(metric.result()) == _reference(matthews_corrcoef, y_true, [1, 1, 1, 1]) == 0.0
    # Kappa: one class in common is undefined, NaN as scikit-learn, or replace_undefined_by.
    with pytest.warns(UndefinedMetricWarning):
        assert np.isnan(cohen_kappa_score([1, 1], [1, 1]))
    metric = M.CohenKappa(num_classes=3)
    assert np.isnan(float(metric.result()))
    metric.update_state(np.array([1, 1]), np.eye(3)[[1, 1]])
    assert np.isnan(float(metric.result()))
    metric = M.CohenKappa(num_classes=3, replace_undefined_by=0.0)
    metric.update_state(np.array([1, 1]), np.eye(3)[[1, 1]])
    assert float(metric.result()) == 0.0
    # Balanced accuracy: classes absent from y_true are left out; a perfect score is 1.0.
    metric = M.BalancedAccuracy(num_classes=3)
    assert float(metric.result()) == 0.0
    metric.update_state(np.array([0, 0, 2]), np.eye(3)[[0, 0, 2]])
    assert float(metric.result()) == 1.0
    metric.update_state(np.array([2]), np.eye(3)[[1]])
    expected = _reference(balanced_accuracy_score, [0, 0, 2, 2], [0, 0, 2, 1])
    np.testing.assert_allclose(float(metric.result()), expected, **TOL)


def test_perfect_and_inverted_predictions_score_exactly():
    y = np.array([0, 1, 2, 2, 1, 0, 1])
    for cls in (M.MatthewsCorrelation, M.CohenKappa, M.BalancedAccuracy):
        metric = cls(num_classes=3)
        metric.update_state(y, np.eye(3)[y])
        assert float(metric.result()) == 1.0, cls.__name__
    metric = M.MatthewsCorrelation()
    metric.update_state(np.array([0, 1, 1, 0]), np.array([0.9, 0.1, 0.2, 0.8]))
    assert float(metric.result()) == -1.0


def test_large_weighted_counts_stay_exact():
    # 2**25 + 1 is not a float32: the counts are kept exact on every backend.
    y_true, y_pred = np.array([0, 1, 1, 0]), np.array([0, 1, 0, 1])
    weights = np.array([2.0**25 + 1, 3.0, 2.0**25, 5.0])
    for cls, reference in ((M.MatthewsCorrelation, matthews_corrcoef),
                           (M.CohenKappa, cohen_kappa_score),
                           (M.BalancedAccuracy, balanced_accuracy_score)):
        metric = cls()
        metric.update_state(y_true, y_pred.astype("float32"), sample_weight=weights)
        np.testing.assert_allclose(float(metric.result()),
                                   reference(y_true, y_pred, sample_weight=weights), **TOL)


# --------------------------------------------------------------------------- top-k accuracy


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.UndefinedMetricWarning")  # k >= C
@pytest.mark.parametrize("k", [1, 2, 3, 5])
def test_top_k_equals_sklearn_streamed_with_ties(k, rng):
    # Scores on a coarse grid: many ties, broken as scikit-learn's stable sort breaks them.
    y = rng.integers(0, 5, size=40)
    scores = (rng.integers(0, 4, size=(40, 5)) / 4.0).astype("float32")
    weights = rng.random(40).astype("float32")
    for y_true in (y, y[:, None], np.eye(5, dtype="float32")[y]):
        for w in (None, weights):
            expected = top_k_accuracy_score(y, scores, k=k, labels=range(5), sample_weight=w)
            np.testing.assert_allclose(_streamed(M.TopKAccuracy(k=k), y_true, scores, w),
                                       expected, **TOL)


def test_top_k_skips_ignored_positions_in_sequences(rng):
    y = rng.integers(0, 4, size=(6, 5))
    y[:, 3:] = -1
    scores = rng.normal(size=(6, 5, 4)).astype("float32")
    weights = rng.random(6).astype("float32")
    metric = M.TopKAccuracy(k=2, ignore_class=-1)
    metric.update_state(y, scores, sample_weight=weights)
    kept = y != -1
    expected = top_k_accuracy_score(y[kept], scores[kept], k=2, labels=range(4),
                                    sample_weight=np.broadcast_to(weights[:, None], y.shape)[kept])
    np.testing.assert_allclose(float(metric.result()), expected, **TOL)
    assert float(M.TopKAccuracy().result()) == 0.0


def test_top_k_rejects_predictions_without_class_scores():
    with pytest.raises(ValueError, match="C >= 2"):
        M.TopKAccuracy(k=1).update_state(np.array([0, 1]), np.array([0.2, 0.9]))


# --------------------------------------------------------------------------- arguments


@pytest.mark.parametrize(("cls", "kwargs", "argument"), [
    (M.CohenKappa, {"num_classes": 3, "weights": "cubic"}, "weights"),
    (M.CohenKappa, {"num_classes": 3, "replace_undefined_by": 2.0}, "replace_undefined_by"),
    (M.CohenKappa, {"num_classes": 3, "replace_undefined_by": "zero"}, "replace_undefined_by"),
    (M.BalancedAccuracy, {"num_classes": 3, "adjusted": "yes"}, "adjusted"),
    (M.MatthewsCorrelation, {"task": "multilabel", "num_classes": 3}, "task"),
    (M.MatthewsCorrelation, {"num_classes": 1}, "num_classes"),
    (M.BalancedAccuracy, {"threshold": 1.5}, "threshold"),
    (M.TopKAccuracy, {"k": 0}, "k"),
    (M.TopKAccuracy, {"k": 2.0}, "k"),
    (M.TopKAccuracy, {"ignore_class": "pad"}, "ignore_class"),
])
def test_bad_arguments_raise_in_keras_form(cls, kwargs, argument):
    with pytest.raises(ValueError, match=rf"Invalid `{argument}` argument value\. Expected .*"
                                         rf"Received: {argument}="):
        cls(**kwargs)


def test_config_round_trip_and_direction():
    for metric in (M.MatthewsCorrelation(num_classes=3, ignore_class=-1, name="mcc"),
                   M.CohenKappa(num_classes=4, weights="quadratic", labels=[3, 1],
                                replace_undefined_by=0.0),
                   M.CohenKappa(replace_undefined_by=float("nan")),
                   M.BalancedAccuracy(adjusted=True, threshold=0.3, from_logits=True),
                   M.TopKAccuracy(k=3, ignore_class=-1)):
        config = metric.get_config()
        revived = type(metric).from_config(config)
        assert revived.get_config() == config
        assert metric._direction == "up"
        serialized = keras.saving.serialize_keras_object(metric)
        assert serialized["registered_name"] == f"kerasext>{type(metric).__name__}"


# --------------------------------------------------------------------------- harness and models


def test_agreement_scores_pass_the_conformance_harness(rng):
    y, scores, weights = _multiclass_data(rng, n=18, num_classes=3)
    predicted = scores.argmax(-1)
    binary = rng.integers(0, 2, size=18)
    binary_scores = rng.random((18, 1)).astype("float32")
    cases = [
        (M.MatthewsCorrelation, {"num_classes": 3}, y, scores, weights,
         matthews_corrcoef(y, predicted, sample_weight=weights)),
        (M.CohenKappa, {"num_classes": 3, "weights": "quadratic"}, np.eye(3)[y], scores, None,
         cohen_kappa_score(y, predicted, weights="quadratic")),
        (M.BalancedAccuracy, {"threshold": 0.4}, binary[:, None], binary_scores, weights,
         balanced_accuracy_score(binary, (binary_scores[:, 0] > np.float32(0.4)).astype(int),
                                 sample_weight=weights)),
    ]
    cases.append((M.TopKAccuracy, {"k": 2}, y[:, None], scores, weights,
                  top_k_accuracy_score(y, scores, k=2, labels=range(3), sample_weight=weights)))
    for cls, kwargs, y_true, y_pred, w, expected in cases:
        conformance.run_metric_test(cls, kwargs, y_true, y_pred, w, expected=expected, **TOL)


def test_compiled_model_evaluate_equals_sklearn_on_its_predictions(rng):
    x = rng.normal(size=(30, 5)).astype("float32")
    y = rng.integers(0, 3, size=30)
    set_random_seed(1)
    model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(3, activation="softmax")])
    model.compile(loss="sparse_categorical_crossentropy", metrics=[
        M.MatthewsCorrelation(num_classes=3),
        M.CohenKappa(num_classes=3, weights="linear"),
        M.BalancedAccuracy(num_classes=3),
        M.TopKAccuracy(k=2),
    ])
    logs = model.evaluate(x, y, batch_size=8, verbose=0, return_dict=True)
    predicted = model.predict(x, verbose=0).argmax(-1)
    np.testing.assert_allclose(logs["matthews_correlation"], matthews_corrcoef(y, predicted),
                               **TOL)
    np.testing.assert_allclose(logs["cohen_kappa"],
                               cohen_kappa_score(y, predicted, weights="linear"), **TOL)
    np.testing.assert_allclose(logs["top_k_accuracy"], top_k_accuracy_score(
        y, model.predict(x, verbose=0), k=2, labels=range(3)), **TOL)
    np.testing.assert_allclose(logs["balanced_accuracy"],
                               _reference(balanced_accuracy_score, y, predicted), **TOL)


def test_top_k_checks_labels_and_scores_as_every_metric():
    metric = M.TopKAccuracy(k=1)
    with pytest.raises(ValueError, match=r"integer class ids in \[0, 3\).*Received: y_true=\[7\]"):
        metric.update_state(np.array([0, 7]), np.eye(3, dtype="float32")[[0, 1]])
    with pytest.raises(ValueError, match="y_pred with NaN"):
        metric.update_state(np.array([0, 1]), np.array([[0.5, np.nan, 0.1], [0.2, 0.3, 0.5]]))
    assert float(metric.result()) == 0.0  # the failed batches counted nothing


def test_every_metric_says_whether_higher_is_better():
    scores = [M.Precision(), M.Recall(), M.FBetaScore(), M.F1Score(),
              M.MatthewsCorrelation(), M.CohenKappa(), M.BalancedAccuracy(), M.TopKAccuracy(),
              M.ClassificationReport()]
    for metric in scores:
        assert metric.higher_is_better is True and metric._direction == "up", metric.name
    # A matrix has no direction: Keras' callbacks must not guess one from `_direction`.
    matrix = M.ConfusionMatrix()
    assert matrix.higher_is_better is None and not hasattr(matrix, "_direction")
