"""The confusion-count core: arguments, label formats, shapes, masks, exactness."""

from fractions import Fraction

import keras
import numpy as np
import pytest
import tensorflow as tf
from sklearn.metrics import confusion_matrix, f1_score, precision_recall_fscore_support

import kerasext as kx

M = kx.metrics


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


def test_shape_error_is_raised_at_trace_time_with_unknown_batch():
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


def test_out_of_range_sparse_labels_are_skipped_not_clamped():
    metric = M.ConfusionMatrix(num_classes=3)
    metric.update_state(np.array([0, 1, -1, 7]), np.eye(3)[[0, 1, 2, 2]])
    np.testing.assert_array_equal(np.asarray(metric.result()), np.diag([1.0, 1.0, 0.0]))


def test_low_precision_predictions_are_compared_in_float32(rng):
    y = rng.integers(0, 2, size=(20, 3))
    scores = rng.random((20, 3))
    for dtype in ("float16", "bfloat16"):
        metric = M.Recall(task="multilabel", num_classes=3, average="macro")
        metric.update_state(y, tf.cast(scores, dtype))
        expected = precision_recall_fscore_support(
            y, np.asarray(tf.cast(tf.cast(scores, dtype), "float32")) > 0.5,
            average="macro", zero_division=0.0)[1]
        np.testing.assert_allclose(float(metric.result()), expected, rtol=1e-6)


# --------------------------------------------------------------------------- exactness


def test_float32_would_lose_the_count_that_float64_keeps():
    assert np.float32(2**24) + np.float32(1) == np.float32(2**24)  # why float32 is not enough


def test_weighted_counts_stay_exact_past_2_to_the_24():
    metric = M.ConfusionMatrix(num_classes=2)
    precision = M.Precision(num_classes=2, average="micro", dtype="float64")
    batches = [
        (np.array([0]), np.eye(2)[[0]], np.array([2.0**24])),
        (np.array([0]), np.eye(2)[[0]], np.array([1.0])),
        (np.array([1]), np.eye(2)[[0]], np.array([1.0])),
    ]
    for y, scores, weight in batches:
        metric.update_state(y, scores, sample_weight=weight)
        precision.update_state(y, scores, sample_weight=weight)
    result = np.asarray(metric.result())
    assert result.dtype == np.float64
    assert result[0, 0] == 2**24 + 1
    assert result[1, 0] == 1
    assert float(precision.result()) == float(Fraction(2**24 + 1, 2**24 + 2))


def test_unweighted_counts_stay_exact_past_2_to_the_24():
    metric = M.F1Score(num_classes=2, average=None, dtype="float64")
    metric.confusion.assign(np.array([[2.0**24, 0.0], [0.0, 0.0]]))  # 2**24 samples counted
    metric.seen.assign(np.array([2.0**25, 0.0]))
    metric.update_state(np.array([0, 1]), np.eye(2)[[0, 0]])
    tp, fp, fn = 2**24 + 1, 0, 1
    counts = np.asarray(metric.confusion)
    assert counts[0, 0] == 2**24 + 1
    expected = float(Fraction(2 * tp, 2 * tp + fp + fn))
    assert float(np.asarray(metric.result())[0]) == expected
