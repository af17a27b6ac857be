"""Keras' own callback tests, ported to kerasext's drop-ins.

Ported from keras 3.15.1: keras/src/callbacks/early_stopping_test.py and
keras/src/callbacks/backup_and_restore_test.py, test for test, with
`callbacks.EarlyStopping` / `callbacks.BackupAndRestore` replaced by
kerasext's classes. Changes are only the deliberate deviations listed in the
classes' docstrings, each marked `# deviation:` below.
"""

import json
import os

import numpy as np
import pytest
from keras import callbacks as keras_callbacks
from keras import layers, metrics, models, ops
from keras.models import Sequential

from kerasext import callbacks

pytestmark = pytest.mark.cross_backend


# ---------------------------------------------------------------- early_stopping_test.py


def test_early_stopping():
    x_train = np.random.random((10, 5))
    y_train = np.random.random((10, 1))
    x_test = np.random.random((10, 5))
    y_test = np.random.random((10, 1))
    model = models.Sequential(
        (
            layers.Dense(1, activation="relu"),
            layers.Dense(1, activation="relu"),
        )
    )
    model.compile(
        loss="mae",
        optimizer="adam",
        metrics=[
            "mse",
            "acc",
            "accuracy",
            "hinge",
            metrics.F1Score(name="f1_score"),
        ],
    )

    cases = [
        ("max", "val_mse", "max"),
        ("min", "val_loss", "min"),
        ("auto", "val_mse", "min"),
        ("auto", "loss", "min"),
        ("auto", "acc", "max"),
        ("auto", "val_accuracy", "max"),
        ("auto", "hinge", "min"),
        ("auto", "f1_score", "max"),
    ]
    for mode, monitor, expected_mode in cases:
        patience = 0
        cbks = [callbacks.EarlyStopping(patience=patience, monitor=monitor, mode=mode)]
        model.fit(
            x_train,
            y_train,
            batch_size=5,
            validation_data=(x_test, y_test),
            callbacks=cbks,
            epochs=2,
            verbose=0,
        )
        if expected_mode == "max":
            monitor_op = ops.greater
        else:
            monitor_op = ops.less
        assert cbks[0].monitor_op == monitor_op

    with pytest.raises(ValueError):
        cbks = [callbacks.EarlyStopping(patience=patience, monitor="unknown")]
        model.fit(
            x_train,
            y_train,
            batch_size=5,
            validation_data=(x_test, y_test),
            callbacks=cbks,
            epochs=2,
            verbose=0,
        )


def test_early_stopping_patience():
    cases = [0, 1, 2, 3]
    losses = [10.0, 9.0, 8.0, 9.0, 8.9, 8.8, 8.7, 8.6, 8.5]

    for patience in cases:
        stopper = callbacks.EarlyStopping(monitor="loss", patience=patience)
        stopper.set_model(models.Sequential())
        stopper.model.compile(loss="mse", optimizer="sgd")
        stopper.on_train_begin()

        for epoch, loss in enumerate(losses):
            stopper.on_epoch_end(epoch=epoch, logs={"loss": loss})
            if stopper.model.stop_training:
                break

        assert stopper.stopped_epoch == max(patience, 1) + 2


def test_early_stopping_reuse():
    patience = 3
    data = np.random.random((100, 1))
    labels = np.where(data > 0.5, 1, 0)
    model = models.Sequential(
        (
            layers.Dense(1, activation="relu"),
            layers.Dense(1, activation="relu"),
        )
    )
    model.compile(
        optimizer="sgd",
        loss="mae",
        metrics=["mse"],
    )
    stopper = callbacks.EarlyStopping(monitor="mse", patience=patience)

    history1 = model.fit(data, labels, callbacks=[stopper], verbose=0, epochs=20)
    assert len(history1.epoch) >= patience

    history2 = model.fit(data, labels, callbacks=[stopper], verbose=0, epochs=20)
    assert len(history2.epoch) >= patience


