"""BackupAndRestore that also saves the kerasext callbacks' state, atomically."""

import contextlib
import inspect
import json
import os
import shutil
import uuid
import warnings

import keras
import numpy as np

from kerasext import _compat
from kerasext.api_export import kerasext_export
from kerasext.callbacks._state import (
    StatefulCallback,
    close_fit_group,
    decode,
    deepcopy_without_fit,
    encode,
    join_fit_group,
    siblings_of,
    state_keys,
)

POINTER = "checkpoint.json"
FORMAT = "kerasext.BackupAndRestore/1"
_WEIGHTS = "model.weights.h5"
_METADATA = "training_metadata.json"
_CALLBACKS = "callbacks.json"
#: What `keras.callbacks.BackupAndRestore` writes (its documented file name).
_KERAS_WEIGHTS = "latest.weights.h5"
_ARRAYS = "callbacks.npz"


#: Keras callbacks whose state a resumed run needs but Keras does not back up (a new
#: process starts them afresh, and ReduceLROnPlateau and EarlyStopping reset it at
#: `on_train_begin`), with the public attributes that hold it.
KERAS_CALLBACK_STATE = (
    (keras.callbacks.ReduceLROnPlateau, ("best", "wait", "cooldown_counter")),
    (keras.callbacks.EarlyStopping, ("best", "wait", "best_epoch", "stopped_epoch",
                                     "best_weights")),
    (keras.callbacks.ModelCheckpoint, ("best",)),
)


def _keras_state_attributes(callback):
    for cls, attributes in KERAS_CALLBACK_STATE:
        if isinstance(callback, cls):
            return attributes
    return None


def _unsaved_state_warning(callback):
    """Why a resumed run loses what `callback` keeps, or `None`."""
    if isinstance(callback, keras.callbacks.CSVLogger) and not callback.append:
        return ("keras.callbacks.CSVLogger(append=False) rewrites its file when the resumed run "
                "begins: the rows of the epochs before the interruption are lost. Pass "
                "append=True.")
    if isinstance(callback, keras.callbacks.TensorBoard) and callback.update_freq != "epoch":
        return ("keras.callbacks.TensorBoard restarts its batch-level step counter (not public) "
                "when the resumed run begins: batch-level summaries restart at step 0. "
                "Epoch-level summaries are not affected.")
    return None


def _enclosing_callback_list(callback):
    """The `keras.callbacks.CallbackList` whose `on_train_begin` is calling `callback`'s."""
    frame = inspect.currentframe()
    try:
        frame = frame.f_back
        for _ in range(8):
            if frame is None:
                return None
            candidate = frame.f_locals.get("self")
            if isinstance(candidate, keras.callbacks.CallbackList) and any(
                other is callback for other in candidate.callbacks
            ):
                return candidate
            frame = frame.f_back
    finally:
        del frame
    return None


@contextlib.contextmanager
def _local_saving():
    """Saves and loads with no `keras.distribution` distribution set (JAX).

    Keras' weight saving creates throw-away variables (an `Optimizer(1.0)` to
    list the attributes to skip). Under a distribution each new variable is
    laid out on the global mesh, which with several JAX processes is a
    collective: created by the chief alone (the only one that saves), it
    waits for, or collides with, the other processes ("passed to device_put
    is not the same on each process"). Without a distribution those variables
    stay on the local device; the model's own variables keep their layouts.
    """
    if keras.backend.backend() != "jax" or keras.distribution.distribution() is None:
        yield
        return
    previous = keras.distribution.distribution()
    keras.distribution.set_distribution(None)
    try:
        yield
    finally:
        keras.distribution.set_distribution(previous)


def _write_json(path, value):
    with open(path, "w") as f:
        json.dump(value, f)


def _read_json(path):
    with open(path) as f:
        return json.load(f)


def _json_normalize(value):
    return json.loads(json.dumps(value))


