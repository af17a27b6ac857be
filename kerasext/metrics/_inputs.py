"""Brings labels, predictions, sample weights and masks of any format to one form.

Shapes are checked at trace time from the static shapes (unknown dimensions
match anything); a shape that fits no format is a ValueError naming both
shapes, never a broadcast.
"""

import collections
import math

import keras
import numpy as np

from kerasext._compat import get_keras_mask  # noqa: F401 - read as _inputs.get_keras_mask
from kerasext.metrics import _checks, _doublefloat
from kerasext.metrics._fast import ops

#: One batch, flattened over every leading (position) axis.
#: binary / multiclass: `true` and `pred` are int32 class ids (N,);
#: multilabel: bool indicators (N, C). `weight` is None (all 1) or a list of float32 (N,)
#: parts whose sum is each position's weight (one part, or two for float64 and integer
#: weights, which float32 alone would round); `valid` is bool (N,) or None (all valid);
#: `checks`: the `_checks.Check`s of the batch's values.
Batch = collections.namedtuple("Batch", ["true", "pred", "weight", "valid", "checks"])


def static_shape(x):
    try:
        return tuple(None if d is None else int(d) for d in x.shape)
    except (TypeError, ValueError):
        raise ValueError(
            f"kerasext metrics need tensors of known rank; received a tensor of shape {x.shape}"
        ) from None


def flat(x, columns=None):
    """x reshaped to (-1,) or (-1, columns); no op when it already has that rank.

    A metric's update runs every step, and a reshape is a graph op (a few us
    each on TensorFlow's executor, more through `keras.ops` on torch).
    """
    if columns is None:
        return x if len(x.shape) == 1 else ops.reshape(x, (-1,))
    return x if len(x.shape) == 2 else ops.reshape(x, (-1, columns))


def fits(shape, expected):
    """Same rank, and each known dimension equal (None matches anything)."""
    return len(shape) == len(expected) and all(
        a is None or b is None or a == b for a, b in zip(shape, expected)
    )


def _format_shape(shape):
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + (
        ",)" if len(shape) == 1 else ")"
    )


def _shape_error(task, num_classes, true_shape, pred_shape, expected, hint=""):
    classes = "" if task == "binary" else f", num_classes={num_classes}"
    return ValueError(
        f"y_true of shape {_format_shape(true_shape)} does not fit y_pred of shape "
        f"{_format_shape(pred_shape)} for task={task!r}{classes}. Expected y_true of shape "
        + " or ".join(_format_shape(s) for s in expected)
        + "."
        + hint
    )


def _per_position(value, reference, lead, what, pred_shape):
    """Broadcasts a sample weight or a mask over the positions, flattened to (N,)."""
    value = ops.convert_to_tensor(value)
    shape = static_shape(value)
    if len(shape) == len(lead) + 1 and shape[-1] == 1:
        value = ops.squeeze(value, axis=-1)
        shape = shape[:-1]
    if len(shape) > len(lead) or not fits(shape, lead[: len(shape)]):
        raise ValueError(
            f"{what} of shape {_format_shape(shape)} does not fit y_pred of shape "
            f"{_format_shape(pred_shape)}: expected a shape that leads "
            f"{_format_shape(lead)} (one value per position)."
        )
    for _ in range(len(lead) - len(shape)):
        value = ops.expand_dims(value, -1)
    return ops.reshape(ops.broadcast_to(value, ops.shape(reference)), (-1,))


def weight_parts(sample_weight):
    """The weight as float32 parts whose sum is its value (before broadcasting).

    A NumPy or Python weight is split on the host, and only when float32
    would round it (so a float64 2**24 + 1 stays exact even where the backend
    has no float64); a float64 or integer tensor is split on device.
    """
    if isinstance(sample_weight, (np.ndarray, np.generic, int, float, list, tuple)):
        weight = np.asarray(sample_weight)
        if weight.dtype.kind in "iub" or weight.dtype.kind == "f" and weight.dtype.itemsize > 4:
            weight = weight.astype("float64")
            hi = weight.astype("float32")
            lo = (weight - hi).astype("float32")
            return [hi, lo] if lo.any() else [hi]
        return [weight.astype("float32")]
    sample_weight = ops.convert_to_tensor(sample_weight)
    dtype = keras.backend.standardize_dtype(sample_weight.dtype)
    if dtype == "float64" or "int" in dtype:
        return _doublefloat.split(sample_weight)
    return [ops.cast(sample_weight, "float32")]


