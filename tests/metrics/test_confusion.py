"""The confusion-count core: arguments, label formats, shapes, masks, exactness."""

import math
from fractions import Fraction

import keras
import numpy as np
import pytest
from keras import ops
from sklearn.metrics import confusion_matrix, f1_score, precision_recall_fscore_support

import kerasext as kx
from tests import conformance

M = kx.metrics

pytestmark = pytest.mark.cross_backend


# --------------------------------------------------------------------------- arguments


# One test per table (each test pays conftest's clear_session).
INVALID_ARGUMENTS = [
        (lambda: M.F1Score(task="ternary", num_classes=3), "Invalid `task` argument value"),
        (lambda: M.F1Score(task="multiclass"), "Invalid `num_classes`.*Received: num_classes=None"),
        (lambda: M.F1Score(num_classes=1), "integer >= 2"),
        (lambda: M.F1Score(task="multilabel", num_classes=2.0), "Received: num_classes=2.0"),
        (lambda: M.F1Score(task="binary", num_classes=2), "task='multiclass', num_classes=2"),
        (lambda: M.F1Score(num_classes=3, average="mean"),
         r"Invalid `average` argument value. Expected one of \{'micro', 'macro', 'weighted', "
         r"'samples', None\}. Received: average='mean'"),
        (lambda: M.Precision(num_classes=3, average="samples"), "only with task='multilabel'"),
        (lambda: M.Recall(task="multilabel", num_classes=3, threshold=1.5),
         "Received: threshold=1.5"),
        (lambda: M.Recall(from_logits="yes"), "Received: from_logits='yes'"),
        (lambda: M.F1Score(num_classes=3, labels=[0, 5]), r"in \[0, 3\)"),
        (lambda: M.F1Score(num_classes=3, labels=[]), "non-empty"),
        (lambda: M.F1Score(num_classes=3, labels=[1, 1]), "distinct"),
        (lambda: M.F1Score(labels=[1]), "with task='binary'"),
        (lambda: M.F1Score(num_classes=3, ignore_class="pad"), "Received: ignore_class='pad'"),
        (lambda: M.F1Score(task="multilabel", num_classes=3, ignore_class=-1),
         "None with task='multilabel'"),
        (lambda: M.F1Score(num_classes=3, zero_division=0.5), "Received: zero_division=0.5"),
        (lambda: M.F1Score(num_classes=3, zero_division="warn"), "Received: zero_division='warn'"),
        (lambda: M.FBetaScore(beta=-1.0, num_classes=3), "Received: beta=-1.0"),
        (lambda: M.FBetaScore(beta=float("inf"), num_classes=3), "Received: beta=inf"),
        (lambda: M.ConfusionMatrix(num_classes=3, normalize="rows"), "Received: normalize='rows'"),
        (lambda: M.ConfusionMatrix(task="multilabel", num_classes=3, normalize="all"),
         "None with task='multilabel'"),
        (lambda: M.ClassificationReport(num_classes=3, target_names=["a", "b"]),
         "3 distinct names"),
]


def test_invalid_arguments_raise_at_construction():
    for make, message in INVALID_ARGUMENTS:
        with pytest.raises(ValueError, match=message):
            make()


def test_zero_division_nan_float_is_read_as_the_string():
    assert M.Precision(num_classes=3, zero_division=float("nan")).zero_division == "nan"


def test_direction_is_up_for_scores_and_report():
    for metric in (M.Precision(), M.Recall(), M.F1Score(), M.FBetaScore(),
                   M.ClassificationReport()):
        assert metric._direction == "up"
    assert not hasattr(M.ConfusionMatrix(), "_direction")


# --------------------------------------------------------------------------- shapes


