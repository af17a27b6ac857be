import json
import os

import keras
import numpy as np
import pytest

from kerasext._compat import set_random_seed
from kerasext.callbacks import BackupAndRestore, EarlyStopping, OverfitDetector
from tests import conformance

pytestmark = pytest.mark.cross_backend

EPOCHS = 30
_rng = np.random.default_rng(0)
X = _rng.normal(size=(64, 8)).astype("float32")
Y = (X @ _rng.normal(size=(8, 1)) + _rng.normal(scale=1.5, size=(64, 1))).astype("float32")
X_VAL, Y_VAL = X[48:], Y[48:]
X, Y = X[:48], Y[:48]


class Preempted(RuntimeError):
    pass


class Killer(keras.callbacks.Callback):
    """Raises where a preemption would hit: at an epoch end, mid-epoch, or at train end."""

    def __init__(self, epoch, where="epoch_end"):
        super().__init__()
        self.epoch, self.where = epoch, where

    def on_epoch_end(self, epoch, logs=None):
        if self.where == "epoch_end" and epoch == self.epoch:
            raise Preempted(f"killed at the end of epoch {epoch}")

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_begin(self, batch, logs=None):
        if self.where == "mid_epoch" and self._epoch == self.epoch and batch == 1:
            raise Preempted(f"killed in epoch {self._epoch}")

    def on_train_end(self, logs=None):
        if self.where == "train_end":
            raise Preempted("killed at the end of training")


def build_model(seed):
    set_random_seed(seed)
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(32, activation="relu"),
                              keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(0.02), loss="mse")
    return model


def kerasext_callbacks(backup_dir, order="backup_last", **backup_kwargs):
    stopper = EarlyStopping(patience=3)
    detector = OverfitDetector(criterion="up", threshold=1, strip_length=3, action="log")
    backup = BackupAndRestore(backup_dir, **backup_kwargs)
    if order == "backup_last":
        return [stopper, detector, backup]
    return [backup, stopper, detector]


def fit(model, callbacks):
    return model.fit(X, Y, validation_data=(X_VAL, Y_VAL), epochs=EPOCHS, batch_size=16,
                     shuffle=False, verbose=0, callbacks=callbacks)


def outcome(model, callbacks):
    stopper = next(c for c in callbacks if isinstance(c, EarlyStopping))
    detector = next(c for c in callbacks if isinstance(c, OverfitDetector))
    return {
        "stopped_epoch": stopper.stopped_epoch,
        "stop_reason": stopper.stop_reason,
        "best": stopper.best,
        "best_epoch": stopper.best_epoch,
        "onset_epoch": detector.onset_epoch,
        "trace": detector.trace,
        "weights": model.get_weights(),
    }


def assert_same_outcome(got, want):
    for key in ("stopped_epoch", "stop_reason", "best_epoch", "onset_epoch"):
        assert got[key] == want[key], key
    np.testing.assert_allclose(got["best"], want["best"], rtol=1e-6)
    for key in ("epoch", "strip_end", "up"):
        assert got["trace"][key] == want["trace"][key]
    np.testing.assert_allclose(got["trace"]["val_error"], want["trace"]["val_error"], rtol=1e-6)
    for a, b in zip(got["weights"], want["weights"]):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    model = build_model(0)
    callbacks = kerasext_callbacks(str(tmp_path_factory.mktemp("reference") / "backup"))
    fit(model, callbacks)
    result = outcome(model, callbacks)
    # the scenario must stop early, after a best epoch that is not the first
    assert result["stop_reason"] == "patience" and 2 <= result["best_epoch"] < EPOCHS - 5
    return result


def interrupted_run(backup_dir, kill, order="backup_last", **backup_kwargs):
    model = build_model(0)
    with pytest.raises(Preempted):
        fit(model, kerasext_callbacks(backup_dir, order, **backup_kwargs) + [kill])


def resume(backup_dir, order="backup_last", **backup_kwargs):
    model = build_model(7)  # a new process: other initial weights, new callback objects
    callbacks = kerasext_callbacks(backup_dir, order, **backup_kwargs)
    history = fit(model, callbacks)
    return model, callbacks, history


