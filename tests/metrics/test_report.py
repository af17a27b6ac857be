"""ClassificationReport: scikit-learn's report as metric entries in the epoch logs."""

import csv
import os
import tempfile

import keras
import numpy as np
import pytest
from sklearn.metrics import classification_report

import kerasext as kx
from tests import conformance

pytestmark = pytest.mark.cross_backend


def _flat(report, name):
    """scikit-learn's nested report under our flat keys."""
    stats = {"precision": "precision", "recall": "recall", "f1-score": "f1_score",
             "support": "support"}
    flat = {}
    for row, values in report.items():
        if row == "accuracy":
            flat[f"{name}_accuracy"] = values
            continue
        for stat, value in values.items():
            flat[f"{name}_{row.replace(' ', '_')}_{stats[stat]}"] = value
    return flat


def test_report_equals_sklearn_dict_and_text(rng):
    y = rng.integers(0, 3, size=30)  # class 3 of 4 never occurs
    scores = rng.random((30, 4)).astype("float32")
    scores[:, 3] = 0.0
    predicted = scores.argmax(-1)
    indicators = rng.integers(0, 2, size=(30, 3))
    cases = [
        ({"num_classes": 4}, y, scores, y, predicted, {}),
        ({"num_classes": 4, "labels": [2, 0], "target_names": ["two", "zero"],
          "zero_division": "nan"}, y, scores, y, predicted,
         {"labels": [2, 0], "target_names": ["two", "zero"], "zero_division": np.nan}),
        ({}, y % 2, scores[:, 0], y % 2, (scores[:, 0] > 0.5).astype(int), {}),
        ({"task": "multilabel", "num_classes": 3, "zero_division": 1.0}, indicators,
         scores[:, :3], indicators, (scores[:, :3] > 0.5).astype(int), {"zero_division": 1.0}),
    ]
    for kwargs, y_true, y_pred, sk_true, sk_pred, sk_kwargs in cases:
        report = kx.metrics.ClassificationReport(name="report", **kwargs)
        report.update_state(y_true[:17], y_pred[:17])
        report.update_state(y_true[17:], y_pred[17:])
        expected = classification_report(sk_true, sk_pred, output_dict=True, **sk_kwargs)
        ours = report.to_dict()
        assert ours.keys() == expected.keys()
        for row, values in expected.items():  # summation order may differ by an ulp
            if isinstance(values, dict):
                assert ours[row].keys() == values.keys()
                values, ours_row = list(values.values()), list(ours[row].values())
            else:
                ours_row = ours[row]
            np.testing.assert_allclose(ours_row, values, rtol=1e-12, equal_nan=True, err_msg=row)
        assert report.to_string(digits=3) == classification_report(
            sk_true, sk_pred, digits=3, **sk_kwargs), kwargs
        # result() holds every row scikit-learn lists, under flat keys.
        logs = {key: float(value) for key, value in report.result().items()}
        for key, value in _flat(expected, "report").items():
            np.testing.assert_allclose(logs[key], value, rtol=1e-6, err_msg=key)


def test_report_entries_reach_csv_logger_and_early_stopping(rng):
    x = rng.normal(size=(40, 5)).astype("float32")
    y = (x[:, 0] > 0).astype(int) + (x[:, 1] > 1).astype(int)
    model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=[kx.metrics.ClassificationReport(num_classes=3, name="report")])
    path = os.path.join(tempfile.mkdtemp(), "log.csv")
    stopper = keras.callbacks.EarlyStopping(monitor="val_report_macro_avg_f1_score", mode="max",
                                            patience=1)
    history = model.fit(x, y, validation_split=0.25, epochs=3, verbose=0,
                        callbacks=[keras.callbacks.CSVLogger(path), stopper])
    with open(path) as handle:
        rows = list(csv.DictReader(handle))
    assert "val_report_macro_avg_f1_score" in rows[0]
    assert "report_2_support" in rows[0] and "report_accuracy" in rows[0]
    np.testing.assert_allclose([float(r["val_report_accuracy"]) for r in rows],
                               history.history["val_report_accuracy"], rtol=1e-6)


def test_report_passes_the_conformance_harness(rng):
    # 18 samples: batches of 6 split evenly over two replicas (Keras 3.15 fails to sum
    # per-replica (3, C) and (2, C) targets under MirroredStrategy, built-in metrics too).
    indicators = rng.integers(0, 2, size=(18, 3))
    scores = rng.random((18, 3)).astype("float32")
    expected = _flat(classification_report(indicators, scores > 0.5, output_dict=True,
                                           zero_division=0.0), "classification_report")
    conformance.run_metric_test(kx.metrics.ClassificationReport,
                                {"task": "multilabel", "num_classes": 3}, indicators, scores,
                                expected=expected)


def test_reports_on_two_outputs_keep_each_outputs_entries(rng):
    # Keras names scalar metrics per output (`digit_f1_score`); a report's entries too.
    x = rng.normal(size=(24, 4)).astype("float32")
    inputs = keras.Input((4,))
    model = keras.Model(inputs, [keras.layers.Dense(3, activation="softmax", name="digit")(inputs),
                                 keras.layers.Dense(2, activation="softmax", name="parity")(inputs)])
    model.compile(loss="sparse_categorical_crossentropy",
                  metrics=[[kx.metrics.ClassificationReport(num_classes=3)],
                           [kx.metrics.ClassificationReport(num_classes=2)]])
    digits, parities = rng.integers(0, 3, 24), rng.integers(0, 2, 24)
    logs = model.evaluate(x, [digits, parities], batch_size=8, verbose=0, return_dict=True)
    predicted = model.predict(x, verbose=0)
    for output, y, scores in (("digit", digits, predicted[0]), ("parity", parities, predicted[1])):
        expected = _flat(classification_report(y, scores.argmax(-1), output_dict=True,
                                               labels=range(scores.shape[1]), zero_division=0.0),
                         f"{output}_classification_report")
        for key, value in expected.items():
            np.testing.assert_allclose(logs[key], value, rtol=1e-6, err_msg=key)
    assert not any(key.startswith("classification_report") for key in logs)