SHAPES = [
        ({"task": "multilabel", "num_classes": 3}, np.zeros((4, 1)), np.zeros((4, 3)),
         ["(4, 1)", "(4, 3)"]),
        ({"num_classes": 3}, np.zeros((4,)), np.zeros((4, 5)), ["(4, 5)", "(4,)"]),
        ({"num_classes": 3}, np.zeros((4, 2)), np.zeros((4, 3)), ["(4, 2)", "(4, 3)"]),
        ({"num_classes": 3}, np.zeros((5,)), np.zeros((4, 3)), ["(5,)", "(4, 3)"]),
        ({}, np.zeros((4,)), np.zeros((4, 2)), ["(4,)", "(4, 2)"]),
        ({"num_classes": 3}, np.zeros((4, 7)), np.zeros((4, 7, 3)), None),  # fits: sequence
]


def test_shapes_that_fit_no_format_raise_naming_both():
    for kwargs, y_true, y_pred, shapes in SHAPES:
        metric = M.F1Score(**kwargs)
        if shapes is None:
            metric.update_state(y_true, y_pred)
            continue
        with pytest.raises(ValueError) as error:
            metric.update_state(y_true, y_pred)
        for shape in shapes:
            assert shape in str(error.value), (shape, str(error.value))


@pytest.mark.tensorflow_only("a None batch axis is a TensorFlow graph's")
def test_shape_error_is_raised_at_trace_time_with_unknown_batch():
    import tensorflow as tf

    metric = M.F1Score(task="multilabel", num_classes=3)

    @tf.function(input_signature=[tf.TensorSpec((None, 1)), tf.TensorSpec((None, 3))])
    def update(y_true, y_pred):
        metric.update_state(y_true, y_pred)

    with pytest.raises(ValueError, match=r"\(None, 1\).*\(None, 3\)"):
        update.get_concrete_function()


def test_sample_weight_that_fits_no_position_raises():
    metric = M.F1Score(num_classes=3)
    with pytest.raises(ValueError, match=r"sample_weight of shape \(4, 3\)"):
        metric.update_state(np.zeros(4), np.zeros((4, 3)), sample_weight=np.ones((4, 3)))


# --------------------------------------------------------------------------- formats


def test_sparse_column_and_one_hot_labels_count_the_same(rng):
    y = rng.integers(0, 4, size=30)
    scores = rng.random((30, 4)).astype("float32")
    results = []
    for labels in (y, y[:, None], np.eye(4)[y], y.astype("float32")):
        metric = M.ConfusionMatrix(num_classes=4)
        metric.update_state(labels, scores)
        results.append(np.asarray(metric.result()))
    expected = confusion_matrix(y, scores.argmax(-1), labels=range(4))
    for result in results:
        np.testing.assert_array_equal(result, expected)


def test_sequence_labels_count_every_position(rng):
    y = rng.integers(0, 3, size=(6, 5))
    scores = rng.random((6, 5, 3)).astype("float32")
    weights = rng.integers(1, 4, size=(6,)).astype("float32")
    metric = M.F1Score(num_classes=3, average="weighted")
    metric.update_state(y[..., None], scores, sample_weight=weights)
    expected = f1_score(y.ravel(), scores.argmax(-1).ravel(), average="weighted",
                        sample_weight=np.repeat(weights, 5))
    np.testing.assert_allclose(float(metric.result()), expected, rtol=1e-6)


def test_keras_mask_on_the_model_output_skips_padding(rng):
    tokens = rng.integers(1, 9, size=(12, 6))
    tokens[:, 4:] = 0  # padding, masked by the embedding
    tokens[:3, 2:] = 0
    labels = rng.integers(0, 3, size=(12, 6))
    inputs = keras.Input((6,), dtype="int32")
    hidden = keras.layers.Embedding(9, 4, mask_zero=True)(inputs)
    outputs = keras.layers.Dense(3, activation="softmax")(hidden)
    model = keras.Model(inputs, outputs)
    model.compile(loss="sparse_categorical_crossentropy",
                  metrics=[M.F1Score(num_classes=3, average="micro"), M.ConfusionMatrix(
                      num_classes=3)])
    logs = model.evaluate(tokens, labels, batch_size=5, verbose=0, return_dict=True)
    predicted = model.predict(tokens, verbose=0).argmax(-1)
    kept = tokens != 0
    expected = f1_score(labels[kept], predicted[kept], average="micro")
    np.testing.assert_allclose(logs["f1_score"], expected, rtol=1e-6)
    np.testing.assert_array_equal(np.asarray(logs["confusion_matrix"]).sum(), kept.sum())