def test_state_reset_across_fit_calls():
    stopper = callbacks.EarlyStopping(monitor="loss", patience=3)
    stopper.set_model(models.Sequential())
    stopper.on_train_begin()
    # Drive some state from a first run.
    stopper.best = 0.1
    stopper.wait = 3
    stopper.stopped_epoch = 5
    stopper.best_epoch = 5
    stopper.best_weights = object()
    # New `model.fit()` -> `on_train_begin` should clear all per-run state.
    stopper.on_train_begin()
    assert stopper.best is None
    assert stopper.wait == 0
    assert stopper.stopped_epoch == 0
    assert stopper.best_epoch == 0
    assert stopper.best_weights is None


def test_early_stopping_with_baseline():
    baseline = 0.6
    x_train = np.random.random((10, 5))
    y_train = np.random.random((10, 1))
    model = models.Sequential(
        (
            layers.Dense(1, activation="relu"),
            layers.Dense(1, activation="relu"),
        )
    )
    model.compile(optimizer="sgd", loss="mae", metrics=["mse"])

    patience = 3
    stopper = callbacks.EarlyStopping(monitor="mse", patience=patience, baseline=baseline)
    hist = model.fit(x_train, y_train, callbacks=[stopper], verbose=0, epochs=20)
    assert len(hist.epoch) >= patience


class DummyModel:
    def __init__(self):
        self.stop_training = False
        self.weights = -1

    def get_weights(self):
        return self.weights

    def set_weights(self, weights):
        self.weights = weights

    def set_weight_to_epoch(self, epoch):
        self.weights = epoch


def test_early_stopping_final_weights_when_restoring_model_weights():
    early_stop = callbacks.EarlyStopping(
        monitor="val_loss", patience=2, restore_best_weights=True
    )
    early_stop.set_model(DummyModel())
    losses = [0.2, 0.15, 0.1, 0.11, 0.12]
    # The best configuration is in the epoch 2 (loss = 0.1000).
    epochs_trained = 0
    early_stop.on_train_begin()
    for epoch in range(len(losses)):
        epochs_trained += 1
        early_stop.model.set_weight_to_epoch(epoch=epoch)
        early_stop.on_epoch_end(epoch, logs={"val_loss": losses[epoch]})
        if early_stop.model.stop_training:
            break
    early_stop.on_train_end()
    # The best configuration is in epoch 2 (loss = 0.1000), and while
    # patience = 2, we're restoring the best weights, so we end up at the
    # epoch with the best weights, i.e. epoch 2
    assert early_stop.model.get_weights() == 2

    # Check early stopping when no model beats the baseline.
    early_stop = callbacks.EarlyStopping(
        monitor="val_loss",
        patience=5,
        baseline=0.5,
        restore_best_weights=True,
    )
    early_stop.set_model(DummyModel())
    losses = [0.9, 0.8, 0.7, 0.71, 0.72, 0.73]
    # The best configuration is in the epoch 2 (loss = 0.7000).
    epochs_trained = 0
    early_stop.on_train_begin()
    for epoch in range(len(losses)):
        epochs_trained += 1
        early_stop.model.set_weight_to_epoch(epoch=epoch)
        early_stop.on_epoch_end(epoch, logs={"val_loss": losses[epoch]})
        if early_stop.model.stop_training:
            break
    early_stop.on_train_end()
    # No epoch improves on the baseline, so we should train for only 5
    # epochs, and restore the second model.
    assert epochs_trained == 5
    assert early_stop.model.get_weights() == 2

    # Check weight restoration when another callback requests a stop.
    early_stop = callbacks.EarlyStopping(
        monitor="val_loss",
        patience=5,
        baseline=0.5,
        restore_best_weights=True,
    )
    early_stop.set_model(DummyModel())
    losses = [0.9, 0.8, 0.7, 0.71, 0.72, 0.73]
    # The best configuration is in the epoch 2 (loss = 0.7000).
    epochs_trained = 0
    early_stop.on_train_begin()
    for epoch in range(len(losses)):
        epochs_trained += 1
        early_stop.model.set_weight_to_epoch(epoch=epoch)
        early_stop.on_epoch_end(epoch, logs={"val_loss": losses[epoch]})
        if epoch == 3:
            early_stop.model.stop_training = True
        if early_stop.model.stop_training:
            break
    early_stop.on_train_end()
    # We should restore the second model.
    assert epochs_trained == 4
    assert early_stop.model.get_weights() == 2