def test_conformance(tmp_path):
    conformance.run_callback_test(BackupAndRestore, {"backup_dir": str(tmp_path / "backup")},
                                  epochs=3)


@pytest.mark.parametrize(
    "kill_epoch, where, order",
    [
        (0, "epoch_end", "backup_last"),
        ("best", "epoch_end", "backup_last"),
        ("before_stop", "epoch_end", "backup_last"),
        ("best", "mid_epoch", "backup_last"),
        ("best", "epoch_end", "backup_first"),
    ],
)
def test_resumed_run_ends_as_the_uninterrupted_one(uninterrupted, tmp_path, kill_epoch, where,
                                                   order):
    kill_epoch = {"best": uninterrupted["best_epoch"],
                  "before_stop": uninterrupted["stopped_epoch"] - 1}.get(kill_epoch, kill_epoch)
    backup_dir = str(tmp_path / "backup")
    interrupted_run(backup_dir, Killer(kill_epoch, where), order)
    model, callbacks, history = resume(backup_dir, order)
    assert_same_outcome(outcome(model, callbacks), uninterrupted)
    # the resumed fit ran only the epochs the backup did not cover
    first = kill_epoch + 1 if (where, order) == ("epoch_end", "backup_last") else kill_epoch
    assert len(history.history["loss"]) == uninterrupted["stopped_epoch"] + 1 - first
    assert not os.path.exists(backup_dir)  # deleted at the normal end


def test_keras_early_stopping_diverges_in_the_same_setup(uninterrupted, tmp_path):
    """Keras' EarlyStopping starts afresh on resume: it stops later, from other weights."""

    def keras_callbacks(backup_dir):
        return [keras.callbacks.EarlyStopping(patience=3, restore_best_weights=True),
                keras.callbacks.BackupAndRestore(backup_dir)]

    reference = keras_callbacks(str(tmp_path / "reference"))
    fit(build_model(0), reference)
    assert reference[0].stopped_epoch == uninterrupted["stopped_epoch"]  # same run, same stop
    backup_dir = str(tmp_path / "backup")
    with pytest.raises(Preempted):
        fit(build_model(0), keras_callbacks(backup_dir) + [Killer(uninterrupted["best_epoch"])])
    resumed = keras_callbacks(backup_dir)
    fit(build_model(7), resumed)
    assert resumed[0].stopped_epoch > uninterrupted["stopped_epoch"]
    assert resumed[0].best_epoch != uninterrupted["best_epoch"]


def test_crash_while_writing_keeps_the_previous_backup(uninterrupted, tmp_path, monkeypatch):
    backup_dir = str(tmp_path / "backup")
    write = BackupAndRestore._write_backup
    calls = []

    def crashing_write(self, directory):
        calls.append(directory)
        if len(calls) == 4:  # the backup of epoch 3: half written, then the crash
            with open(os.path.join(directory, "model.weights.h5"), "wb") as f:
                f.write(b"\x89HDF\r\n half a file")
            raise OSError("disk full")
        return write(self, directory)

    monkeypatch.setattr(BackupAndRestore, "_write_backup", crashing_write)
    with pytest.raises(OSError, match="disk full"):
        fit(build_model(0), kerasext_callbacks(backup_dir))
    monkeypatch.undo()
    with open(os.path.join(backup_dir, "checkpoint.json")) as f:
        current = json.load(f)["current"]
    assert current.startswith("ckpt-000003-")  # three epochs done
    # leftovers of a process killed while writing (no cleanup ran) are ignored too
    for leftover in (".tmp-ckpt-000004-deadbeef", "ckpt-000004-deadbeef"):
        os.makedirs(os.path.join(backup_dir, leftover))
        with open(os.path.join(backup_dir, leftover, "model.weights.h5"), "wb") as f:
            f.write(b"garbage")
    model, callbacks, history = resume(backup_dir)
    assert_same_outcome(outcome(model, callbacks), uninterrupted)
    assert len(history.history["loss"]) == uninterrupted["stopped_epoch"] + 1 - 3


