"""Precision, Recall, FBetaScore, F1Score: the cases Keras' own metrics get wrong, the
conformance harness, and the same values inside fit / evaluate / XLA / MirroredStrategy."""

import os
import tempfile

import keras
import numpy as np
import pytest
from sklearn.metrics import (
    classification_report,
    f1_score,
    fbeta_score,
    precision_recall_fscore_support,
    precision_score,
    recall_score,
)

import kerasext as kx
from kerasext._compat import set_random_seed
from tests import conformance

M = kx.metrics

pytestmark = pytest.mark.cross_backend


def _softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return (e / e.sum(-1, keepdims=True)).astype("float32")


def _sigmoid(x):
    return (1.0 / (1.0 + np.exp(-x))).astype("float32")


# --------------------------------------------------------------------------- Keras' failures


def test_sparse_column_labels_are_class_ids_not_broadcast(rng):
    # keras.metrics.F1Score broadcasts (N, 1) labels against (N, C) scores.
    y = rng.integers(0, 4, size=(40, 1))
    scores = _softmax(rng.normal(size=(40, 4)))
    metric = M.F1Score(num_classes=4)
    metric.update_state(y, scores)
    expected = f1_score(y[:, 0], scores.argmax(-1), average="macro")
    np.testing.assert_allclose(float(metric.result()), expected, rtol=1e-6)


def test_perfect_prediction_scores_exactly_one(rng):
    y = rng.integers(0, 3, size=30)
    indicators = rng.integers(0, 2, size=(30, 3))
    indicators[:, 0] = 1  # no empty label set, so `samples` is defined everywhere
    cases = [({"num_classes": 3}, y, np.eye(3, dtype="float32")[y])]
    cases += [({"task": "multilabel", "num_classes": 3}, indicators,
               indicators.astype("float32"))]
    cases += [({}, y % 2, (y % 2).astype("float32"))]
    for kwargs, y_true, y_pred in cases:
        averages = ["micro", "macro", "weighted"]
        averages += ["samples"] if kwargs.get("task") == "multilabel" else []
        for cls in (M.Precision, M.Recall, M.F1Score, M.FBetaScore):
            for average in averages:
                metric = cls(average=average, **kwargs)
                metric.update_state(y_true, y_pred)
                assert float(metric.result()) == 1.0, (cls.__name__, kwargs, average)


def test_absent_class_is_left_out_of_the_macro_average_like_sklearn(rng):
    y = rng.integers(0, 3, size=50)  # classes 3 and 4 never occur
    scores = np.concatenate([rng.normal(size=(50, 3)), np.full((50, 2), -9.0)], axis=1)
    scores[np.arange(50), y] += 1.0
    for cls, reference in ((M.Precision, precision_score), (M.Recall, recall_score),
                           (M.F1Score, f1_score)):
        metric = cls(num_classes=5, average="macro")
        metric.update_state(y, _softmax(scores))
        expected = reference(y, scores.argmax(-1), average="macro")
        counted_as_zero = reference(y, scores.argmax(-1), average="macro", labels=range(5),
                                    zero_division=0.0)
        assert expected != counted_as_zero
        np.testing.assert_allclose(float(metric.result()), expected, rtol=1e-6)


def test_softmax_outputs_are_argmaxed_not_thresholded(rng):
    # Three classes: the winning probability is often below 0.5.
    y = rng.integers(0, 3, size=60)
    probabilities = _softmax(rng.normal(scale=0.5, size=(60, 3)))
    assert (probabilities.max(-1) < 0.5).any()
    metric = M.Precision(num_classes=3, average="weighted")
    metric.update_state(np.eye(3)[y], probabilities)
    expected = precision_score(y, probabilities.argmax(-1), average="weighted")
    np.testing.assert_allclose(float(metric.result()), expected, rtol=1e-6)


