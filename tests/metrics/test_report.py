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


def test_full_logs_equal_sklearn_in_float64_and_the_plain_result(rng):
    y = rng.integers(0, 4, size=50)
    scores = rng.random((50, 4)).astype("float32")
    weights = rng.random(50)
    report = kx.metrics.ClassificationReport(num_classes=4, name="report")
    report.update_state(y, scores, sample_weight=weights)
    expected = _flat(classification_report(y, scores.argmax(-1), sample_weight=weights,
                                           output_dict=True, zero_division=0.0), "report")
    full = report.full_logs()
    for key, value in expected.items():
        np.testing.assert_allclose(full[key], value, rtol=1e-12, err_msg=key)
    plain = report.result()
    assert list(full) == list(plain)
    np.testing.assert_allclose([float(v) for v in plain.values()], list(full.values()),
                               rtol=1e-6)


def test_epoch_end_report_logs_two_entries_per_step(rng):
    y = rng.integers(0, 3, size=30)
    scores = rng.random((30, 3)).astype("float32")
    report = kx.metrics.ClassificationReport(num_classes=3, name="report", per_class="epoch_end")
    report.update_state(y, scores)
    expected = classification_report(y, scores.argmax(-1), output_dict=True, zero_division=0.0)
    logs = {key: float(value) for key, value in report.result().items()}
    assert sorted(logs) == ["report_accuracy", "report_macro_avg_f1_score"]
    np.testing.assert_allclose(logs["report_accuracy"], expected["accuracy"], rtol=1e-6)
    np.testing.assert_allclose(logs["report_macro_avg_f1_score"],
                               expected["macro avg"]["f1-score"], rtol=1e-6)
    restored = kx.metrics.ClassificationReport.from_config(report.get_config())
    assert restored.per_class_mode == "epoch_end"
    with pytest.raises(ValueError, match="per_class"):
        kx.metrics.ClassificationReport(num_classes=3, per_class="epoch")


class _StepKeys(keras.callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
        self.keys = sorted(logs)


def test_epoch_end_entries_reach_csv_logger_and_early_stopping_for_train_and_val(rng):
    # A zero learning rate keeps the model fixed, so that every epoch's entries equal
    # scikit-learn's on model.predict of the training and of the validation data.
    x = rng.normal(size=(48, 5)).astype("float32")
    y = (x[:, 0] > 0).astype(int) + (x[:, 1] > 0.5).astype(int)
    x_val = rng.normal(size=(24, 5)).astype("float32")
    y_val = (x_val[:, 0] > 0).astype(int) + (x_val[:, 1] > 0.5).astype(int)
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(3, activation="softmax")])
    report = kx.metrics.ClassificationReport(num_classes=3, name="report",
                                             per_class="epoch_end")
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.0),
                  loss="sparse_categorical_crossentropy", metrics=[report])
    path = os.path.join(tempfile.mkdtemp(), "log.csv")
    # Constant entries: the best epoch is the first, so patience=1 stops after the second
    # (a missing monitor would only warn, and all five epochs would run).
    stopper = keras.callbacks.EarlyStopping(monitor="val_report_1_f1_score", mode="max",
                                            patience=1)
    steps = _StepKeys()
    # Listed last, the report's callback still runs before CSVLogger and EarlyStopping.
    history = model.fit(x, y, validation_data=(x_val, y_val), batch_size=16, epochs=5,
                        shuffle=False, verbose=0,
                        callbacks=[keras.callbacks.CSVLogger(path), stopper, steps,
                                   report.callback()])
    assert steps.keys == ["loss", "report_accuracy", "report_macro_avg_f1_score"]
    with open(path) as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 2 and len(history.history["loss"]) == 2
    for prefix, inputs, labels in (("", x, y), ("val_", x_val, y_val)):
        predicted = model.predict(inputs, verbose=0).argmax(-1)
        expected = _flat(classification_report(labels, predicted, output_dict=True,
                                               zero_division=0.0), f"{prefix}report")
        assert len(expected) > 10
        for row in rows:
            for key, value in expected.items():
                np.testing.assert_allclose(float(row[key]), value, rtol=1e-9, err_msg=key)
        for key, value in expected.items():
            np.testing.assert_allclose(history.history[key], [value] * 2, rtol=1e-9,
                                       err_msg=key)