def _argmax(scores):
    """Class ids (int32) of the largest score on the last axis.

    `keras.ops.argmax` adds five ops per call on TensorFlow to order -0.0
    before 0.0 like NumPy; a metric runs every step, and a tie between the
    two zeros never decides a class, so TensorFlow's own argmax is used there.
    """
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        return tf.argmax(scores, axis=-1, output_type="int32")
    return ops.argmax(scores, axis=-1)


def _and(valid, condition):
    return condition if valid is None else ops.logical_and(valid, condition)


def _threshold_in_score_space(threshold, from_logits):
    if not from_logits:
        return threshold
    # sigmoid(x) > t  <=>  x > logit(t), without sigmoid's rounding near 0 and 1.
    if threshold <= 0.0:
        return -math.inf
    if threshold >= 1.0:
        return math.inf
    return math.log(threshold / (1.0 - threshold))


def _is_float(x):
    return "float" in keras.backend.standardize_dtype(x.dtype)


def _nan_rows(scores):
    """(N,) bool: positions whose scores hold a NaN (None when the dtype has no NaN)."""
    if not _is_float(scores):
        return None
    nan = ops.isnan(scores)
    return ops.any(nan, axis=-1) if len(scores.shape) == 2 else nan


class _NanCheck:
    """A NaN check's `bad` rows, built only to describe a failure; its flag costs two ops."""

    def __init__(self, scores):
        self.scores = scores

    def flag(self):
        return ops.any(ops.isnan(self.scores))

    def __call__(self):
        return _nan_rows(self.scores)


def _nan_check(scores):
    """`_nan_rows(scores)`, deferred (see `_NanCheck`), or None when the dtype has no NaN."""
    return _NanCheck(scores) if _is_float(scores) else None


def _skip_hint(ignore_class):
    if ignore_class is None:
        return "; pass `ignore_class` to skip a label (e.g. a padding id) on purpose"
    return f", or ignore_class={ignore_class} (skipped)"


def _binary_hint(task_given, pred_shape):
    """What to do when a multi-column y_pred meets the binary task."""
    columns = pred_shape[-1] if pred_shape else None
    if columns is None or columns < 2:
        return ""
    default = "" if task_given else (
        " The task is 'binary' by default (num_classes=None)."
    )
    return (f"{default} For {columns} classes pass num_classes={columns} (task='multiclass', "
            f"or task='multilabel' for {columns} indicators).")


