"""AUROC and AveragePrecision: equal to scikit-learn's roc_auc_score / average_precision_score,
ties included, streamed, weighted, for every label format and average, in compiled models; the
capacity error; the binned mode within its stated bound."""

import warnings

import keras
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.metrics import average_precision_score, roc_auc_score

import kerasext as kx
from kerasext._compat import set_random_seed
from kerasext.metrics import ranking
from kerasext.metrics.confusion import HOST
from tests import conformance

M = kx.metrics

# The reductions run on the host (float64 NumPy) or in keras.ops on every backend: the small
# tests below run on JAX and torch too (`cross_backend`); the wide parametrizations of the
# host mathematics run on TensorFlow only, to keep the JAX suite within seconds.
cross_backend = pytest.mark.cross_backend

#: The eager result is float64 NumPy cast to float32.
TOL = {"rtol": 2e-6, "atol": 1e-7}
#: `compute(HOST)`: float64 from the kept float32 scores, as scikit-learn's on the same values.
EXACT = {"rtol": 1e-12, "atol": 1e-14}
#: The compiled result: float32 where the backend has no float64 (JAX without x64).
GRAPH = {"rtol": 1e-5, "atol": 1e-6}

CLASSES = [(M.AUROC, roc_auc_score), (M.AveragePrecision, average_precision_score)]
CLASS_IDS = ["auroc", "average_precision"]
AVERAGES = ["macro", "weighted", "micro", None]


def _reference(function, y_true, y_score, sample_weight=None, **kwargs):
    """scikit-learn on float64 copies (its weighted average multiplies in the weights' dtype)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # one class in y_true: scikit-learn warns, returns NaN
        weight = None if sample_weight is None else np.asarray(sample_weight, "float64")
        return function(y_true, np.asarray(y_score, "float64"), sample_weight=weight, **kwargs)


def _stream(metric, y_true, y_score, weights=None, splits=(0, 9, 10, 27)):
    bounds = [*splits, len(y_score)]
    for start, stop in zip(bounds[:-1], bounds[1:]):
        metric.update_state(y_true[start:stop], y_score[start:stop],
                            sample_weight=None if weights is None else weights[start:stop])
    return metric


def _check(metric, expected):
    """The eager result, the float64 host value and the compiled (keras.ops) value."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        np.testing.assert_allclose(np.asarray(metric.result()), expected, **TOL)
        np.testing.assert_allclose(metric.compute(HOST), expected, **EXACT)
        np.testing.assert_allclose(keras.ops.convert_to_numpy(metric.compute()), expected,
                                   **GRAPH)


def _ties(values):
    return np.round(values, 1).astype("float32")


def _softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return (e / e.sum(-1, keepdims=True)).astype("float32")


@cross_backend
@pytest.mark.parametrize("cls, function", CLASSES, ids=CLASS_IDS)
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("label_shape", ["(N,)", "(N, 1)"])
def test_binary_with_ties_equals_sklearn_streamed(cls, function, weighted, label_shape, rng):
    y = rng.integers(0, 2, size=40)
    scores = _ties(rng.random(40))
    weights = rng.random(40).astype("float32") if weighted else None
    labels = y if label_shape == "(N,)" else y[:, None]
    metric = _stream(cls(capacity=64), labels, scores[:, None], weights)
    _check(metric, _reference(function, y, scores, weights))


@pytest.mark.parametrize("cls, function", CLASSES, ids=CLASS_IDS)
@pytest.mark.parametrize("average", AVERAGES)
@pytest.mark.parametrize("label_format", ["sparse", "sparse (N, 1)", "one-hot"])
def test_multiclass_one_vs_rest_equals_sklearn(cls, function, average, label_format, rng):
    num_classes = 4
    y = rng.integers(0, num_classes, size=40)
    y[:num_classes] = np.arange(num_classes)
    scores = _softmax(rng.normal(size=(40, num_classes)))
    weights = rng.random(40).astype("float32")
    labels = {"sparse": y, "sparse (N, 1)": y[:, None], "one-hot": np.eye(num_classes)[y]}[
        label_format]
    metric = _stream(cls(num_classes=num_classes, average=average, capacity=40), labels,
                     scores, weights)
    extra = {"multi_class": "ovr"} if cls is M.AUROC else {}
    if cls is M.AUROC and average == "micro":
        # scikit-learn's ovr micro average is the indicator matrix's (its own code path).
        expected = _reference(function, np.eye(num_classes)[y], scores, weights, average="micro")
    else:
        expected = _reference(function, y, scores, weights, average=average, **extra)
    _check(metric, expected)


