"""BackupAndRestore that also saves the kerasext callbacks' state, atomically."""

import json
import os
import shutil
import uuid
import warnings

import keras
import numpy as np
from keras.src.utils import file_utils

from kerasext.api_export import kerasext_export
from kerasext.callbacks._state import (
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
_ARRAYS = "callbacks.npz"


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
        if file_utils.is_remote_path(str(backup_dir)):
            raise ValueError(
                "Invalid `backup_dir` argument value. Expected a local folder (backups are "
                f"committed atomically with os.replace). Received: backup_dir={backup_dir!r}"
            )
        super().__init__(backup_dir, save_freq=save_freq, double_checkpoint=double_checkpoint,
                         delete_checkpoint=delete_checkpoint)
        self._pointer_path = os.path.join(backup_dir, POINTER)
        self._stateful = []
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
            if file_utils.exists(self._weights_path):
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
        self.model.load_weights(os.path.join(directory, _WEIGHTS))

        epoch = int(metadata["epoch"])
        if metadata.get("stopped"):
            # A callback had stopped training: run no further epoch, only on_train_end.
            epoch = max(epoch, int((self.params or {}).get("epochs") or epoch))
        self.model._initial_epoch = epoch
        self._set_initial_epoch = True
        self._current_epoch = int(metadata["epoch"])

        unused = set(states)
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
        if self._pending_save:
            self._save_model()

    def on_epoch_end(self, epoch, logs=None):
        self._current_epoch = epoch + 1
        self._last_batch_seen = 0
        if self.save_freq != "epoch":
            return
        if any(other._fit_sequence > self._fit_sequence for other in self._stateful):
            # A kerasext callback after this one in the list has not yet seen this
            # epoch's end: back up once it has, when the next epoch begins.
            self._pending_save = True
        else:
            self._save_model()

    def on_train_end(self, logs=None):
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
            self.model._initial_epoch = None
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
