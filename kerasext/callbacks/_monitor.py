"""Shared helpers of the kerasext callbacks: metric direction and logged values."""

import numpy as np

from kerasext._compat import compiled_metric_containers
from kerasext._direction import metric_direction

# Substrings that mark a quantity to maximize / minimize when no metric object
# says so through its `_direction` attribute (Keras 2's heuristics, extended).
_UP_HINTS = ("acc", "auc", "precision", "recall", "f1", "fbeta", "f_beta", "iou", "r2",
             "top_k", "score", "pearson", "concordance")
_DOWN_HINTS = ("loss", "error", "mse", "mae", "mape", "msle", "crossentropy", "hinge",
               "kl_divergence", "poisson", "logcosh", "log_cosh")


def _flat_metrics(model):
    found = []
    for metric in getattr(model, "metrics", None) or []:
        if isinstance(metric, compiled_metric_containers()) or (
            metric_direction(metric) is None
            and isinstance(getattr(metric, "metrics", None), list)
        ):
            found.extend(metric.metrics)
        else:
            found.append(metric)
    return found


def resolve_direction(callback_name, monitor, mode, model):
    """Returns "min" or "max" for `monitor`.

    `mode="auto"` first looks for a metric of the model named like the
    monitored quantity (without its `val_` prefix) and reads its direction
    (`kerasext._direction.metric_direction`: the metric's `_direction`, "up" or
    "down", set by Keras' and kerasext's metrics); then falls back to name heuristics ("loss", "error", ... minimize; "acc", "auc",
    "precision", ... maximize).
    """
    if mode in ("min", "max"):
        return mode
    name = monitor.removeprefix("val_")
    if name == "loss" or name.endswith("_loss"):
        return "min"
    try:
        metrics = _flat_metrics(model) if model is not None else []
    except (AttributeError, ValueError):  # an unbuilt or foreign model
        metrics = []
    for metric in metrics:
        if getattr(metric, "name", None) == name and metric_direction(metric) is not None:
            return metric_direction(metric)
    lowered = name.lower()
    if any(hint in lowered for hint in _DOWN_HINTS):
        return "min"
    if any(hint in lowered for hint in _UP_HINTS):
        return "max"
    raise ValueError(
        f"{callback_name} received monitor={monitor!r} but cannot tell whether it should be "
        "minimized or maximized: no metric of the model named "
        f"{name!r} has a `_direction`, and the name says nothing. Pass mode='min' or mode='max'."
    )


def scalar_log(callback_name, key, value):
    """The logged `value` of `key` as a Python float.

    Keras logs some metrics as arrays: `keras.metrics.F1Score()` (with its
    default `average=None`) logs a one-element array on a single-output
    model. A one-element array is read as its element; a longer one is
    refused, since it holds one value per class and none of them is "the"
    monitored value.
    """
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, (np.ndarray, np.generic)):
        import keras

        value = keras.ops.convert_to_numpy(value)
    array = np.asarray(value)
    if array.size != 1:
        raise ValueError(
            f"{callback_name}: {key} is logged as an array of shape {array.shape}, not as one "
            "number; it cannot be monitored. Monitor a scalar quantity (e.g. "
            "`keras.metrics.F1Score(average='macro')` logs one number for all classes)."
        )
    return float(array.reshape(()))


def missing_key_error(callback_name, argument, key, logs):
    available = ", ".join(sorted(logs)) or "(none)"
    return ValueError(
        f"{callback_name}: {argument}={key!r} is not in the epoch logs. "
        f"Available keys: {available}. Check the name (Keras writes a metric under the name "
        "given at compile time, and its validation value with a `val_` prefix)."
    )


def epoch_has_validation(logs):
    return any(key.startswith("val_") for key in logs)