def test_early_stopping_with_start_from_epoch():
    x_train = np.random.random((10, 5))
    y_train = np.random.random((10, 1))
    model = models.Sequential(
        (
            layers.Dense(1, activation="relu"),
            layers.Dense(1, activation="relu"),
        )
    )
    model.compile(optimizer="sgd", loss="mae", metrics=["mse"])
    start_from_epoch = 2
    patience = 3
    stopper = callbacks.EarlyStopping(
        monitor="mse",
        patience=patience,
        start_from_epoch=start_from_epoch,
    )
    history = model.fit(x_train, y_train, callbacks=[stopper], verbose=0, epochs=20)
    # Test 'patience' argument functions correctly when used in conjunction
    # with 'start_from_epoch'.
    assert len(history.epoch) >= patience + start_from_epoch

    start_from_epoch = 2
    patience = 0
    stopper = callbacks.EarlyStopping(
        monitor="mse",
        patience=patience,
        start_from_epoch=start_from_epoch,
    )
    history = model.fit(x_train, y_train, callbacks=[stopper], verbose=0, epochs=20)
    # Test for boundary condition when 'patience' = 0.
    assert len(history.epoch) >= start_from_epoch


# ------------------------------------------------------------ backup_and_restore_test.py


class InterruptingCallback(keras_callbacks.Callback):
    """A callback to intentionally interrupt training."""

    def __init__(self, steps_int, epoch_int):
        self.batch_count = 0
        self.epoch_count = 0
        self.steps_int = steps_int
        self.epoch_int = epoch_int

    def on_epoch_end(self, epoch, log=None):
        self.epoch_count += 1
        if self.epoch_int is not None and self.epoch_count == self.epoch_int:
            raise RuntimeError("EpochInterruption")

    def on_batch_end(self, batch, logs=None):
        self.batch_count += 1
        if self.steps_int is not None and self.batch_count == self.steps_int:
            raise RuntimeError("StepsInterruption")


class CanaryLayer(layers.Layer):
    def __init__(self):
        super().__init__()
        self.counter = self.add_weight(
            shape=(), initializer="zeros", dtype="float32", trainable=False
        )

    def call(self, x):
        self.counter.assign_add(1)
        return x


def make_model():
    model = Sequential(
        [
            layers.Input((3,)),
            CanaryLayer(),
            layers.Dense(1),
        ]
    )
    model.compile(
        loss="mse",
        optimizer="sgd",
        metrics=["mse"],
    )
    return model


def test_save_freq_unknown_error():
    with pytest.raises(ValueError, match="Invalid value"):
        callbacks.BackupAndRestore(backup_dir="backup_dir", save_freq="batch")

    with pytest.raises(ValueError, match="Invalid value"):
        callbacks.BackupAndRestore(backup_dir="backup_dir", save_freq=0.15)


def test_best_case_step(tmp_path):
    backup_dir = os.path.join(str(tmp_path), "subdir")
    assert not os.path.exists(backup_dir)

    model = make_model()
    cbk = callbacks.BackupAndRestore(backup_dir, save_freq=1)

    x_train = np.random.random((10, 3))
    y_train = np.random.random((10, 1))

    with pytest.raises(RuntimeError):  # the Keras test uses try/except: it must raise
        model.fit(
            x_train,
            y_train,
            batch_size=4,
            callbacks=[cbk, InterruptingCallback(steps_int=2, epoch_int=None)],
            epochs=2,
            verbose=0,
        )
    assert os.path.exists(backup_dir)
    assert cbk._current_epoch == 0
    assert cbk._last_batch_seen == 1
    assert int(model.layers[0].counter.value) == 2

    hist = model.fit(x_train, y_train, batch_size=4, callbacks=[cbk], epochs=5, verbose=0)

    assert cbk._current_epoch == 5
    assert hist.epoch[-1] == 4
    assert int(model.layers[0].counter.value) == 17