def test_logits_give_the_same_scores_as_probabilities(rng):
    logits = rng.normal(scale=2.0, size=(50, 4)).astype("float32")
    labels = rng.integers(0, 2, size=(50, 4))
    cases = [
        ({"task": "multilabel", "num_classes": 4, "threshold": 0.3}, labels, _sigmoid(logits)),
        ({"threshold": 0.7}, labels[:, 0], _sigmoid(logits[:, 0])),
        ({"num_classes": 4}, labels.argmax(-1), _softmax(logits)),
    ]
    for kwargs, y_true, probabilities in cases:
        on_logits = M.F1Score(from_logits=True, **kwargs)
        on_logits.update_state(y_true, logits if probabilities.ndim == 2 else logits[:, 0])
        on_probabilities = M.F1Score(**kwargs)
        on_probabilities.update_state(y_true, probabilities)
        assert float(on_logits.result()) == float(on_probabilities.result()), kwargs


def test_ignore_class_skips_padding_in_sequences(rng):
    y = rng.integers(0, 3, size=(8, 6))
    y[:, 4:] = -1
    scores = rng.normal(size=(8, 6, 3)).astype("float32")
    metric = M.Recall(num_classes=3, average="macro", ignore_class=-1)
    metric.update_state(y[..., None], scores)
    kept = y != -1
    expected = recall_score(y[kept], scores.argmax(-1)[kept], average="macro")
    np.testing.assert_allclose(float(metric.result()), expected, rtol=1e-6)


def test_samples_average_equals_sklearn(rng):
    y = rng.integers(0, 2, size=(30, 5))
    y[:4] = 0  # samples without labels: 0/0 recall, handled by zero_division
    scores = rng.random((30, 5)).astype("float32")
    for zero_division in (0.0, 1.0, "nan"):
        metric = M.FBetaScore(beta=0.5, task="multilabel", num_classes=5, average="samples",
                              zero_division=zero_division)
        for start in range(0, 30, 7):
            metric.update_state(y[start:start + 7], scores[start:start + 7])
        expected = fbeta_score(y, scores > 0.5, beta=0.5, average="samples",
                               zero_division=np.nan if zero_division == "nan" else zero_division)
        np.testing.assert_allclose(float(metric.result()), expected, rtol=1e-6)


# --------------------------------------------------------------------------- harness


def _harness_cases(rng):
    n = 18
    y = rng.integers(0, 3, size=n)
    scores = _softmax(rng.normal(size=(n, 3)) + 2.0 * np.eye(3)[y])
    weights = rng.integers(1, 4, size=n).astype("float32")
    binary = rng.integers(0, 2, size=n)
    binary[::5] = -1
    binary_scores = rng.random((n, 1)).astype("float32")
    multilabel = rng.integers(0, 2, size=(n, 4))
    logits = (rng.normal(size=(n, 4)) + 2.0 * (multilabel - 0.5)).astype("float32")
    sequence = rng.integers(0, 3, size=(n, 5))
    sequence_scores = _softmax(rng.normal(size=(n, 5, 3)) + 2.0 * np.eye(3)[sequence])
    kept = binary != -1
    return [
        (M.Precision, {"num_classes": 3, "average": "macro"}, y, scores, weights,
         precision_score(y, scores.argmax(-1), average="macro", sample_weight=weights)),
        (M.Recall, {"average": "micro", "ignore_class": -1}, binary[:, None], binary_scores, None,
         recall_score(binary[kept], (binary_scores[kept, 0] > 0.5).astype(int))),
        (M.FBetaScore, {"beta": 2.0, "task": "multilabel", "num_classes": 4, "average": "samples",
                        "from_logits": True, "zero_division": 1.0},
         multilabel, logits, weights,
         fbeta_score(multilabel, logits > 0, beta=2.0, average="samples", sample_weight=weights,
                     zero_division=1.0)),
        (M.F1Score, {"num_classes": 3, "average": None, "labels": [2, 0], "zero_division": "nan"},
         np.eye(3)[sequence], sequence_scores, weights,
         f1_score(sequence.ravel(), sequence_scores.argmax(-1).ravel(), average=None,
                  labels=[2, 0], sample_weight=np.repeat(weights, 5), zero_division=np.nan)),
    ]


def test_scores_pass_the_conformance_harness(rng):
    for cls, kwargs, y_true, y_pred, weights, expected in _harness_cases(rng):
        conformance.run_metric_test(cls, kwargs, y_true, y_pred, weights, expected=expected)


