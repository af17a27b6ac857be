"""Prechelt's stopping criteria (GL, PQ, UP) and the train/validation gap as a callback."""

import math
import warnings

from kerasext import _compat
from kerasext._validation import check_choice, check_number, check_string, invalid_argument
from kerasext.api_export import kerasext_export
from kerasext.callbacks._monitor import (
    epoch_has_validation,
    missing_key_error,
    resolve_direction,
    scalar_log,
)
from kerasext.callbacks._state import StatefulCallback, copy_weights, fit_group_of

#: Default thresholds, each one of the values studied by Prechelt (1998):
#: GL_alpha for alpha in {1, 2, 3, 5}, PQ_alpha for alpha in {0.5, 0.75, 1, 2, 3},
#: UP_s for s in {2, 3, 4, 6, 8}.
DEFAULT_THRESHOLDS = {"gl": 5.0, "pq": 0.5, "up": 3}
LOG_KEYS = ("overfit_gl", "overfit_pq", "overfit_up", "overfit_gap")
_TRACE_KEYS = ("epoch", "train_error", "val_error", "gl", "progress", "pq", "up", "gap",
               "strip_end")


def generalization_loss(val_error, best_error):
    """GL = 100 (E_va / E_opt - 1), with 0/0 read as 0 and x/0 as inf."""
    if best_error == 0.0:
        return 0.0 if val_error == 0.0 else math.inf
    return 100.0 * (val_error / best_error - 1.0)


def training_progress(strip):
    """P_k = 1000 (sum(strip) / (k min(strip)) - 1) over a strip of k training errors."""
    low = min(strip)
    if low == 0.0:
        return 0.0 if max(strip) == 0.0 else math.inf
    return 1000.0 * (sum(strip) / (len(strip) * low) - 1.0)