def standardize(y_true, y_pred, weight, mask, *, task, num_classes, threshold, from_logits,
                ignore_class, task_given=True):
    """Returns a `Batch` for `update_state`; raises ValueError on shapes that fit no format.

    `weight` is None or `weight_parts(sample_weight)`; `mask` is None or
    `get_keras_mask(y_pred)` (read by the caller, before any compiled call
    that would drop it). `task_given`: whether the user named the task (the
    shape error of a defaulted binary task says so). `Batch.checks` lists
    what the values must satisfy (`_checks.Check`), for `_checks.enforce`.
    """
    y_true = ops.convert_to_tensor(y_true)
    y_pred = ops.convert_to_tensor(y_pred)
    true_shape, pred_shape = static_shape(y_true), static_shape(y_pred)
    cut = _threshold_in_score_space(threshold, from_logits)
    # Positions counted on purpose (not `ignore_class`, not masked): only they are checked.
    keep = None
    # (argument, expected, kind, values, bad before `keep`), made into `Check`s at the end.
    checks = []

    if task == "binary":
        # A trailing axis of 1 is the class axis, except on a rank-1 batch of one sample.
        squeeze = len(pred_shape) >= 2 and pred_shape[-1] == 1
        lead = pred_shape[:-1] if squeeze else pred_shape
        if not (fits(true_shape, lead) or fits(true_shape, lead + (1,))):
            raise _shape_error(task, num_classes, true_shape, pred_shape, [lead, lead + (1,)],
                               _binary_hint(task_given, pred_shape))
        reference = ops.squeeze(y_pred, axis=-1) if squeeze else y_pred
        scores = flat(ops.cast(reference, "float32"))
        raw = flat(y_true)
        labels = ops.cast(raw, "float32")
        pred = ops.cast(ops.greater(scores, cut), "int32")
        true = ops.cast(ops.greater(labels, 0.5), "int32")
        keep = None if ignore_class is None else ops.not_equal(labels, float(ignore_class))
        valid = keep
        checks.append(("y_true", "labels 0 or 1 for task='binary'" + _skip_hint(ignore_class),
                       "values", raw,
                       ops.logical_and(ops.not_equal(labels, 0.0), ops.not_equal(labels, 1.0))))
        checks.append(("y_pred", "scores without NaN", "nan", None, _nan_check(scores)))
    else:
        if not pred_shape or pred_shape[-1] != num_classes:
            raise ValueError(
                f"y_pred of shape {_format_shape(pred_shape)} has no class axis of size "
                f"num_classes={num_classes} (expected (..., {num_classes})); y_true has shape "
                f"{_format_shape(true_shape)}."
            )
        lead = pred_shape[:-1]
        reference = None  # built only when a sample weight or a mask needs it
        scores = flat(y_pred, num_classes)
        if task == "multilabel":
            if not fits(true_shape, pred_shape):
                raise _shape_error(task, num_classes, true_shape, pred_shape, [pred_shape])
            raw = flat(y_true, num_classes)
            indicators = ops.cast(raw, "float32")
            true = ops.greater(indicators, 0.5)
            pred = ops.greater(ops.cast(scores, "float32"), cut)
            valid = None
            checks.append(("y_true", "indicators 0 or 1 for task='multilabel'", "values", raw,
                           ops.logical_and(ops.not_equal(indicators, 0.0),
                                           ops.not_equal(indicators, 1.0))))
        else:
            # argmax is the same on logits and on their softmax: from_logits changes nothing.
            pred = _argmax(scores)
            if fits(true_shape, lead) or fits(true_shape, lead + (1,)):
                labels = flat(y_true)
                true = ops.cast(labels, "int32")
                # Compared in the labels' own dtype: a cast would clamp 1e10 or round 1.5.
                label_ok = ops.logical_and(ops.greater_equal(labels, 0),
                                           ops.less(labels, num_classes))
                if _is_float(labels):
                    label_ok = ops.logical_and(label_ok, ops.equal(labels, ops.floor(labels)))
                if ignore_class is not None:
                    keep = ops.not_equal(labels, ignore_class)
                # Wrong ids never reach the counts (a compiled update that cannot raise
                # poisons them instead).
                valid = _and(keep, label_ok)
                checks.append(("y_true", f"integer class ids in [0, {num_classes}) for "
                               f"num_classes={num_classes}" + _skip_hint(ignore_class),
                               "values", labels, ops.logical_not(label_ok)))
            elif fits(true_shape, lead + (num_classes,)):
                one_hot = flat(y_true, num_classes)
                true = _argmax(one_hot)
                if ignore_class is not None:
                    keep = ops.not_equal(true, ignore_class)
                valid = keep
                checks.append(("y_true", "one-hot or probability rows without NaN", "nan",
                               None, _nan_check(one_hot)))
            else:
                raise _shape_error(task, num_classes, true_shape, pred_shape,
                                   [lead, lead + (1,), lead + (num_classes,)])
        checks.append(("y_pred", "scores without NaN", "nan", None, _nan_check(scores)))

    if reference is None and (weight is not None or mask is not None):
        reference = y_pred[..., 0]
    if weight is not None:
        weight = [_per_position(part, reference, lead, "sample_weight", pred_shape)
                  for part in weight]
    if mask is not None:
        mask = ops.cast(_per_position(mask, reference, lead, "The mask of y_pred", pred_shape),
                        "bool")
        valid = _and(valid, mask)
        keep = _and(keep, mask)
    return Batch(true=true, pred=pred, weight=weight, valid=valid,
                 checks=[_check(keep, *check) for check in checks if check[-1] is not None])


def _check(keep, argument, expected, kind, values, bad):
    """A `_checks.Check`; a deferred NaN check stays deferred when no position is skipped."""
    if isinstance(bad, _NanCheck):
        if keep is None:
            return _checks.Check(argument, expected, kind, values, bad, bad.flag())
        bad = bad()
    return _checks.Check(argument, expected, kind, values, _and(_rows(keep, bad), bad))


def _rows(keep, bad):
    """`keep` (N,) broadcast to `bad` ((N,) or (N, C)), or None."""
    if keep is None or len(bad.shape) == 1:
        return keep
    return ops.broadcast_to(ops.expand_dims(keep, -1), ops.shape(bad))