@pytest.mark.parametrize("cls, function", CLASSES, ids=CLASS_IDS)
@pytest.mark.parametrize("average", AVERAGES)
def test_multiclass_ties_equal_sklearn_one_vs_rest(cls, function, average, rng):
    # Rounded scores do not sum to 1, which scikit-learn's multi_class="ovr" refuses: its
    # one-vs-rest score is the score of the binarized labels, computed here directly.
    num_classes = 3
    y = rng.integers(0, num_classes, size=36)
    y[:num_classes] = np.arange(num_classes)
    scores = _ties(rng.random((36, num_classes)))
    metric = _stream(cls(num_classes=num_classes, average=average, capacity=36), y, scores)
    _check(metric, _reference(function, np.eye(num_classes)[y], scores, average=average))


@pytest.mark.parametrize("cls, function", CLASSES, ids=CLASS_IDS)
@pytest.mark.parametrize("average", AVERAGES)
def test_multilabel_with_ties_equals_sklearn(cls, function, average, rng):
    y = rng.integers(0, 2, size=(40, 3))
    y[0], y[1] = 1, 0  # every label has a positive and a negative
    scores = _ties(rng.random((40, 3)))
    weights = rng.random(40).astype("float32")
    metric = _stream(cls(task="multilabel", num_classes=3, average=average, capacity=50), y,
                     scores, weights)
    _check(metric, _reference(function, y, scores, weights, average=average))


@cross_backend
@pytest.mark.parametrize("average", ["micro", None])
def test_multiclass_and_multilabel_on_every_backend(average, rng):
    y = rng.integers(0, 3, size=24)
    y[:3] = np.arange(3)
    scores = _ties(rng.random((24, 3)))
    weights = rng.random(24).astype("float32")
    for cls, function in CLASSES:
        metric = _stream(cls(num_classes=3, average=average, capacity=24), np.eye(3)[y],
                         scores, weights, splits=(0, 12))
        _check(metric, _reference(function, np.eye(3)[y], scores, weights, average=average))
        labels = rng.integers(0, 2, size=(24, 3))
        labels[0], labels[1] = 1, 0
        metric = _stream(cls(task="multilabel", num_classes=3, average=average, capacity=24),
                         labels, scores, weights, splits=(0, 12))
        _check(metric, _reference(function, labels, scores, weights, average=average))


@cross_backend
def test_sequences_and_masks_weigh_positions(rng):
    y = rng.integers(0, 2, size=(4, 6))
    scores = _ties(rng.random((4, 6, 1)))
    weights = rng.random((4, 6)).astype("float32")
    metric = M.AUROC(capacity=24)
    metric.update_state(y, scores, sample_weight=weights)
    _check(metric, _reference(roc_auc_score, y.ravel(), scores.ravel(), weights.ravel()))


def test_from_logits(rng):
    logits = rng.normal(size=(30, 3)).astype("float32") * 4
    y = rng.integers(0, 3, size=30)
    y[:3] = np.arange(3)
    metric = M.AUROC(num_classes=3, from_logits=True, capacity=30)
    metric.update_state(y, logits)
    _check(metric, _reference(roc_auc_score, y, _softmax(logits), multi_class="ovr"))
    binary = rng.integers(0, 2, size=30)
    metric = M.AveragePrecision(from_logits=True, capacity=30)
    metric.update_state(binary, logits[:, 0])
    _check(metric, _reference(average_precision_score, binary, logits[:, 0]))


@cross_backend
def test_degenerate_inputs_follow_sklearn():
    scores = np.array([0.1, 0.4, 0.4, 0.9], "float32")
    for y in (np.zeros(4, int), np.ones(4, int)):
        auroc = M.AUROC(capacity=8)
        auroc.update_state(y, scores)
        assert np.isnan(_reference(roc_auc_score, y, scores))
        assert np.isnan(float(auroc.result()))
        ap = M.AveragePrecision(capacity=8)
        ap.update_state(y, scores)
        assert float(ap.result()) == _reference(average_precision_score, y, scores)
    # A multilabel label without negatives: NaN for it, and for the macro average.
    y = np.array([[1, 0], [1, 1], [1, 0]])
    scores = np.array([[0.2, 0.3], [0.6, 0.8], [0.1, 0.4]], "float32")
    metric = M.AUROC(task="multilabel", num_classes=2, average=None, capacity=3)
    metric.update_state(y, scores)
    expected = _reference(roc_auc_score, y, scores, average=None)
    np.testing.assert_array_equal(np.isnan(np.asarray(metric.result())), np.isnan(expected))
    np.testing.assert_allclose(np.asarray(metric.result())[1], expected[1])
    # Before any update.
    assert np.isnan(float(M.AUROC(capacity=4).result()))
    assert float(M.AveragePrecision(capacity=4).result()) == 0.0


