"""EarlyStopping that restores the best weights at every end of training and can be resumed."""

import math
import warnings

import keras

from kerasext import _compat
from kerasext._direction import is_better
from kerasext._validation import check_choice, check_number, check_string
from kerasext.api_export import kerasext_export
from kerasext.callbacks._monitor import (
    epoch_has_validation,
    missing_key_error,
    resolve_direction,
    scalar_log,
)
from kerasext.callbacks._state import StatefulCallback, copy_weights

STOP_REASONS = ("patience", "stopping_threshold", "divergence_threshold", "non_finite",
                "not_stopped")


@kerasext_export
class EarlyStopping(StatefulCallback):
    """Stops training when a monitored quantity stops improving, and restores the best weights.

    A drop-in for `keras.callbacks.EarlyStopping`: the same arguments in the
    same order (positional calls mean the same thing), the same stopping rule
    and the same attributes (`best`, `best_epoch`, `stopped_epoch`, `wait`,
    `monitor_op`), plus, in keyword arguments after Keras' own:

    - `min_delta_mode="relative"` (an improvement must beat the best value by
      `min_delta * |best|`);
    - `stopping_threshold` and `divergence_threshold` (as in PyTorch
      Lightning) and `check_finite` (NaN or inf in the monitored value stops
      training and restores the best finite weights);
    - `stop_reason`, which says whether and why this callback stopped;
    - patience counts only epochs that have the monitored value, so
      `validation_freq > 1` needs no special care; a monitored key that is
      missing from logs that do hold validation results raises a `ValueError`
      listing the keys that exist;
    - its whole state (counters, best value and epoch, best weights) is saved
      and restored by `kerasext.callbacks.BackupAndRestore`, so a resumed run
      stops exactly as an uninterrupted one.

    `baseline` works as in Keras: the best epoch is tracked (and restored)
    whether or not it beats the baseline, but only an improvement that also
    beats the baseline resets the patience counter; if no epoch beats it,
    training stops after `patience` epochs and the best of them is restored.
    A monitored value logged as a one-element array (`keras.metrics.F1Score()`
    on a single-output model) is read as its element.

    Deliberate deviations from `keras.callbacks.EarlyStopping`:

    - `restore_best_weights` defaults to `True`;
    - invalid arguments raise a `ValueError` at construction (Keras warns
      about an unknown `mode` and falls back to `"auto"`, and takes
      `abs(min_delta)`);
    - a monitored key that is missing raises a `ValueError` (Keras warns and
      skips the epoch), except in epochs without validation results, which
      are skipped silently; a warning at the end of training says if the
      key never appeared;
    - `best` is a Python float (Keras keeps the logged value itself);
    - `mode="auto"` also reads the monitored name ("acc", "auc", "error",
      ...) when no metric of the model has that name.

    Epochs are 0-based indices, as in Keras' `History` (`best_epoch=3` is the
    fourth epoch).

    Args:
        monitor: quantity to monitor, a key of the epoch logs. Defaults to
            `"val_loss"`.
        min_delta: smallest change that counts as an improvement (non-negative).
            Defaults to `0.0`.
        patience: number of monitored epochs without improvement after which
            training stops (0 and 1 both stop at the first one, as in Keras).
            Defaults to `0`.
        verbose: 0 (silent) or 1 (print a message when the callback acts).
            Defaults to `0`.
        mode: one of `"auto"`, `"min"`, `"max"`. `"auto"` uses the `_direction`
            attribute of the model's metric of that name (Keras' and kerasext's
            metrics have one: `"up"` is read as `"max"`, `"down"` as `"min"`), then the name ("loss", "error" minimize; "acc",
            "auc", "precision" maximize). Defaults to `"auto"`.
        baseline: a value an improvement must also beat to reset the patience
            counter (as in Keras). Defaults to `None`.
        restore_best_weights: whether to restore the weights of the best epoch
            when training ends, however it ends (patience exhausted, a
            threshold reached, the last epoch reached, or another callback
            setting `model.stop_training`). Defaults to `True`.
        start_from_epoch: epochs before this one are ignored (warm-up), except
            by `check_finite`. Defaults to `0`.
        min_delta_mode: `"absolute"` (an improvement beats the best value by
            more than `min_delta`) or `"relative"` (by more than
            `min_delta * |best|`). Defaults to `"absolute"`.
        stopping_threshold: stop as soon as the monitored value is strictly
            better than this. Defaults to `None`.
        divergence_threshold: stop as soon as the monitored value is strictly
            worse than this. Defaults to `None`.
        check_finite: stop when the monitored value is NaN or infinite.
            Defaults to `True`.

    Attributes (after `fit`):
        best: the best monitored value (`None` if none was monitored).
        best_epoch: 0-based epoch of `best` (0 if none, as in Keras).
        stopped_epoch: 0-based epoch at whose end this callback stopped
            training; 0 if it did not (as in Keras; read `stop_reason` to tell
            "did not stop" from "stopped at epoch 0").
        stop_reason: one of `"patience"`, `"stopping_threshold"`,
            `"divergence_threshold"`, `"non_finite"`, `"not_stopped"`.
        wait: epochs since the last improvement that beat `baseline`.
        monitor_op: `keras.ops.less` or `keras.ops.greater` once the direction
            is known (as in Keras), else `None`.

    Example:

    ```python
    import keras
    import numpy as np

    x = np.random.default_rng(0).normal(size=(64, 4)).astype("float32")
    y = x.sum(axis=1, keepdims=True)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    stopper = kx.callbacks.EarlyStopping(patience=2, stopping_threshold=0.01)
    model.fit(x, y, validation_split=0.25, epochs=30, callbacks=[stopper], verbose=0)
    print(stopper.stop_reason, stopper.best_epoch, stopper.best)
    ```

    Reference:
        L. Prechelt, "Early Stopping - But When?", in Neural Networks: Tricks
        of the Trade, 1998. PyTorch Lightning's `EarlyStopping` for
        `stopping_threshold`, `divergence_threshold` and `check_finite`.
    """

    def __init__(
        self,
        monitor="val_loss",
        min_delta=0.0,
        patience=0,
        verbose=0,
        mode="auto",
        baseline=None,
        restore_best_weights=True,
        start_from_epoch=0,
        min_delta_mode="absolute",
        stopping_threshold=None,
        divergence_threshold=None,
        check_finite=True,
    ):
        super().__init__()
        check_string("monitor", monitor, expected="a key of the epoch logs")
        check_choice("mode", mode, ("auto", "min", "max"))
        check_choice("min_delta_mode", min_delta_mode, ("absolute", "relative"))
        check_number("patience", patience, minimum=0, integer=True)
        check_number("min_delta", min_delta, minimum=0)
        check_number("start_from_epoch", start_from_epoch, minimum=0, integer=True)
        for name, value in (("baseline", baseline), ("stopping_threshold", stopping_threshold),
                            ("divergence_threshold", divergence_threshold)):
            check_number(name, value, allow_none=True)
        check_choice("verbose", verbose, (0, 1, 2))
        self.monitor = monitor
        self.min_delta = min_delta
        self.patience = int(patience)
        self.verbose = verbose
        self.mode = mode
        self.baseline = baseline
        self.restore_best_weights = bool(restore_best_weights)
        self.start_from_epoch = int(start_from_epoch)
        self.min_delta_mode = min_delta_mode
        self.stopping_threshold = stopping_threshold
        self.divergence_threshold = divergence_threshold
        self.check_finite = bool(check_finite)
        self.reset_state()
        self.stop_reason = None  # "not_stopped" once a fit has begun

    @property
    def monitor_op(self):
        """`keras.ops.less` or `keras.ops.greater` once the direction is known, as in Keras."""
        if self._resolved_mode is None:
            return None
        return keras.ops.less if self._resolved_mode == "min" else keras.ops.greater

    def get_config(self):
        return {
            "monitor": self.monitor,
            "min_delta": self.min_delta,
            "patience": self.patience,
            "verbose": self.verbose,
            "mode": self.mode,
            "baseline": self.baseline,
            "restore_best_weights": self.restore_best_weights,
            "start_from_epoch": self.start_from_epoch,
            "min_delta_mode": self.min_delta_mode,
            "stopping_threshold": self.stopping_threshold,
            "divergence_threshold": self.divergence_threshold,
            "check_finite": self.check_finite,
        }

    # ------------------------------------------------------------------ state

    def reset_state(self):
        self.wait = 0
        self.best = None
        self.best_epoch = 0
        self.best_weights = None
        self.stopped_epoch = 0
        self.stop_reason = "not_stopped"
        self._resolved_mode = None  # "min" / "max" (kerasext._direction) once resolved
        self._seen_monitor = False
        self._keys_seen = []

    def get_state(self):
        return {
            "wait": self.wait,
            "best": self.best,
            "best_epoch": self.best_epoch,
            "best_weights": copy_weights(self.best_weights),
            "stopped_epoch": self.stopped_epoch,
            "stop_reason": self.stop_reason,
            "direction": self._resolved_mode,
            "seen_monitor": self._seen_monitor,
        }

    def set_state(self, state):
        self.wait = int(state["wait"])
        self.best = state["best"]
        # `or 0`: backups written before 0 replaced None for "none"
        self.best_epoch = state["best_epoch"] or 0
        self.best_weights = copy_weights(state["best_weights"])
        self.stopped_epoch = state["stopped_epoch"] or 0
        self.stop_reason = state["stop_reason"]
        self._resolved_mode = state["direction"]
        self._seen_monitor = bool(state["seen_monitor"])

    # ------------------------------------------------------------------ logic

    def _beats(self, value, reference):
        delta = self.min_delta
        if self.min_delta_mode == "relative":
            delta = self.min_delta * abs(reference)
        if self._resolved_mode == "min":
            return value < reference - delta
        return value > reference + delta

    def _strictly_better(self, value, reference):
        return is_better(self._resolved_mode, value, reference)

    def _stop(self, epoch, reason, detail):
        self.stopped_epoch = epoch
        self.stop_reason = reason
        self.model.stop_training = True
        if self.verbose:
            _compat.print_msg(f"Epoch {epoch + 1}: early stopping ({reason}: {detail}).")

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        self._keys_seen = sorted(logs)
        if self.monitor not in logs:
            if self.monitor.startswith("val_") and not epoch_has_validation(logs):
                return  # no validation this epoch (validation_freq > 1)
            raise missing_key_error(type(self).__name__, "monitor", self.monitor, logs)
        current = scalar_log(type(self).__name__, self.monitor, logs[self.monitor])
        self._seen_monitor = True
        if self._resolved_mode is None:
            self._resolved_mode = resolve_direction(
                type(self).__name__, self.monitor, self.mode, self.model
            )
        if self.check_finite and not math.isfinite(current):
            self._stop(epoch, "non_finite", f"{self.monitor} = {current}")
            return
        if epoch < self.start_from_epoch:
            return
        # Keras' rule: the best epoch is tracked whatever the baseline; only an
        # improvement that also beats the baseline resets the patience counter.
        improved = self.best is None or self._beats(current, self.best)
        if improved:
            self.best = current
            self.best_epoch = epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
        if improved and (self.baseline is None or self._beats(current, self.baseline)):
            self.wait = 0
        else:
            self.wait += 1
        if self.stopping_threshold is not None and self._strictly_better(
            current, self.stopping_threshold
        ):
            self._stop(epoch, "stopping_threshold",
                       f"{self.monitor} = {current} beats {self.stopping_threshold}")
        elif self.divergence_threshold is not None and self._strictly_better(
            self.divergence_threshold, current
        ):
            self._stop(epoch, "divergence_threshold",
                       f"{self.monitor} = {current} is worse than {self.divergence_threshold}")
        elif not improved and self.wait >= max(self.patience, 1):
            self._stop(epoch, "patience", f"no improvement in {self.wait} epochs")

    def on_train_end(self, logs=None):
        if self._keys_seen and not self._seen_monitor:
            warnings.warn(
                f"{type(self).__name__}: monitor={self.monitor!r} never appeared in the epoch "
                f"logs (keys seen: {', '.join(self._keys_seen)}); it did nothing. Pass "
                "validation data to `fit` to monitor a `val_` quantity.",
                stacklevel=2,
            )
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose:
                _compat.print_msg(
                    f"Restoring model weights from the end of the best epoch: "
                    f"{self.best_epoch + 1}."
                )
            self.model.set_weights(self.best_weights)
