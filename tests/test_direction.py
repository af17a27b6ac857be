"""One vocabulary for "which way is better": kerasext._direction."""

import pathlib
import re

import keras
import pytest

import kerasext as kx
from kerasext._direction import is_better, metric_direction

pytestmark = pytest.mark.cross_backend


class _Down(keras.metrics.Mean):
    _direction = "down"


class _Max(keras.metrics.Mean):
    _direction = "max"


def test_metric_direction_translates_keras_words():
    # Keras' own metrics carry "up" / "down": the reference for what the words mean.
    assert keras.metrics.AUC()._direction == "up"
    assert metric_direction(keras.metrics.AUC()) == "max"
    assert metric_direction(kx.metrics.F1Score(num_classes=3)) == "max"
    assert metric_direction(_Down()) == "min"
    assert metric_direction(_Max()) == "max"
    assert metric_direction(keras.metrics.Mean()) is None
    assert metric_direction("val_loss") is None


def test_is_better():
    assert is_better("min", 0.1, 0.2) and not is_better("min", 0.2, 0.2)
    assert is_better("max", 0.3, 0.2) and not is_better("max", 0.1, 0.2)


def test_callbacks_and_tuning_speak_min_max():
    assert kx.tuning.HyperConvNet((8, 8), 3).objective("val_f1_score").direction == "max"
    stopper = kx.callbacks.EarlyStopping(monitor="val_f1_score")
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(3, activation="softmax")])
    model.compile(loss="sparse_categorical_crossentropy",
                  metrics=[kx.metrics.F1Score(num_classes=3, name="f1_score")])
    stopper.set_model(model)
    stopper.on_train_begin()
    stopper.on_epoch_end(0, {"loss": 1.0, "val_loss": 1.0, "f1_score": 0.5,
                             "val_f1_score": 0.5})
    assert stopper.get_state()["direction"] == "max"


def test_only_the_direction_module_reads_metric_directions():
    # Outside kerasext/metrics (which set `_direction`) and kerasext/_direction.py, no module
    # reads a metric's `_direction` ("up" / "down") itself.
    root = pathlib.Path(kx.__file__).parent
    offenders = []
    for path in root.rglob("*.py"):
        relative = path.relative_to(root).as_posix()
        if relative.startswith("metrics/") or relative == "_direction.py":
            continue
        text = path.read_text()
        if re.search(r"""getattr\([^)]*["']_direction["']|\b(metric|m)\._direction\b""", text):
            offenders.append(relative)
    assert offenders == []