@cross_backend
def test_functional_forms_equal_sklearn(rng):
    y = rng.integers(0, 3, size=50)
    y[:3] = np.arange(3)
    scores = _softmax(rng.normal(size=(50, 3)))
    weights = rng.random(50)
    for average in ("macro", "weighted", None):
        np.testing.assert_allclose(
            ranking.roc_auc_score(y, scores, num_classes=3, average=average,
                                  sample_weight=weights),
            _reference(roc_auc_score, y, scores, weights, multi_class="ovr", average=average),
            **EXACT)
        np.testing.assert_allclose(
            ranking.average_precision_score(y, scores, num_classes=3, average=average,
                                            sample_weight=weights),
            _reference(average_precision_score, y, scores, weights, average=average), **EXACT)
    assert isinstance(ranking.roc_auc_score(y == 1, scores[:, 1]), float)


@settings(max_examples=40, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_binary_property_against_sklearn(data):
    size = data.draw(st.integers(2, 30))
    y = np.array(data.draw(st.lists(st.integers(0, 1), min_size=size, max_size=size)))
    scores = np.array(data.draw(st.lists(st.integers(0, 6), min_size=size, max_size=size)),
                      "float32") / 6
    weighted = data.draw(st.booleans())
    weights = (np.array(data.draw(st.lists(st.integers(1, 5), min_size=size, max_size=size)),
                        "float32") if weighted else None)
    for function, ours in ((roc_auc_score, ranking.roc_auc_score),
                           (average_precision_score, ranking.average_precision_score)):
        expected = _reference(function, y, scores, weights)
        np.testing.assert_allclose(ours(y, scores, sample_weight=weights), expected, **EXACT)


# --------------------------------------------------------------------------- capacity


@cross_backend
def test_capacity_error_names_capacity_and_samples_seen(rng):
    metric = M.AUROC(capacity=50)
    metric.update_state(rng.integers(0, 2, 30), rng.random(30))
    with pytest.raises(ValueError, match=r"capacity=50\).*kept 30.*brings 30: 60 samples"):
        metric.update_state(rng.integers(0, 2, 30), rng.random(30))
    # The failed batch changed nothing.
    assert int(keras.ops.convert_to_numpy(metric.seen)) == 30
    with pytest.raises(ValueError, match="capacity=10"):
        M.AveragePrecision(capacity=10).update_state(np.zeros(11), np.zeros(11))


@cross_backend
def test_capacity_error_is_raised_inside_compiled_fit(rng):
    x = rng.normal(size=(40, 3)).astype("float32")
    y = rng.integers(0, 2, size=40)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1, activation="sigmoid")])
    model.compile(loss="binary_crossentropy", metrics=[M.AUROC(capacity=16)])
    with pytest.raises(Exception, match="capacity=16") as raised:
        model.fit(x, y, batch_size=10, epochs=1, verbose=0)
    # Named in the error whatever the backend's wrapper: the number of samples seen, 20.
    assert "20" in str(raised.value)


@pytest.mark.tensorflow_only("XLA on TensorFlow compiles assertions to nothing")
def test_capacity_overflow_under_xla_gives_nan_never_a_wrong_number(rng):
    x = rng.normal(size=(40, 3)).astype("float32")
    y = rng.integers(0, 2, size=40)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1, activation="sigmoid")])
    model.compile(loss="binary_crossentropy", metrics=[M.AUROC(capacity=16)], jit_compile=True)
    history = model.fit(x, y, batch_size=10, epochs=1, verbose=0)
    assert np.isnan(history.history["auroc"][-1])


# --------------------------------------------------------------------------- in models


@cross_backend
def test_fit_and_evaluate_log_sklearn_values_on_the_predictions(rng):
    x = rng.normal(size=(48, 4)).astype("float32")
    y = rng.integers(0, 3, size=48)
    y[:3] = np.arange(3)
    set_random_seed(3)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
    # A learning rate of 0: the predictions that fit scores are model.predict's.
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.0),
                  loss="sparse_categorical_crossentropy",
                  metrics=[M.AUROC(num_classes=3, capacity=48),
                           M.AveragePrecision(num_classes=3, average="weighted", capacity=48)])
    history = model.fit(x, y, batch_size=16, epochs=1, verbose=0, validation_data=(x, y))
    probabilities = model.predict(x, verbose=0)
    expected_auroc = _reference(roc_auc_score, y, probabilities, multi_class="ovr")
    expected_ap = _reference(average_precision_score, y, probabilities, average="weighted")
    for prefix in ("", "val_"):
        np.testing.assert_allclose(history.history[prefix + "auroc"][-1], expected_auroc, **TOL)
        np.testing.assert_allclose(history.history[prefix + "average_precision"][-1],
                                   expected_ap, **TOL)
    logs = model.evaluate(x, y, batch_size=10, verbose=0, return_dict=True)
    np.testing.assert_allclose(logs["auroc"], expected_auroc, **TOL)
    np.testing.assert_allclose(logs["average_precision"], expected_ap, **TOL)