def test_unreadable_latest_backup_falls_back_to_the_previous(uninterrupted, tmp_path):
    backup_dir = str(tmp_path / "backup")
    kill_epoch = uninterrupted["best_epoch"]
    interrupted_run(backup_dir, Killer(kill_epoch), double_checkpoint=True)
    with open(os.path.join(backup_dir, "checkpoint.json")) as f:
        pointer = json.load(f)
    assert pointer["previous"] and sorted(
        e for e in os.listdir(backup_dir) if e.startswith("ckpt-")
    ) == sorted([pointer["current"], pointer["previous"]])
    with open(os.path.join(backup_dir, pointer["current"], "model.weights.h5"), "wb") as f:
        f.write(b"corrupted")
    with pytest.warns(UserWarning, match="resumed from the previous one"):
        model, callbacks, history = resume(backup_dir, double_checkpoint=True)
    assert_same_outcome(outcome(model, callbacks), uninterrupted)
    assert len(history.history["loss"]) == uninterrupted["stopped_epoch"] + 1 - kill_epoch


def test_run_already_stopped_does_not_train_again(uninterrupted, tmp_path):
    backup_dir = str(tmp_path / "backup")
    model = build_model(0)
    stopper, detector, backup = kerasext_callbacks(backup_dir)
    with pytest.raises(Preempted):  # dies after the stop, before the backup is deleted
        fit(model, [stopper, detector, Killer(None, "train_end"), backup])
    model, callbacks, history = resume(backup_dir)
    assert history.history == {}
    assert_same_outcome(outcome(model, callbacks), uninterrupted)
    # the model object fits normally afterwards (Keras would keep skipping epochs)
    again = model.fit(X, Y, epochs=2, verbose=0, callbacks=[BackupAndRestore(backup_dir)])
    assert len(again.history["loss"]) == 2


def test_resumes_from_a_keras_backup_without_callback_state(tmp_path):
    backup_dir = str(tmp_path / "backup")
    with pytest.raises(Preempted):
        fit(build_model(0), [keras.callbacks.BackupAndRestore(backup_dir), Killer(2)])
    with pytest.warns(UserWarning, match="written by keras.callbacks.BackupAndRestore"):
        _, _, history = resume(backup_dir)
    assert len(history.history["loss"]) <= EPOCHS - 3


def test_mismatched_callbacks_warn(tmp_path):
    backup_dir = str(tmp_path / "backup")
    interrupted_run(backup_dir, Killer(1))
    model = build_model(7)
    callbacks = [EarlyStopping(patience=4), BackupAndRestore(backup_dir)]
    with pytest.warns(UserWarning) as caught:
        fit(model, callbacks)
    messages = " ".join(str(w.message) for w in caught)
    assert "configured differently" in messages and "OverfitDetector_0" in messages


def test_remote_backup_dir_is_refused():
    import sys

    tensorflow_loaded = "tensorflow" in sys.modules
    with pytest.raises(ValueError, match="Expected a local folder"):
        BackupAndRestore("gs://bucket/backup")
    # Refused before Keras reaches for tf.io.gfile (which would import TensorFlow on any backend).
    assert ("tensorflow" in sys.modules) == tensorflow_loaded


@pytest.mark.tensorflow_only("tf.distribute's should_checkpoint is TensorFlow-only")
def test_only_the_chief_writes_or_deletes_backups():
    # A model whose strategy says "worker 1 of 2, not the chief" (TF_CONFIG set too):
    # the epoch-end backup must leave backup_dir untouched.
    from tests.distributed.train_common import backup_writes_only_on_chief

    assert backup_writes_only_on_chief()