@kerasext_export
class OverfitDetector(StatefulCallback):
    """Detects overfitting with Prechelt's stopping criteria and logs the train/validation gap.

    From the training error `E_tr(t)` and the validation error `E_va(t)` of
    the same quantity (the loss by default), after every epoch `t`:

    - `E_opt(t)`: the lowest validation error up to epoch `t`;
    - generalization loss `GL(t) = 100 (E_va(t) / E_opt(t) - 1)`, in percent;
    - at the end of each training strip of `k` epochs (epochs `n+1 .. n+k`
      with `n` divisible by `k`): training progress
      `P_k(t) = 1000 (sum(E_tr over the strip) / (k min(E_tr over the strip)) - 1)`,
      in per thousand, and the quotient `PQ(t) = GL(t) / P_k(t)`;
    - `UP(t)`: the number of successive strips, up to `t`, at whose end the
      validation error was higher than at the end of the strip before;
    - the gap `E_va(t) - E_tr(t)`.

    They are written into the epoch logs as `overfit_gl`, `overfit_pq`,
    `overfit_up` and `overfit_gap` (so `History`, `CSVLogger` and
    `TensorBoard` keep them: put those after the detector in the callback
    list); `overfit_pq` and `overfit_up` hold the value of the latest strip
    end (0 before the first one). The configured criterion fires
    ("stop after epoch t"): `GL_alpha` when `GL(t) > alpha`; `PQ_alpha` at the
    first strip end with `PQ(t) > alpha`; `UP_s` at the first strip end with
    `UP(t) >= s`. The detector then records `onset_epoch` and warns, or stops
    training and restores the weights of the epoch with the lowest
    validation error.

    For a quantity to maximize that lies in [0, 1] (accuracy, F1), the error
    is `1 - value`. Epochs without the validation value
    (`validation_freq > 1`) are skipped: strips count epochs that have both
    values. Note that Keras' training loss is averaged over the epoch's
    batches while the weights change, where Prechelt measures it after the
    epoch.

    Epochs are 0-based indices, as in Keras' `History`. A monitored value
    logged as a one-element array is read as its element. If the monitored
    quantity never appears in the logs (no validation data), a `UserWarning`
    says so at the end of training, as `kerasext.callbacks.EarlyStopping`
    does.

    With `action="stop"` and `restore_best_weights=True`, in the same `fit`
    as a `kerasext.callbacks.EarlyStopping(restore_best_weights=True)`, the
    two would restore different weights and the last one in the callback list
    would win: instead, the weights left in the model are EarlyStopping's
    best, whatever the order, and a `UserWarning` says so when training
    begins.

    Args:
        monitor: the validation quantity. Defaults to `"val_loss"`.
        train_monitor: the training quantity; `None` means `monitor` without
            its `val_` prefix (`"loss"` for the default monitor). Defaults to
            `None`.
        mode: `"auto"`, `"min"` or `"max"`; how `monitor` is read (as in
            `kerasext.callbacks.EarlyStopping`). Defaults to `"auto"`.
        criterion: `"gl"`, `"pq"` or `"up"`. Defaults to `"gl"`.
        threshold: the criterion's `alpha` (GL, PQ) or `s` (UP); `None` means
            GL 5, PQ 0.5, UP 3 (values from the paper's study). Defaults to
            `None`.
        strip_length: the strip length `k`. Defaults to `5`.
        action: `"warn"` (a `UserWarning`, training goes on), `"stop"` (stop
            training) or `"log"` (only record `onset_epoch`). Defaults to
            `"warn"`.
        restore_best_weights: with `action="stop"`, restore the weights of
            the epoch with the lowest validation error when training ends.
            Defaults to `True`.
        verbose: 0 or 1 (print when the criterion fires). Defaults to `0`.

    Attributes (after `fit`):
        onset_epoch: 0-based epoch after which the criterion fired, or `None`.
        onset_value: the criterion's value then.
        best_epoch: 0-based epoch of the lowest validation error.
        best: the monitored value at `best_epoch`.
        stopped_epoch: the epoch at which the detector stopped training, or
            `None`.
        trace: per-epoch lists (`epoch`, `train_error`, `val_error`, `gl`,
            `progress`, `pq`, `up`, `gap`, `strip_end`).

    Example:

    ```python
    import keras
    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.normal(size=(48, 8)).astype("float32")
    y = rng.normal(size=(48, 1)).astype("float32")  # pure noise: it must overfit
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(64, activation="relu"),
                              keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    detector = kx.callbacks.OverfitDetector(criterion="gl", threshold=5.0, action="stop")
    history = model.fit(x, y, validation_split=0.25, epochs=60, callbacks=[detector],
                        verbose=0)
    print(detector.onset_epoch, detector.best_epoch, history.history["overfit_gl"][-1])
    ```

    Reference:
        L. Prechelt, "Early Stopping - But When?", in Neural Networks: Tricks
        of the Trade, LNCS 1524, Springer, 1998, pp. 55-69.
    """

    def __init__(
        self,
        monitor="val_loss",
        train_monitor=None,
        mode="auto",
        criterion="gl",
        threshold=None,
        strip_length=5,
        action="warn",
        restore_best_weights=True,
        verbose=0,
    ):
        super().__init__()
        check_string("monitor", monitor, expected="a key of the epoch logs")
        check_string("train_monitor", train_monitor, expected="a key of the epoch logs",
                     allow_none=True)
        if train_monitor is None and not monitor.startswith("val_"):
            raise invalid_argument(
                "train_monitor", train_monitor,
                f"a key of the epoch logs when `monitor` has no `val_` prefix (monitor={monitor!r})")
        check_choice("mode", mode, ("auto", "min", "max"))
        check_choice("criterion", criterion, tuple(DEFAULT_THRESHOLDS))
        check_choice("action", action, ("warn", "stop", "log"))
        check_number("strip_length", strip_length, minimum=2, integer=True)
        if criterion == "up":
            check_number("threshold", threshold, minimum=1, integer=True, allow_none=True)
        else:
            check_number("threshold", threshold, minimum=0, allow_none=True)
        check_choice("verbose", verbose, (0, 1, 2))
        self.monitor = monitor
        self.train_monitor = train_monitor
        self.mode = mode
        self.criterion = criterion
        self.threshold = threshold
        self.strip_length = int(strip_length)
        self.action = action
        self.restore_best_weights = bool(restore_best_weights)
        self.verbose = verbose
        self.reset_state()

    def get_config(self):
        return {
            "monitor": self.monitor,
            "train_monitor": self.train_monitor,
            "mode": self.mode,
            "criterion": self.criterion,
            "threshold": self.threshold,
            "strip_length": self.strip_length,
            "action": self.action,
            "restore_best_weights": self.restore_best_weights,
            "verbose": self.verbose,
        }

    @property
    def _train_key(self):
        return self.train_monitor or self.monitor.removeprefix("val_")

    @property
    def _threshold(self):
        return DEFAULT_THRESHOLDS[self.criterion] if self.threshold is None else self.threshold

    # ------------------------------------------------------------------ state

    def reset_state(self):
        self.onset_epoch = None
        self.onset_value = None
        self.best = None
        self.best_epoch = None
        self.best_weights = None
        self.stopped_epoch = None
        self.trace = {key: [] for key in _TRACE_KEYS}
        self._best_error = None
        self._pq = 0.0
        self._progress = 0.0
        self._up = 0
        self._resolved_mode = None  # "min" / "max" (kerasext._direction) once resolved
        self._seen_monitor = False
        self._keys_seen = []

    def get_state(self):
        return {
            "onset_epoch": self.onset_epoch,
            "onset_value": self.onset_value,
            "best": self.best,
            "best_epoch": self.best_epoch,
            "best_weights": copy_weights(self.best_weights),
            "stopped_epoch": self.stopped_epoch,
            "trace": {key: list(values) for key, values in self.trace.items()},
            "best_error": self._best_error,
            "pq": self._pq,
            "progress": self._progress,
            "up": self._up,
            "direction": self._resolved_mode,
            "seen_monitor": self._seen_monitor,
        }

    def set_state(self, state):
        self.onset_epoch = state["onset_epoch"]
        self.onset_value = state["onset_value"]
        self.best = state["best"]
        self.best_epoch = state["best_epoch"]
        self.best_weights = copy_weights(state["best_weights"])
        self.stopped_epoch = state["stopped_epoch"]
        self.trace = {key: list(state["trace"][key]) for key in _TRACE_KEYS}
        self._best_error = state["best_error"]
        self._pq = state["pq"]
        self._progress = state["progress"]
        self._up = int(state["up"])
        self._resolved_mode = state["direction"]
        self._seen_monitor = bool(state.get("seen_monitor", True))

    # ------------------------------------------------------------------ logic

    def _error(self, key, value):
        value = float(value)
        if self._resolved_mode == "max":
            if not 0.0 <= value <= 1.0:
                raise ValueError(
                    f"{type(self).__name__}: {key} = {value} is maximized but not in [0, 1]; "
                    "the detector reads such a quantity as the error 1 - value. Monitor a "
                    "loss or a score in [0, 1]."
                )
            return 1.0 - value
        if value < 0.0:
            raise ValueError(
                f"{type(self).__name__}: {key} = {value} is negative; Prechelt's criteria are "
                "ratios of errors and need a non-negative error."
            )
        return value

    def _restoring_stoppers(self):
        """The EarlyStopping callbacks of the same fit that restore best weights."""
        if self.action != "stop" or not self.restore_best_weights:
            return []
        from kerasext.callbacks.early_stopping import EarlyStopping

        return [other for other in fit_group_of(self)
                if isinstance(other, EarlyStopping) and other.restore_best_weights]

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        stoppers = self._restoring_stoppers()
        if stoppers:
            # Both would restore weights at the end of training, and the last one in the
            # callback list would win: EarlyStopping's weights win, whatever the order.
            warnings.warn(
                f"{type(self).__name__}(action='stop', restore_best_weights=True) and "
                f"EarlyStopping(restore_best_weights=True) are in the same fit: the weights "
                f"left in the model are EarlyStopping's best ({stoppers[0].monitor!r}), "
                f"whatever the order of the callbacks; {type(self).__name__} restores "
                "nothing. Pass restore_best_weights=False to one of them to silence this.",
                stacklevel=2,
            )

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        self._keys_seen = sorted(logs)
        if self.monitor not in logs:
            if self.monitor.startswith("val_") and not epoch_has_validation(logs):
                return
            raise missing_key_error(type(self).__name__, "monitor", self.monitor, logs)
        if self._train_key not in logs:
            raise missing_key_error(type(self).__name__, "train_monitor", self._train_key, logs)
        name = type(self).__name__
        value = scalar_log(name, self.monitor, logs[self.monitor])
        train_value = scalar_log(name, self._train_key, logs[self._train_key])
        self._seen_monitor = True
        if not (math.isfinite(value) and math.isfinite(train_value)):
            return  # nothing to measure; EarlyStopping(check_finite=True) handles this
        if self._resolved_mode is None:
            self._resolved_mode = resolve_direction(
                type(self).__name__, self.monitor, self.mode, self.model
            )
        val_error = self._error(self.monitor, value)
        train_error = self._error(self._train_key, train_value)
        trace = self.trace
        trace["epoch"].append(epoch)
        trace["train_error"].append(train_error)
        trace["val_error"].append(val_error)
        index = len(trace["val_error"]) - 1

        if self._best_error is None or val_error < self._best_error:
            self._best_error = val_error
            self.best = value
            self.best_epoch = epoch
            if self.action == "stop" and self.restore_best_weights:
                self.best_weights = self.model.get_weights()
        gl = generalization_loss(val_error, self._best_error)
        gap = val_error - train_error
        k = self.strip_length
        strip_end = (index + 1) % k == 0
        if strip_end:
            self._progress = training_progress(trace["train_error"][-k:])
            if self._progress == 0.0:
                self._pq = 0.0 if gl == 0.0 else math.inf
            else:
                self._pq = gl / self._progress
            if index >= 2 * k - 1:
                rose = val_error > trace["val_error"][index - k]
                self._up = self._up + 1 if rose else 0
        for key, value in (("gl", gl), ("progress", self._progress), ("pq", self._pq),
                           ("up", self._up), ("gap", gap), ("strip_end", strip_end)):
            trace[key].append(value)
        logs.update(overfit_gl=gl, overfit_pq=self._pq, overfit_up=float(self._up),
                    overfit_gap=gap)

        if self.onset_epoch is not None:
            return
        threshold = self._threshold
        if self.criterion == "gl":
            fired, value = gl > threshold, gl
        elif self.criterion == "pq":
            fired, value = strip_end and self._pq > threshold, self._pq
        else:
            fired, value = strip_end and self._up >= threshold, self._up
        if fired:
            self._fire(epoch, value)

    def _fire(self, epoch, value):
        self.onset_epoch = epoch
        self.onset_value = float(value)
        name = f"{self.criterion.upper()}_{self._threshold:g}"
        message = (
            f"{type(self).__name__}: {name} fired after epoch {epoch + 1} "
            f"({self.criterion.upper()} = {value:.4g}); the lowest validation error was at "
            f"epoch {self.best_epoch + 1}."
        )
        if self.verbose:
            _compat.print_msg(message)
        if self.action == "warn":
            warnings.warn(message, stacklevel=2)
        elif self.action == "stop":
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self._keys_seen and not self._seen_monitor:
            warnings.warn(
                f"{type(self).__name__}: monitor={self.monitor!r} never appeared in the epoch "
                f"logs (keys seen: {', '.join(self._keys_seen)}); it detected nothing. Pass "
                "validation data to `fit` to monitor a `val_` quantity.",
                stacklevel=2,
            )
        if any(stopper.best_weights is not None for stopper in self._restoring_stoppers()):
            return  # EarlyStopping restores its best weights (see on_train_begin)
        if self.stopped_epoch is not None and self.best_weights is not None:
            if self.verbose:
                _compat.print_msg(
                    f"Restoring model weights from the end of the best epoch: "
                    f"{self.best_epoch + 1}."
                )
            self.model.set_weights(self.best_weights)