@kerasext_export
class BackupAndRestore(keras.callbacks.BackupAndRestore):
    """Backs up and restores the training state, including that of the kerasext callbacks.

    A drop-in for `keras.callbacks.BackupAndRestore` (same arguments, same
    behaviour for the model, its optimizer and the epoch counter) that also
    saves, with every backup, the state of the kerasext callbacks of the same
    `fit` call (`kerasext.callbacks.EarlyStopping`, `OverfitDetector`: their
    counters, best value and epoch, best weights and detector history) and
    restores it on resume. A run that is interrupted and resumed with a fresh
    model and fresh callbacks (same architecture, same configuration, same
    `backup_dir`) therefore ends exactly as the uninterrupted run: same stopped
    epoch, best value, best epoch and restored weights. A run that one of
    these callbacks had already stopped does not train again on resume.

    Every backup is written into a new folder of `backup_dir` and committed by
    atomically replacing a small pointer file (`checkpoint.json`) with
    `os.replace`: a crash while writing leaves the previous backup intact and
    used. `backup_dir` must therefore be a local path.

    The sibling callbacks are the kerasext callbacks to which the same
    `keras.callbacks.CallbackList` gave the model (`set_model`) just before
    training began: those of the same `fit` call, or of a `CallbackList` that
    a custom training loop builds (with or without `params`); see
    `kerasext/callbacks/_state.py`. Their states are matched on resume
    by class and rank among callbacks of that class, so keep the same list.
    The backup is written once every kerasext callback has seen the epoch's
    end: at this callback's own `on_epoch_end` when it comes after them in the
    list (recommended), otherwise when the next epoch begins.

    It also saves, through their public attributes, the state that Keras'
    own callbacks lose on resume: `keras.callbacks.ReduceLROnPlateau`
    (`best`, `wait`, `cooldown_counter`: without them a resumed run reduces
    the learning rate later, and ends with another one),
    `keras.callbacks.EarlyStopping` (`best`, `wait`, `best_epoch`,
    `stopped_epoch`, `best_weights`) and `keras.callbacks.ModelCheckpoint`
    (`best`: without it `save_best_only` overwrites the best file with the
    first epoch after resume). They are found in the
    `keras.callbacks.CallbackList` that calls this callback's
    `on_train_begin`, and their state is restored once every callback's
    `on_train_begin` has run. A `UserWarning` names the Keras callbacks of
    the same fit that lose what they hold on resume and whose state cannot be
    saved: `keras.callbacks.CSVLogger(append=False)` (rewrites its file) and
    `keras.callbacks.TensorBoard` with batch-level summaries (its step
    counter restarts).

    Deliberate deviations from `keras.callbacks.BackupAndRestore`: the files
    in `backup_dir` (`checkpoint.json` and `ckpt-*` folders instead of
    `latest.weights.h5`, `training_metadata.json` and their `.bkp` copies);
    a remote `backup_dir` is refused; falling back to the previous backup
    (`double_checkpoint=True`) warns; `model._initial_epoch` is reset at the
    end of training.

    As with Keras' callback, a resumed run repeats an uninterrupted one only if
    training is deterministic (e.g. `shuffle=False` or a seeded dataset, and
    no stateful randomness outside the model's weights).

    Args:
        backup_dir: local folder for the backups; used by nothing else.
        save_freq: `"epoch"` or an integer number of batches between backups
            (the callbacks' state is then that of the last completed epoch).
            Defaults to `"epoch"`.
        double_checkpoint: keep the previous backup too, and fall back to it
            if the latest cannot be read. Defaults to `False`.
        delete_checkpoint: delete `backup_dir` when training ends normally.
            Defaults to `True`.

    Example:

    ```python
    import keras
    import numpy as np

    x = np.random.default_rng(0).normal(size=(32, 3)).astype("float32")
    y = x.sum(axis=1, keepdims=True)

    class Preempted(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 2:
                raise RuntimeError("preempted")

    def setup():
        model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
        model.compile(optimizer="sgd", loss="mse")
        stopper = kx.callbacks.EarlyStopping(patience=2)
        return model, [stopper, kx.callbacks.BackupAndRestore("backup")]

    model, callbacks = setup()
    try:
        model.fit(x, y, validation_split=0.25, epochs=6, verbose=0,
                  callbacks=callbacks + [Preempted()])
    except RuntimeError:
        pass
    model, callbacks = setup()  # a new process: new objects, same folder
    history = model.fit(x, y, validation_split=0.25, epochs=6, verbose=0, callbacks=callbacks)
    print(len(history.history["loss"]), callbacks[0].best_epoch)  # 3 more epochs
    ```
    """

    def __init__(self, backup_dir, save_freq="epoch", double_checkpoint=False,
                 delete_checkpoint=True):
        # Refused before Keras' constructor joins the path: on a remote path that goes
        # through tf.io.gfile, which imports TensorFlow whatever the backend.
        if _compat.is_remote_path(backup_dir):
            raise ValueError(
                "Invalid `backup_dir` argument value. Expected a local folder (backups are "
                f"committed atomically with os.replace). Received: backup_dir={backup_dir!r}"
            )
        super().__init__(backup_dir, save_freq=save_freq, double_checkpoint=double_checkpoint,
                         delete_checkpoint=delete_checkpoint)
        self._pointer_path = os.path.join(backup_dir, POINTER)
        self._stateful = []
        self._keras_callbacks = []
        self._keras_keys = []
        self._keras_pending = []
        self._save_later = False
        self._pending_save = False
        self._set_initial_epoch = False

    def get_config(self):
        return {
            "backup_dir": str(self.backup_dir),
            "save_freq": self.save_freq,
            "double_checkpoint": self.double_checkpoint,
            "delete_checkpoint": self.delete_checkpoint,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __deepcopy__(self, memo):
        clone = deepcopy_without_fit(self, memo)
        clone._stateful = []
        clone._keras_callbacks = []
        clone._keras_pending = []
        clone._pending_save = False
        return clone

    def set_model(self, model):
        super().set_model(model)
        join_fit_group(self, model)

    def set_params(self, params):
        super().set_params(params)
        close_fit_group(self)

    # ------------------------------------------------------------------ restore

    def on_train_begin(self, logs=None):
        close_fit_group(self)
        self._stateful = siblings_of(self)
        self._keys = state_keys(self._stateful)
        self._find_keras_callbacks()
        self._pending_save = False
        self._set_initial_epoch = False
        self._current_epoch = 0
        self._last_batch_seen = 0
        self._batches_seen_since_last_saving = 0
        if not self.model.built:
            raise ValueError(
                "To use the BackupAndRestore callback, your model must be built before you "
                f"call `fit()`. Model {self.model} is unbuilt. You can build it beforehand by "
                "calling it on a batch of data."
            )
        pointer = self._read_pointer()
        if pointer is None:
            if os.path.exists(os.path.join(self.backup_dir, _KERAS_WEIGHTS)):
                warnings.warn(
                    f"{type(self).__name__}: {self.backup_dir} holds a backup written by "
                    "keras.callbacks.BackupAndRestore; resuming the model from it, without "
                    "callback state.",
                    stacklevel=2,
                )
                super().on_train_begin(logs)
                self._set_initial_epoch = True
            return
        candidates = [pointer["current"]]
        if pointer.get("previous"):
            candidates.append(pointer["previous"])
        failures = []
        for name in candidates:
            try:
                self._restore(os.path.join(self.backup_dir, name))
                if failures:
                    warnings.warn(
                        f"{type(self).__name__}: the latest backup could not be read "
                        f"({failures[0]!r}); resumed from the previous one.",
                        stacklevel=2,
                    )
                return
            except (OSError, ValueError, KeyError) as error:
                failures.append(error)
        raise failures[0]

    def _find_keras_callbacks(self):
        """Finds the Keras callbacks of the same fit whose state is saved (or lost)."""
        self._keras_callbacks, self._keras_keys, self._keras_pending = [], [], []
        self._save_later = any(
            other._fit_sequence > self._fit_sequence for other in self._stateful
        )
        callback_list = _enclosing_callback_list(self)
        if callback_list is None:
            return
        position = next(i for i, other in enumerate(callback_list.callbacks) if other is self)
        for index, other in enumerate(callback_list.callbacks):
            if other is self or isinstance(other, StatefulCallback):
                continue
            if _keras_state_attributes(other) is not None:
                self._keras_callbacks.append(other)
                self._save_later = self._save_later or index > position
            else:
                reason = _unsaved_state_warning(other)
                if reason is not None:
                    warnings.warn(f"{type(self).__name__}: {reason}", stacklevel=3)
        self._keras_keys = [f"keras.{key}" for key in state_keys(self._keras_callbacks)]

    def _apply_keras_states(self):
        # After every callback's on_train_begin (which resets ReduceLROnPlateau and
        # EarlyStopping): at the first epoch begin, or at train end if no epoch runs.
        for callback, state in self._keras_pending:
            for name, value in state.items():
                setattr(callback, name, value)
        self._keras_pending = []

    def _read_pointer(self):
        if not os.path.exists(self._pointer_path):
            return None
        pointer = _read_json(self._pointer_path)
        if pointer.get("format") != FORMAT:
            raise ValueError(
                f"{self._pointer_path} is not a kerasext backup (format {pointer.get('format')!r})"
            )
        return pointer

    def _restore(self, directory):
        metadata = _read_json(os.path.join(directory, _METADATA))
        saved = _read_json(os.path.join(directory, _CALLBACKS))
        with np.load(os.path.join(directory, _ARRAYS), allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
        states = decode(saved["states"], arrays)

        optimizer = self.model.optimizer
        if optimizer is not None and not optimizer.built:
            optimizer.build(self.model.trainable_variables)
        with _local_saving():
            self.model.load_weights(os.path.join(directory, _WEIGHTS))

        epoch = int(metadata["epoch"])
        if metadata.get("stopped"):
            # A callback had stopped training: run no further epoch, only on_train_end.
            epoch = max(epoch, int((self.params or {}).get("epochs") or epoch))
        _compat.set_initial_epoch(self.model, epoch)
        self._set_initial_epoch = True
        self._current_epoch = int(metadata["epoch"])

        unused = set(states)
        for key, callback in zip(self._keras_keys, self._keras_callbacks):
            if key in states:
                unused.discard(key)
                self._keras_pending.append((callback, states[key]["state"]))
        for key, callback in zip(self._keys, self._stateful):
            if key not in states:
                warnings.warn(
                    f"{type(self).__name__}: the backup holds no state for {key}; it starts "
                    "afresh (was the callback list changed?).",
                    stacklevel=3,
                )
                continue
            unused.discard(key)
            entry = states[key]
            if entry["config"] != _json_normalize(callback.state_config()):
                warnings.warn(
                    f"{type(self).__name__}: {key} is configured differently from the run that "
                    f"was backed up ({entry['config']} != {callback.state_config()}); its state "
                    "is restored anyway.",
                    stacklevel=3,
                )
            callback.resume_from(entry["state"])
        if unused:
            warnings.warn(
                f"{type(self).__name__}: the backup holds state for {sorted(unused)}, which are "
                "not in this fit's callbacks; it is ignored.",
                stacklevel=3,
            )

    # ------------------------------------------------------------------ backup

    def on_epoch_begin(self, epoch, logs=None):
        if self._keras_pending:
            self._apply_keras_states()
        if self._pending_save:
            self._save_model()

    def on_epoch_end(self, epoch, logs=None):
        self._current_epoch = epoch + 1
        self._last_batch_seen = 0
        if self.save_freq != "epoch":
            return
        if self._save_later:
            # A callback whose state is saved comes after this one in the list and has
            # not yet seen this epoch's end: back up once it has, when the next epoch begins.
            self._pending_save = True
        else:
            self._save_model()

    def on_train_batch_end(self, batch, logs=None):
        # As Keras' callback (counting batches also with steps_per_execution > 1).
        if self.save_freq == "epoch":
            return
        if batch <= self._last_batch_seen:  # a new epoch
            self._batches_seen_since_last_saving += batch + 1
        else:
            self._batches_seen_since_last_saving += batch - self._last_batch_seen
        self._last_batch_seen = batch
        if self._batches_seen_since_last_saving >= self.save_freq:
            self._batches_seen_since_last_saving = 0
            self._save_model()

    def on_train_end(self, logs=None):
        if self._keras_pending:
            self._apply_keras_states()
        if self._pending_save and not self.delete_checkpoint:
            self._save_model()
        self._pending_save = False
        delete_checkpoint = self.delete_checkpoint
        # Under MultiWorkerMirroredStrategy (or several JAX processes) every worker restores
        # from the shared backup_dir, but only the chief may delete it (a worker would pull
        # it from under the others).
        self.delete_checkpoint = delete_checkpoint and self._is_chief()
        try:
            super().on_train_end(logs)
        finally:
            self.delete_checkpoint = delete_checkpoint
        if self._set_initial_epoch:
            # Keras never resets it: a later fit of the same model would skip epochs.
            _compat.set_initial_epoch(self.model, None)
            self._set_initial_epoch = False

    def _is_chief(self):
        """Whether this worker writes backups (always, outside multi-worker training)."""
        strategy = getattr(self.model, "distribute_strategy", None)
        if strategy is not None:  # TensorFlow: the strategy names its chief
            return bool(getattr(getattr(strategy, "extended", None), "should_checkpoint", True))
        if keras.backend.backend() == "jax":
            # Several processes joined by `keras.distribution.initialize`: process 0 writes.
            import jax

            return jax.process_index() == 0
        return True

    def _save_model(self):
        self._pending_save = False
        if not self._is_chief():
            # Workers sharing backup_dir would race on it (one removing another's
            # .tmp-ckpt-* folder): the chief writes, every worker restores from it.
            return
        os.makedirs(self.backup_dir, exist_ok=True)
        name = f"ckpt-{self._current_epoch:06d}-{uuid.uuid4().hex[:8]}"
        temporary = os.path.join(self.backup_dir, f".tmp-{name}")
        final = os.path.join(self.backup_dir, name)
        os.makedirs(temporary)
        try:
            self._write_backup(temporary)
            os.replace(temporary, final)
        except BaseException:
            shutil.rmtree(temporary, ignore_errors=True)
            raise
        previous = None
        if self.double_checkpoint:
            pointer = self._read_pointer_quietly()
            previous = pointer.get("current") if pointer else None
        pointer_temporary = f"{self._pointer_path}.tmp"
        _write_json(pointer_temporary, {"format": FORMAT, "current": name, "previous": previous})
        os.replace(pointer_temporary, self._pointer_path)  # the commit
        self._remove_stale(keep={name, previous})

    def _write_backup(self, directory):
        with _local_saving():
            self.model.save_weights(os.path.join(directory, _WEIGHTS), overwrite=True)
        arrays = {}
        states = {
            key: {
                "class": type(callback).__name__,
                "config": _json_normalize(callback.state_config()),
                "state": encode(callback.get_state(), arrays),
            }
            for key, callback in zip(self._keys, self._stateful)
        }
        for key, callback in zip(self._keras_keys, self._keras_callbacks):
            state = {name: getattr(callback, name, None)
                     for name in _keras_state_attributes(callback)}
            states[key] = {"class": type(callback).__name__, "config": None,
                           "state": encode(state, arrays)}
        with open(os.path.join(directory, _ARRAYS), "wb") as f:
            np.savez(f, **arrays)
        _write_json(os.path.join(directory, _CALLBACKS), {"format": FORMAT, "states": states})
        _write_json(
            os.path.join(directory, _METADATA),
            {
                "epoch": self._current_epoch,
                "batch": self._last_batch_seen,
                "stopped": bool(getattr(self.model, "stop_training", False)),
            },
        )

    def _read_pointer_quietly(self):
        try:
            return self._read_pointer()
        except (OSError, ValueError):
            return None

    def _remove_stale(self, keep):
        for entry in os.listdir(self.backup_dir):
            if entry.startswith(("ckpt-", ".tmp-ckpt-")) and entry not in keep:
                shutil.rmtree(os.path.join(self.backup_dir, entry), ignore_errors=True)