def test_only_jax_process_zero_writes_or_deletes_backups(tmp_path, monkeypatch):
    """Several JAX processes (`keras.distribution.initialize`) share backup_dir: process 0 writes."""
    if keras.backend.backend() != "jax":
        pytest.skip("JAX processes exist on the JAX backend only")
    import jax

    backup_dir = str(tmp_path / "backup")
    interrupted_run(backup_dir, Killer(1))  # process 0's backup of epochs 0 and 1
    with open(os.path.join(backup_dir, "checkpoint.json")) as f:
        written = json.load(f)["current"]
    monkeypatch.setattr(jax, "process_index", lambda *args, **kwargs: 1)
    model, callbacks, history = resume(backup_dir)
    # Worker 1 resumed from process 0's backup, trained to the end, and neither wrote a
    # backup of its own nor deleted the shared folder.
    assert len(history.history["loss"]) < EPOCHS - 1
    assert sorted(e for e in os.listdir(backup_dir) if e.startswith("ckpt-")) == [written]


def test_custom_training_loop_callback_list_resumes_callback_state(tmp_path):
    """A loop that builds its own `keras.callbacks.CallbackList` (model, no params)."""
    from tests.callbacks.helpers import tiny_model, weight_epoch

    values = [5.0, 4.0, 3.0, 3.5, 3.6, 3.7, 3.8, 3.9]  # best at epoch 2; patience 3 stops at 5

    def loop(callbacks, kill_after=None):
        model = tiny_model()
        callback_list = keras.callbacks.CallbackList(callbacks, model=model)
        model.stop_training = False
        callback_list.on_train_begin()
        ran = []
        for epoch in range(model._initial_epoch or 0, len(values)):  # what fit reads
            callback_list.on_epoch_begin(epoch)
            model.set_weights([np.full((1, 1), float(epoch), dtype="float32")])
            callback_list.on_epoch_end(epoch, {"val_loss": values[epoch]})
            ran.append(epoch)
            if epoch == kill_after:
                raise Preempted(epoch)
            if model.stop_training:
                break
        callback_list.on_train_end()
        return model, ran

    reference = keras.callbacks.EarlyStopping(patience=3, restore_best_weights=True)
    model, ran = loop([reference])
    assert (reference.stopped_epoch, reference.best_epoch, weight_epoch(model)) == (5, 2, 2)

    backup_dir = str(tmp_path / "backup")
    with pytest.raises(Preempted):
        loop([EarlyStopping(patience=3), BackupAndRestore(backup_dir)], kill_after=3)
    stopper = EarlyStopping(patience=3)
    model, ran = loop([BackupAndRestore(backup_dir), stopper])
    assert ran == [4, 5]
    assert (stopper.stopped_epoch, stopper.best_epoch, stopper.wait) == (
        reference.stopped_epoch, reference.best_epoch, reference.wait)
    assert weight_epoch(model) == 2


def _learning_rate(model):
    return float(keras.ops.convert_to_numpy(model.optimizer.learning_rate))


@pytest.mark.parametrize("backup_first", [True, False])
def test_keras_reduce_lr_on_plateau_state_survives_resume(tmp_path, backup_first):
    def run(callbacks):
        model = build_model(0)
        model.optimizer.learning_rate = 0.01
        model.fit(X, Y, epochs=8, batch_size=16, shuffle=False, verbose=0, callbacks=callbacks)
        return model

    def reducer():  # min_delta=100: no epoch after the first improves, a cut every 2 epochs
        return keras.callbacks.ReduceLROnPlateau(monitor="loss", factor=0.5, patience=2,
                                                 min_delta=100.0)

    uninterrupted = _learning_rate(run([reducer()]))
    assert uninterrupted == pytest.approx(0.01 / 8)  # cuts after epochs 2, 4 and 6
    backup_dir = str(tmp_path / "backup")

    def callbacks():
        pair = [BackupAndRestore(backup_dir), reducer()]
        return pair if backup_first else pair[::-1]

    with pytest.raises(Preempted):
        run(callbacks() + [Killer(3)])
    assert _learning_rate(run(callbacks())) == pytest.approx(uninterrupted)


def test_keras_callback_state_that_cannot_be_saved_warns(tmp_path):
    csv = keras.callbacks.CSVLogger(str(tmp_path / "log.csv"))
    with pytest.warns(UserWarning, match=r"CSVLogger\(append=False\) rewrites its file"):
        build_model(0).fit(X, Y, epochs=1, verbose=0,
                           callbacks=[BackupAndRestore(str(tmp_path / "backup")), csv])