def test_out_of_range_sparse_labels_raise_and_ignore_class_skips_them():
    metric = M.ConfusionMatrix(num_classes=3)
    with pytest.raises(ValueError, match=r"class ids in \[0, 3\).*Received: y_true=\[-1, 7\]"):
        metric.update_state(np.array([0, 1, -1, 7]), np.eye(3)[[0, 1, 2, 2]])
    skipping = M.ConfusionMatrix(num_classes=3, ignore_class=-1)
    skipping.update_state(np.array([0, 1, -1, 2]), np.eye(3)[[0, 1, 2, 2]])
    np.testing.assert_array_equal(np.asarray(skipping.result()),
                                  confusion_matrix([0, 1, 2], [0, 1, 2], labels=range(3)))


def test_low_precision_predictions_are_compared_in_float32(rng):
    y = rng.integers(0, 2, size=(20, 3))
    scores = rng.random((20, 3))
    for dtype in ("float16", "bfloat16"):
        metric = M.Recall(task="multilabel", num_classes=3, average="macro")
        metric.update_state(y, ops.cast(scores, dtype))
        expected = precision_recall_fscore_support(
            y, ops.convert_to_numpy(ops.cast(ops.cast(scores, dtype), "float32")) > 0.5,
            average="macro", zero_division=0.0)[1]
        np.testing.assert_allclose(float(metric.result()), expected, rtol=1e-6)


# --------------------------------------------------------------------------- exactness


BACKEND = keras.backend.backend()
#: Whether a float64 tensor is float64 here (not on JAX without jax_enable_x64).
HAS_FLOAT64 = keras.backend.standardize_dtype(
    ops.convert_to_tensor(np.zeros(1, "float64")).dtype) == "float64"
COMPILED = [False, pytest.param(True, id="compiled")]


def _update(metric, batches, compiled):
    """Feeds the batches eagerly, or each through the backend's compiler (the harness' own)."""
    if compiled and BACKEND == "torch":
        pytest.skip("torch.compile costs ~30 s per graph on CPU (the harness skips it too)")
    for y_true, y_pred, weight in batches:
        if compiled:
            conformance._jit_update(metric, y_true, y_pred, weight)
        else:
            metric.update_state(y_true, y_pred, sample_weight=weight)


def _fsum_matrix(y_true, predicted, weights, num_classes):
    return np.array([[math.fsum(weights[(y_true == t) & (predicted == p)].astype("float64"))
                      for p in range(num_classes)] for t in range(num_classes)])


def test_float32_alone_would_lose_these_counts():
    # Why the counts are pairs: the sums the tests below demand are not float32 sums.
    assert np.float32(2**24) + np.float32(1) == np.float32(2**24)
    assert np.float32(2**40) + np.float32(1) == np.float32(2**40)


@pytest.mark.parametrize("compiled", COMPILED)
def test_counts_past_2_to_the_24_are_exact(compiled):
    metric = M.ConfusionMatrix(num_classes=2)
    precision = M.Precision(num_classes=2, average="micro")
    eye = np.eye(2, dtype="float32")
    batches = [
        (np.array([0, 0]), eye[[0, 0]], np.array([2.0**24 + 1, 1.0])),  # float64: not float32
        (np.array([0]), eye[[0]], np.array([1])),  # integer weights
        (np.array([0, 1]), eye[[0, 0]], None),  # unit counts
        (np.array([1]), eye[[0]], np.array([1.0], "float32")),
    ]
    _update(metric, batches, compiled)
    _update(precision, batches, compiled)
    expected = [[2**24 + 4, 0], [2, 0]]
    assert metric.exact_counts("int64").tolist() == expected
    assert metric.exact_counts().dtype == np.float64
    result = np.asarray(metric.result())
    if HAS_FLOAT64:  # the result tensor itself is exact where float64 is real
        assert result.dtype == np.float64 and result.tolist() == expected
    else:
        assert result.tolist() == np.float32(expected).tolist()
    exact = Fraction(2**24 + 4, 2**24 + 6)
    # Scores are computed from the pairs: in float64 where there is one, else in float32 from
    # correctly rounded counts (one more rounding).
    np.testing.assert_allclose(float(precision.result()), float(exact),
                               rtol=2**-24 if HAS_FLOAT64 else 2**-22)