# --------------------------------------------------------------------------- in a model


def _classifier():
    return keras.Sequential([keras.Input((6,)), keras.layers.Dense(8, activation="relu"),
                             keras.layers.Dense(3, activation="softmax")])


@pytest.mark.parametrize("mode", [
    "eager", "jit",
    pytest.param("mirrored", marks=pytest.mark.tensorflow_only("tf.distribute is TensorFlow-only")),
])
def test_fit_logs_equal_sklearn_on_one_device_jit_and_mirrored(mode, rng):
    if mode == "jit" and keras.backend.backend() == "torch":
        pytest.skip("torch.compile costs ~90 s for this fit on CPU (the harness skips it too)")
    x = rng.normal(size=(45, 6)).astype("float32")
    y = rng.integers(0, 3, size=45)
    weights = rng.integers(1, 3, size=45).astype("float32")

    def build():
        set_random_seed(3)
        model = _classifier()
        # A zero learning rate keeps the predictions the metrics see during fit fixed;
        # Keras weights only `weighted_metrics` by sample_weight.
        model.compile(optimizer=keras.optimizers.SGD(0.0), loss="sparse_categorical_crossentropy",
                      weighted_metrics=[M.ClassificationReport(num_classes=3, name="report")],
                      jit_compile=mode == "jit", run_eagerly=mode == "eager")
        return model

    if mode == "mirrored":
        with conformance.mirrored_strategy().scope():
            model = build()
    else:
        model = build()
    # Validation runs the same test step as evaluate, which the harness covers under XLA.
    validation = None if mode == "jit" else (x, y, weights)
    logs = model.fit(x, y, sample_weight=weights, batch_size=10, epochs=1, verbose=0,
                     validation_data=validation).history
    predicted = model.predict(x, verbose=0).argmax(-1)
    report = classification_report(y, predicted, sample_weight=weights, output_dict=True,
                                   zero_division=0.0)
    for prefix in ("",) if validation is None else ("", "val_"):
        for key, expected in (("macro_avg_f1_score", report["macro avg"]["f1-score"]),
                              ("weighted_avg_recall", report["weighted avg"]["recall"]),
                              ("2_precision", report["2"]["precision"]),
                              ("accuracy", report["accuracy"])):
            np.testing.assert_allclose(logs[f"{prefix}report_{key}"][0], expected, rtol=1e-6,
                                       err_msg=f"{mode} {prefix}{key}")


def test_model_compiled_with_every_metric_saves_and_loads_with_safe_mode(rng):
    x = rng.normal(size=(20, 6)).astype("float32")
    y = rng.integers(0, 3, size=20)
    model = _classifier()
    model.compile(loss="sparse_categorical_crossentropy", metrics=[
        M.Precision(num_classes=3, average="weighted", zero_division="nan"),
        M.Recall(num_classes=3, labels=[0, 2]),
        M.FBetaScore(beta=0.5, num_classes=3, average="micro"),
        M.F1Score(num_classes=3, ignore_class=1),
        M.ConfusionMatrix(num_classes=3, normalize="true"),
        M.ClassificationReport(num_classes=3, target_names=["a", "b", "c"]),
    ])
    before = model.evaluate(x, y, batch_size=10, verbose=0, return_dict=True)
    path = os.path.join(tempfile.mkdtemp(), "model.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)  # safe_mode=True
    after = loaded.evaluate(x, y, batch_size=10, verbose=0, return_dict=True)
    assert set(after) == set(before)
    for key in before:
        np.testing.assert_allclose(after[key], before[key], rtol=1e-6, err_msg=key)
    predicted = model.predict(x, verbose=0).argmax(-1)
    np.testing.assert_allclose(
        before["precision"],
        precision_recall_fscore_support(y, predicted, average="weighted",
                                        zero_division=np.nan)[0], rtol=1e-6)
    np.testing.assert_allclose(before["classification_report_c_f1_score"],
                               f1_score(y, predicted, average=None, labels=[2]), rtol=1e-6)