@cross_backend
def test_exact_auroc_passes_the_conformance_harness(rng):
    y = rng.integers(0, 2, size=18)
    scores = _ties(rng.random((18, 1)))
    weights = rng.random(18).astype("float32")
    conformance.run_metric_test(M.AUROC, {"capacity": 18}, y[:, None], scores, weights,
                                expected=_reference(roc_auc_score, y, scores[:, 0], weights),
                                run_distributed=False, **TOL)


def test_ranking_scores_pass_the_conformance_harness(rng):
    y = rng.integers(0, 2, size=18)
    scores = _ties(rng.random((18, 1)))
    weights = rng.random(18).astype("float32")
    multilabel = rng.integers(0, 2, size=(18, 3))
    multilabel[0], multilabel[1] = 1, 0
    label_scores = _ties(rng.random((18, 3)))
    cases = [
        (M.AveragePrecision, {"task": "multilabel", "num_classes": 3, "capacity": 18},
         multilabel, label_scores, None,
         _reference(average_precision_score, multilabel, label_scores), False),
        (M.AUROC, {"thresholds": 20}, y[:, None], scores, weights,
         None, True),
    ]
    for cls, kwargs, y_true, y_pred, w, expected, distributed in cases:
        conformance.run_metric_test(cls, kwargs, y_true, y_pred, w, expected=expected,
                                    run_distributed=distributed, **TOL)


# --------------------------------------------------------------------------- binned mode


@pytest.mark.parametrize("cls, function", CLASSES, ids=CLASS_IDS)
@pytest.mark.parametrize("thresholds", [5, 50, 200])
def test_binned_mode_stays_within_its_stated_bound(cls, function, thresholds, rng):
    for trial in range(3):
        y = rng.integers(0, 2, size=(400, 3))
        # Skewed scores that tell the labels apart a little.
        scores = np.clip(rng.beta(2, 5, size=(400, 3)) + 0.15 * y, 0, 1).astype("float32")
        weights = rng.random(400).astype("float32") if trial else None
        for average in ("macro", "micro"):
            metric = cls(task="multilabel", num_classes=3, average=average,
                         thresholds=thresholds)
            _stream(metric, y, scores, weights, splits=(0, 100, 250))
            exact = _reference(function, y, scores, weights, average=average)
            bound = metric.error_bound()
            error = abs(float(metric.compute(HOST)) - exact)
            assert error <= bound + 1e-12, (average, error, bound)
            # The binned score is scikit-learn's on the scores tied within their bins.
            binned = np.minimum(np.floor(scores * np.float32(thresholds)),
                                thresholds - 1)
            np.testing.assert_allclose(
                float(metric.result()),
                _reference(function, y, binned, weights, average=average), **TOL)
    assert bound < (1.0 if thresholds == 5 else 0.1)


def test_binned_bound_shrinks_with_the_number_of_bins(rng):
    y = rng.integers(0, 2, size=2000)
    scores = rng.random(2000).astype("float32")
    bounds = []
    for thresholds in (10, 100, 1000):
        metric = M.AUROC(thresholds=thresholds)
        metric.update_state(y, scores)
        bounds.append(metric.error_bound())
    assert bounds[0] > bounds[1] > bounds[2]
    assert bounds[1] < 1 / 100  # about 1 / (2 T) for evenly spread scores


# --------------------------------------------------------------------------- arguments


@pytest.mark.parametrize("kwargs, argument", [
    ({"average": "samples", "num_classes": 3}, "average"),
    ({"thresholds": 1}, "thresholds"),
    ({"capacity": 0}, "capacity"),
    ({"num_classes": 3, "task": "binary"}, "num_classes"),
    ({"task": "ranking"}, "task"),
    ({"from_logits": "yes"}, "from_logits"),
])
def test_bad_arguments_raise_in_keras_form(kwargs, argument):
    with pytest.raises(ValueError, match=f"Invalid `{argument}` argument value"):
        M.AUROC(**kwargs)


@cross_backend
def test_bad_labels_raise():
    with pytest.raises(ValueError, match="labels 0 or 1"):
        M.AUROC(capacity=4).update_state(np.array([0, 2]), np.array([0.1, 0.2]))
    with pytest.raises(ValueError, match=r"class ids in \[0, 3\)"):
        M.AveragePrecision(num_classes=3, capacity=4).update_state(
            np.array([0, 3]), np.full((2, 3), 1 / 3))


def test_config_round_trip_and_direction():
    metric = M.AveragePrecision(task="multilabel", num_classes=4, average=None, thresholds=30,
                                from_logits=True, name="ap")
    revived = M.AveragePrecision.from_config(metric.get_config())
    assert revived.get_config() == metric.get_config()
    assert metric._direction == "up"
    serialized = keras.saving.serialize_keras_object(metric)
    assert serialized["registered_name"] == "kerasext>AveragePrecision"