@pytest.mark.parametrize("compiled", COMPILED)
def test_integer_counts_are_exact_past_2_to_the_40(compiled):
    eye = np.eye(3, dtype="float32")
    # 2**40 + 1 samples of class 1 and 2**44 + 3 of class 2, in a few big-weight batches;
    # unit batches on top.
    batches = [
        (np.array([1, 2]), eye[[1, 2]], np.array([2.0**39, 2.0**44])),
        (np.array([1, 2, 0]), eye[[1, 2, 2]], np.array([2.0**39, 1.0, 5.0])),
        (np.array([1, 2, 2]), eye[[1, 2, 0]], None),
        (np.array([1, 2, 2]), eye[[1, 2, 0]], None),
    ]
    metric = M.ConfusionMatrix(num_classes=3)
    recall = M.Recall(num_classes=3, average=None, dtype="float32")
    _update(metric, batches, compiled)
    _update(recall, batches, compiled)
    expected = [[0, 0, 5], [0, 2**40 + 2, 0], [2, 0, 2**44 + 3]]
    assert metric.exact_counts("int64").tolist() == expected
    np.testing.assert_allclose(
        np.asarray(recall.result(), "float64"),
        [0.0, 1.0, float(Fraction(2**44 + 3, 2**44 + 5))], rtol=2**-23)

    multilabel = M.ConfusionMatrix(task="multilabel", num_classes=2)
    _update(multilabel, [(np.array([[1, 0], [1, 1]]), np.array([[0.9, 0.1], [0.2, 0.8]]),
                          np.array([2.0**40, 1.0]))] * 2 + [
        (np.array([[1, 0]]), np.array([[0.9, 0.9]]), None)], compiled)
    # [[tn, fp], [fn, tp]] per label.
    expected = [[[0, 0], [2, 2**41 + 1]], [[2**41, 1], [0, 2]]]
    assert multilabel.exact_counts("int64").tolist() == expected


@pytest.mark.parametrize("compiled", COMPILED)
def test_weighted_counts_equal_fsum_within_1e_12(compiled, rng):
    n = 3000
    y = rng.integers(0, 3, n)
    scores = rng.random((n, 3)).astype("float32")
    # float32 weights over 40 binades, and float64 ones float32 cannot hold.
    weights32 = (rng.uniform(0.5, 1.0, n) * 2.0 ** rng.integers(-20, 20, n)).astype("float32")
    weights64 = rng.uniform(0.0, 3.0, n)
    for weights in (weights32, weights64):
        metric = M.ConfusionMatrix(num_classes=3)
        bounds = [0, 1, 1000, 1999, n]  # uneven batches, one of a single sample
        _update(metric, [(y[a:b], scores[a:b], weights[a:b])
                         for a, b in zip(bounds[:-1], bounds[1:])], compiled)
        expected = _fsum_matrix(y, scores.argmax(-1), weights, 3)
        np.testing.assert_allclose(metric.exact_counts(), expected, rtol=1e-12)

    indicators = rng.integers(0, 2, (n, 2))
    multilabel = M.ConfusionMatrix(task="multilabel", num_classes=2)
    _update(multilabel, [(indicators[:1500], scores[:1500, :2], weights32[:1500]),
                         (indicators[1500:], scores[1500:, :2], weights32[1500:])], compiled)
    predicted = scores[:, :2] > 0.5
    expected = [[[math.fsum(weights32[(indicators[:, c] == t) & (predicted[:, c] == p)]
                            .astype("float64")) for p in (0, 1)] for t in (0, 1)]
                for c in range(2)]
    np.testing.assert_allclose(multilabel.exact_counts(), expected, rtol=1e-12)