def test_best_case_epoch(tmp_path):
    backup_dir = os.path.join(str(tmp_path), "subdir")
    assert not os.path.exists(backup_dir)

    model = make_model()
    assert int(model.layers[0].counter.value) == 0
    cbk = callbacks.BackupAndRestore(backup_dir=backup_dir, save_freq="epoch")

    x_train = np.random.random((10, 3))
    y_train = np.random.random((10, 1))

    with pytest.raises(RuntimeError):
        model.fit(
            x_train,
            y_train,
            batch_size=4,
            callbacks=[cbk, InterruptingCallback(steps_int=None, epoch_int=2)],
            epochs=6,
            verbose=0,
        )
    assert cbk._current_epoch == 2
    assert os.path.exists(backup_dir)
    assert int(model.layers[0].counter.value) == 6

    hist = model.fit(x_train, y_train, batch_size=4, callbacks=[cbk], epochs=5, verbose=0)
    assert cbk._current_epoch == 5
    assert hist.epoch[-1] == 4
    assert int(model.layers[0].counter.value) == 5 * 3


def test_backup_corrupted(tmp_path):
    backup_dir = os.path.join(str(tmp_path), "subdir")
    assert not os.path.exists(backup_dir)

    model = make_model()
    assert int(model.layers[0].counter.value) == 0
    cbk = callbacks.BackupAndRestore(
        backup_dir=backup_dir, save_freq="epoch", double_checkpoint=True
    )

    x_train = np.random.random((10, 3))
    y_train = np.random.random((10, 1))

    with pytest.raises(RuntimeError):
        model.fit(
            x_train,
            y_train,
            batch_size=4,
            callbacks=[cbk, InterruptingCallback(steps_int=None, epoch_int=2)],
            epochs=6,
            verbose=0,
        )
    assert cbk._current_epoch == 2
    assert os.path.exists(backup_dir)
    # deviation: backups live in ckpt-* folders behind the checkpoint.json pointer, not in
    # Keras' latest.weights.h5 / training_metadata.json (+ .bkp) files.
    with open(os.path.join(backup_dir, "checkpoint.json")) as f:
        pointer = json.load(f)
    current = os.path.join(backup_dir, pointer["current"])
    previous = os.path.join(backup_dir, pointer["previous"])
    for folder in (current, previous):
        assert os.path.exists(os.path.join(folder, "model.weights.h5"))
        assert os.path.exists(os.path.join(folder, "training_metadata.json"))
    assert int(model.layers[0].counter.value) == 6

    # Corruption weights
    with open(os.path.join(current, "model.weights.h5"), "w") as f:
        f.write("0")

    # deviation: falling back to the previous backup warns.
    with pytest.warns(UserWarning, match="resumed from the previous one"):
        hist = model.fit(x_train, y_train, batch_size=4, callbacks=[cbk], epochs=5, verbose=0)
    assert cbk._current_epoch == 5
    assert hist.epoch[-1] == 4
    assert int(model.layers[0].counter.value) == 5 * 3


def test_model_deleted_case_epoch(tmp_path):
    backup_dir = os.path.join(str(tmp_path), "subdir")
    assert not os.path.exists(backup_dir)

    model = make_model()
    cbk = callbacks.BackupAndRestore(backup_dir, save_freq="epoch")

    x_train = np.random.random((10, 3))
    y_train = np.random.random((10, 1))
    model.fit(x_train, y_train, batch_size=4, callbacks=[cbk], epochs=2, verbose=0)
    assert not os.path.exists(backup_dir)


def test_backup_dir_empty_error():
    with pytest.raises(ValueError, match="Empty `backup_dir` argument passed"):
        callbacks.BackupAndRestore(backup_dir="", save_freq="epoch")


def test_backup_dir_none_error():
    with pytest.raises(ValueError, match="Empty `backup_dir` argument passed"):
        callbacks.BackupAndRestore(backup_dir=None, save_freq="epoch")