def test_counts_are_exact_inside_a_compiled_evaluate(rng):
    # evaluate(jit_compile=True): XLA on TensorFlow (a None batch axis) and JAX; torch.compile
    # is too slow to test here, so torch evaluates eagerly.
    n = 600
    y = rng.integers(0, 3, n)
    scores = rng.random((n, 3)).astype("float32")
    weights = (rng.uniform(0.5, 1.0, n) * 2.0 ** rng.integers(-20, 20, n)).astype("float32")
    weights[:2] = 2.0**30  # and counts past 2**24 that need every bit of the small weights
    metric = M.ConfusionMatrix(num_classes=3)
    model = conformance._identity_model(scores)
    model.compile(loss=conformance.ZeroLoss(), weighted_metrics=[metric],
                  jit_compile=BACKEND != "torch")
    model.evaluate(scores, y, sample_weight=weights, batch_size=200, verbose=0)
    expected = _fsum_matrix(y, scores.argmax(-1), weights, 3)
    np.testing.assert_allclose(metric.exact_counts(), expected, rtol=1e-12)


@pytest.mark.parametrize("task", ["multiclass", "multilabel"])
def test_unweighted_class_counts_inside_a_compiled_evaluate(rng, task):
    # The unweighted O(C) update (on TensorFlow one DenseBincount of three rows of ids, the
    # skipped ones dropped), compiled: XLA on TensorFlow and JAX; torch evaluates eagerly.
    n, num_classes = 300, 4
    scores = rng.random((n, num_classes)).astype("float32")
    if task == "multilabel":
        y = (rng.random((n, num_classes)) < 0.4).astype("int32")
        pred = (scores > 0.5).astype("int32")
        tp, predicted, actual = (y & pred).sum(0), pred.sum(0), y.sum(0)
        metric = M.F1Score(task="multilabel", num_classes=num_classes, average=None)
        reference = f1_score(y, pred, average=None, zero_division=0)
    else:
        y = rng.integers(0, num_classes, n)
        pred = scores.argmax(-1)
        kept = y != 3  # ignore_class=3: those positions count nowhere
        count = np.bincount
        tp = count(y[kept][pred[kept] == y[kept]], minlength=num_classes)
        predicted, actual = (count(v[kept], minlength=num_classes) for v in (pred, y))
        metric = M.F1Score(num_classes=num_classes, average=None, ignore_class=3)
        reference = f1_score(y[kept], pred[kept], labels=range(num_classes), average=None,
                             zero_division=0)
    model = conformance._identity_model(scores)
    model.compile(loss=conformance.ZeroLoss(), metrics=[metric], jit_compile=BACKEND != "torch")
    logs = model.evaluate(scores, y, batch_size=100, verbose=0, return_dict=True)
    assert metric.exact_counts("int64").tolist() == [tp.tolist(), predicted.tolist(),
                                                     actual.tolist()]
    np.testing.assert_allclose(np.asarray(logs[metric.name]), reference, rtol=1e-6)


@pytest.mark.tensorflow_only("tf.distribute is TensorFlow-only")
def test_replica_counts_are_added_exactly_under_mirrored_strategy():
    # Replica 1 sees 2**30 + 1 in cell (0, 0), replica 2 sees 2: a float32 sum of the replicas'
    # high parts would give 2**30 + 1.
    scores = np.eye(2, dtype="float32")[[0, 0, 0, 0]]
    y = np.array([0, 0, 0, 0])
    weights = np.array([2.0**30, 1.0, 1.0, 1.0], "float32")
    with conformance.mirrored_strategy().scope():
        metric = M.ConfusionMatrix(num_classes=2)
        model = conformance._identity_model(scores)
        model.compile(loss=conformance.ZeroLoss(), weighted_metrics=[metric])
    logs = model.evaluate(scores, y, sample_weight=weights, batch_size=4, verbose=0,
                          return_dict=True)
    assert metric.exact_counts("int64").tolist() == [[2**30 + 3, 0], [0, 0]]
    assert np.asarray(logs["confusion_matrix"]).tolist() == [[2**30 + 3, 0], [0, 0]]


def test_state_holds_no_float64_and_exact_counts_checks_its_dtype():
    metrics = [M.Precision(), M.Recall(num_classes=3), M.FBetaScore(task="multilabel",
               num_classes=2, average="samples"), M.F1Score(num_classes=2),
               M.ConfusionMatrix(num_classes=2), M.ClassificationReport(task="multilabel",
                                                                        num_classes=2)]
    for metric in metrics:
        assert {v.dtype for v in metric.variables} == {"float32"}, metric.name
    metric = M.ConfusionMatrix(num_classes=2)
    metric.update_state(np.array([0]), np.eye(2)[[0]], sample_weight=np.array([0.5]))
    with pytest.raises(ValueError, match="Received: dtype='int64'"):
        metric.exact_counts("int64")
    with pytest.raises(ValueError, match="Invalid `dtype` argument value"):
        metric.exact_counts("float32")
    assert metric.exact_counts().tolist() == [[0.5, 0.0], [0.0, 0.0]]


# --------------------------------------------------------------------------- O(C) state


def _state_size(metric):
    return sum(int(np.prod(variable.shape)) for variable in metric.variables)


@pytest.mark.parametrize("num_classes", [10, 1000])
def test_scores_keep_o_of_c_state_and_only_the_matrix_keeps_c_squared(num_classes):
    c = num_classes
    # Per class: (tp, predicted, actual) as float32 pairs (6) and the `seen` flag (1).
    f1 = M.F1Score(num_classes=c)
    assert _state_size(f1) == 7 * c < 10 * c
    linear = [M.Precision(num_classes=c), M.Recall(num_classes=c, average=None),
              M.FBetaScore(beta=2.0, num_classes=c), M.F1Score(task="multilabel", num_classes=c,
                                                               average="samples"),
              M.MatthewsCorrelation(num_classes=c), M.BalancedAccuracy(num_classes=c),
              M.CohenKappa(num_classes=c), M.ClassificationReport(num_classes=c)]
    for metric in linear:
        assert _state_size(metric) < 10 * c, metric.name
    # What needs the matrix keeps it: 2 C^2 (the pairs) + C.
    for metric in (M.ConfusionMatrix(num_classes=c), M.CohenKappa(num_classes=c,
                                                                 weights="linear")):
        assert _state_size(metric) == 2 * c * c + c, metric.name


@pytest.mark.parametrize("compiled", COMPILED)
def test_o_of_c_counts_are_exact_past_2_to_the_24(compiled, rng):
    # The (tp, predicted, actual) rows of F1Score's state against integer sums in Python.
    eye = np.eye(3, dtype="float32")
    y_true = np.array([0, 1, 2, 2, 1, 0])
    predicted = np.array([0, 2, 2, 1, 1, 0])
    weights = np.array([2**24 + 1, 3, 2**40 + 5, 1, 2**25 + 3, 7], dtype="int64")
    metric = M.F1Score(num_classes=3, average=None)
    _update(metric, [(y_true[:3], eye[predicted[:3]], weights[:3].astype("float64")),
                     (y_true[3:], eye[predicted[3:]], weights[3:]),
                     (y_true, eye[predicted], None)], compiled)
    tp = [sum(int(w) + 1 for t, p, w in zip(y_true, predicted, weights) if t == p == k)
          for k in range(3)]
    pred_totals = [sum(int(w) + 1 for p, w in zip(predicted, weights) if p == k)
                   for k in range(3)]
    actual = [sum(int(w) + 1 for t, w in zip(y_true, weights) if t == k) for k in range(3)]
    assert metric.exact_counts("int64").tolist() == [tp, pred_totals, actual]
    assert max(tp) > 2**40
    expected = f1_score(y_true, predicted, average=None, sample_weight=weights + 1.0)
    np.testing.assert_allclose(np.asarray(metric.result(), "float64"), expected, rtol=1e-6)
