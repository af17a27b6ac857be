"""Ranking scores: AUROC and average precision, equal to scikit-learn's.

Both scores are read from one curve: the scores sorted from high to low,
cut into groups of equal score (a tie is one group), and per group the
weighted positives `dtp` and negatives `dfp`. With `tp` and `fp` their
running sums, P and N the totals:

- ROC AUC (trapezoids, a tie counts one half, as `roc_auc_score`):
  `sum(dfp * (tp - dtp / 2)) / (P * N)`;
- average precision (the step integral of `average_precision_score`):
  `sum(dtp * tp / (tp + fp)) / P`.

The exact mode (`thresholds=None`) keeps every score, label and weight in
fixed-shape variables of `capacity` rows and sorts them in `result()`; the
binned mode (`thresholds=T`) keeps a histogram of T equal bins of [0, 1], in
which each bin is one group (exact pairs, `_doublefloat`).
"""

import math

import keras
import numpy as np
from keras import ops

from kerasext.api_export import kerasext_export
from kerasext.metrics import _checks, _doublefloat, _inputs, confusion
from kerasext.metrics.confusion import HOST

RANKING_AVERAGES = ("micro", "macro", "weighted", None)

#: The number of samples an exact-mode metric keeps by default.
DEFAULT_CAPACITY = 2**16

AUROC_SCORE, AP_SCORE = "auroc", "average_precision"


# --------------------------------------------------------------------------- the curve


def curve_scores(dtp, dfp, which, xp=ops):
    """(score, positives) per row of the (K, G) group sums, groups in decreasing score order.

    ROC AUC is NaN where P or N is 0 (scikit-learn >= 1.9 returns NaN with
    a warning); average precision is 0 where P is 0 (scikit-learn's).
    """
    tp = xp.cumsum(dtp, axis=1)
    positives = tp[:, -1]
    if which == AUROC_SCORE:
        fp = xp.cumsum(dfp, axis=1)
        negatives = fp[:, -1]
        area = xp.sum(dfp * (tp - 0.5 * dtp), axis=1)
        pairs = positives * negatives
        undefined = xp.equal(pairs, 0.0)
        score = area / xp.where(undefined, xp.ones_like(pairs), pairs)
        return xp.where(undefined, xp.full_like(score, math.nan), score), positives
    fp = xp.cumsum(dfp, axis=1)
    predicted = tp + fp
    empty = xp.equal(predicted, 0.0)
    precision = xp.where(empty, xp.zeros_like(tp), tp / xp.where(empty, xp.ones_like(tp),
                                                                 predicted))
    none = xp.equal(positives, 0.0)
    score = xp.sum(dtp * precision, axis=1) / xp.where(none, xp.ones_like(positives), positives)
    return xp.where(none, xp.zeros_like(score), score), positives


def average_scores(scores, positives, average, xp=ops):
    """scikit-learn's `_average_binary_score` over the per-class scores."""
    if average is None:
        return scores
    if average == "macro":
        return xp.mean(scores)
    total = xp.sum(positives)  # weighted: by each class' weighted prevalence
    empty = xp.equal(total, 0.0)
    weighted = xp.sum(scores * positives) / xp.where(empty, xp.ones_like(total), total)
    return xp.where(empty, xp.zeros_like(weighted), weighted)


def error_bounds(dtp, dfp, which, xp=ops):
    """Per row, how far the score of groups (bins) can be from the score of the exact order.

    AUROC: a positive and a negative in one bin count one half where their
    exact order counts 0, 1/2 or 1, so the error is at most the weight of
    such pairs over 2 P N. Average precision: each bin's positives weigh a
    precision between the lowest and the highest the bin's order allows,
    `tp0 / (tp0 + fp0 + n)` and `(tp0 + p) / (tp0 + p + fp0)`, where the bin
    holds p positives, n negatives, after tp0 and fp0 above it.
    """
    tp = xp.cumsum(dtp, axis=1)
    fp = xp.cumsum(dfp, axis=1)
    positives, negatives = tp[:, -1], fp[:, -1]
    if which == AUROC_SCORE:
        pairs = positives * negatives
        empty = xp.equal(pairs, 0.0)
        bound = 0.5 * xp.sum(dtp * dfp, axis=1) / xp.where(empty, xp.ones_like(pairs), pairs)
        return xp.where(empty, xp.zeros_like(bound), bound)
    tp0, fp0 = tp - dtp, fp - dfp
    low_denominator = tp0 + fp0 + dfp
    low = xp.where(xp.equal(low_denominator, 0.0), xp.ones_like(tp),
                   tp0 / xp.where(xp.equal(low_denominator, 0.0), xp.ones_like(tp),
                                  low_denominator))
    high_denominator = tp0 + dtp + fp0
    high = xp.where(xp.equal(high_denominator, 0.0), xp.ones_like(tp),
                    tp / xp.where(xp.equal(high_denominator, 0.0), xp.ones_like(tp),
                                  high_denominator))
    none = xp.equal(positives, 0.0)
    bound = xp.sum(dtp * (high - low), axis=1) / xp.where(none, xp.ones_like(positives),
                                                          positives)
    return xp.where(none, xp.zeros_like(bound), bound)


def _host_groups(scores, truth, weights):
    """(K, G) group sums of kept samples, in float64 NumPy (stable sort, as scikit-learn)."""
    dtp, dfp = [], []
    for column in range(scores.shape[1]):
        order = np.argsort(-scores[:, column], kind="mergesort")
        s = scores[order, column]
        y = truth[order, column]
        w = weights[order]
        new = np.ones(len(s), dtype=bool)
        new[1:] = s[1:] != s[:-1]
        group = np.cumsum(new) - 1
        size = max(len(s), 1)  # one empty group before any update
        dtp.append(np.bincount(group, weights=y * w, minlength=size))
        dfp.append(np.bincount(group, weights=(1.0 - y) * w, minlength=size))
    return np.stack(dtp), np.stack(dfp)


def _graph_groups(scores, truth, weights, dtype):
    """(K, M) group sums in `keras.ops`: sort each column, number its groups, sum per group."""
    size, columns = scores.shape
    weights = ops.broadcast_to(ops.expand_dims(ops.cast(weights, dtype), -1), (size, columns))
    order = ops.argsort(-scores, axis=0)
    s = ops.take_along_axis(scores, order, axis=0)
    y = ops.cast(ops.take_along_axis(truth, order, axis=0), dtype)
    w = ops.take_along_axis(weights, order, axis=0)
    new = ops.concatenate([ops.ones((1, columns), dtype="int32"),
                           ops.cast(ops.not_equal(s[1:], s[:-1]), "int32")], axis=0)
    group = ops.cumsum(new, axis=0) - 1 + ops.arange(columns, dtype="int32") * size
    ids = ops.reshape(ops.transpose(group), (-1,))

    def per_group(values):
        sums = ops.segment_sum(ops.reshape(ops.transpose(values), (-1,)), ids,
                               num_segments=size * columns)
        return ops.reshape(sums, (columns, size))

    return per_group(y * w), per_group((1.0 - y) * w)


def _traced(tensor):
    """Whether `tensor` belongs to a compiled function (a graph, a tracer, a compiled region)."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return not tf.executing_eagerly()
    if backend == "jax":
        import jax

        return isinstance(tensor, jax.core.Tracer)
    if backend == "torch":
        import torch

        return torch.compiler.is_compiling() or tensor.device.type == "meta"
    return True


# --------------------------------------------------------------------------- the metric


class _RankingScore(confusion.Directed, keras.metrics.Metric):
    """The exact and binned state shared by AUROC and AveragePrecision."""

    higher_is_better = True  # EarlyStopping / ModelCheckpoint in mode="auto" maximise it
    _which = None

    def __init__(self, task=None, num_classes=None, average="macro", thresholds=None,
                 capacity=DEFAULT_CAPACITY, from_logits=False, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        resolved = confusion.resolve_task(task, num_classes)
        if resolved == "binary":
            if num_classes is not None:
                raise confusion.invalid_argument(
                    "num_classes", "None with task='binary' (for a two-column softmax output "
                    "use task='multiclass', num_classes=2)", num_classes)
        else:
            minimum = 2 if resolved == "multiclass" else 1
            if not confusion.is_int(num_classes) or num_classes < minimum:
                raise confusion.invalid_argument(
                    "num_classes", f"an integer >= {minimum} with task={resolved!r}",
                    num_classes)
        if average not in RANKING_AVERAGES:
            raise confusion.invalid_argument(
                "average", "one of {'micro', 'macro', 'weighted', None}", average)
        if thresholds is not None and (not confusion.is_int(thresholds) or thresholds < 2):
            raise confusion.invalid_argument(
                "thresholds", "None (exact: every score is kept) or an integer >= 2 (the "
                "number of equal bins of [0, 1])", thresholds)
        if not confusion.is_int(capacity) or capacity < 1:
            raise confusion.invalid_argument("capacity", "an integer >= 1", capacity)
        if not isinstance(from_logits, bool):
            raise confusion.invalid_argument("from_logits", "a bool", from_logits)
        self.task = task
        self.num_classes = num_classes
        self.average = average
        self.thresholds = thresholds
        self.capacity = capacity
        self.from_logits = from_logits
        self._task = resolved
        self._columns = 1 if resolved == "binary" else num_classes
        if thresholds is None:
            shape = (capacity, self._columns)
            self.kept_scores = self.add_variable(shape=shape, initializer="zeros",
                                                 dtype="float32", name="kept_scores")
            self.kept_labels = self.add_variable(shape=shape, initializer="zeros",
                                                 dtype="float32", name="kept_labels")
            self.kept_weights = self.add_variable(shape=(capacity,), initializer="zeros",
                                                  dtype="float32", name="kept_weights")
            # Samples seen; above `capacity` (too many, or a failed batch) the result is NaN.
            self.seen = self.add_variable(shape=(), initializer="zeros", dtype="int32",
                                          name="seen")
        else:
            # (hi, lo) pairs of the weighted [negatives, positives] per class and bin, bins
            # stored from the highest scores down.
            self.histogram = self.add_variable(
                shape=(2, self._columns, thresholds, 2), initializer="zeros",
                dtype="float32", name="histogram")

    # ------------------------------------------------------------------ update

    def _standardize(self, y_true, y_pred, sample_weight, mask):
        """(scores (n, K) float32, labels (n, K) float32 0/1, weights (n,) float32, checks)."""
        y_true = ops.convert_to_tensor(y_true)
        y_pred = ops.convert_to_tensor(y_pred)
        true_shape = _inputs.static_shape(y_true)
        pred_shape = _inputs.static_shape(y_pred)
        columns = self._columns
        checks = []
        if self._task == "binary":
            squeeze = len(pred_shape) >= 2 and pred_shape[-1] == 1
            lead = pred_shape[:-1] if squeeze else pred_shape
            if not (_inputs.fits(true_shape, lead) or _inputs.fits(true_shape, lead + (1,))):
                raise _inputs._shape_error(
                    "binary", None, true_shape, pred_shape, [lead, lead + (1,)],
                    _inputs._binary_hint(self.task is not None, pred_shape))
            reference = ops.squeeze(y_pred, axis=-1) if squeeze else y_pred
            scores = ops.reshape(ops.cast(reference, "float32"), (-1, 1))
            raw = ops.reshape(y_true, (-1,))
            labels = ops.cast(raw, "float32")
            checks.append(_checks.Check(
                "y_true", "labels 0 or 1 for task='binary'", "values", raw,
                ops.logical_and(ops.not_equal(labels, 0.0), ops.not_equal(labels, 1.0))))
            truth = ops.reshape(labels, (-1, 1))
        else:
            if not pred_shape or pred_shape[-1] != columns:
                raise ValueError(
                    f"y_pred of shape {pred_shape} has no class axis of size "
                    f"num_classes={columns} (expected (..., {columns})); y_true has shape "
                    f"{true_shape}.")
            lead = pred_shape[:-1]
            reference = y_pred[..., 0]
            scores = ops.reshape(ops.cast(y_pred, "float32"), (-1, columns))
            if self._task == "multilabel":
                if not _inputs.fits(true_shape, pred_shape):
                    raise _inputs._shape_error("multilabel", columns, true_shape, pred_shape,
                                               [pred_shape])
                raw = ops.reshape(y_true, (-1, columns))
                truth = ops.cast(raw, "float32")
                checks.append(_checks.Check(
                    "y_true", "indicators 0 or 1 for task='multilabel'", "values", raw,
                    ops.logical_and(ops.not_equal(truth, 0.0), ops.not_equal(truth, 1.0))))
            elif _inputs.fits(true_shape, lead) or _inputs.fits(true_shape, lead + (1,)):
                labels = ops.reshape(y_true, (-1,))
                ok = ops.logical_and(ops.greater_equal(labels, 0), ops.less(labels, columns))
                if _inputs._is_float(labels):
                    ok = ops.logical_and(ok, ops.equal(labels, ops.floor(labels)))
                checks.append(_checks.Check(
                    "y_true", f"integer class ids in [0, {columns}) for num_classes={columns}",
                    "values", labels, ops.logical_not(ok)))
                ids = ops.where(ok, ops.cast(labels, "int32"), 0)
                truth = ops.one_hot(ids, columns, dtype="float32")
            elif _inputs.fits(true_shape, lead + (columns,)):
                one_hot = ops.reshape(y_true, (-1, columns))
                checks.append(_checks.Check("y_true", "one-hot rows without NaN", "nan", None,
                                            _inputs._nan_rows(one_hot)))
                truth = ops.one_hot(_inputs._argmax(one_hot), columns, dtype="float32")
            else:
                raise _inputs._shape_error("multiclass", columns, true_shape, pred_shape,
                                           [lead, lead + (1,), lead + (columns,)])
        bad_scores = _inputs._nan_rows(scores if columns > 1 else scores[:, 0])
        if bad_scores is not None:
            checks.append(_checks.Check("y_pred", "scores without NaN", "nan", None,
                                        bad_scores))
        if self.from_logits:
            if self._task == "multiclass":
                scores = ops.softmax(scores, axis=-1)
            elif self.thresholds is not None:  # bins are on probabilities
                scores = ops.sigmoid(scores)
            # exact binary / multilabel: the logits rank as their sigmoid does, without its
            # rounding near 0 and 1
        if sample_weight is None:
            weights = ops.ones_like(scores[:, 0])
        else:
            weights = ops.cast(_inputs._per_position(sample_weight, reference, lead,
                                                     "sample_weight", pred_shape), "float32")
        if mask is not None:
            weights = weights * ops.cast(_inputs._per_position(
                mask, reference, lead, "The mask of y_pred", pred_shape), "float32")
        return scores, truth, weights, checks

    def update_state(self, y_true, y_pred, sample_weight=None):
        """Keeps the scores of one batch (exact mode) or adds them to the bins."""
        mask = _inputs.get_keras_mask(y_pred)
        self._update(y_true, y_pred, sample_weight, mask)

    def _update(self, y_true, y_pred, sample_weight, mask):
        """The update; returns the failed flag of the checks (None when they ran eagerly)."""
        scores, truth, weights, checks = self._standardize(y_true, y_pred, sample_weight, mask)
        failed = _checks.enforce(checks)
        if keras.backend.backend() == "torch" and scores.device.type == "meta":
            return  # Keras' shape inference on torch: no values to keep
        if self.thresholds is None:
            return self._keep(scores, truth, weights, failed)
        return self._bin(scores, truth, weights, failed)

    def _capacity_message(self, seen, total):
        return (f"{type(self).__name__}(capacity={self.capacity}) keeps at most "
                f"{self.capacity} samples in exact mode (thresholds=None); it has kept {seen} "
                f"and this batch brings {total - seen}: {total} samples seen. Pass "
                f"capacity >= {total} (the number of samples of an epoch), or thresholds=<int> "
                "for bounded memory (binned; see the error bound in the docstring).")

    def _keep(self, scores, truth, weights, failed):
        capacity = self.capacity
        count = scores.shape[0]
        if count is not None and count > capacity:
            raise ValueError(self._capacity_message(0, count))
        size = ops.shape(scores)[0]
        seen = ops.convert_to_tensor(self.seen)
        total = seen + ops.cast(size, "int32")
        if not _traced(total):
            before, after = int(ops.convert_to_numpy(seen)), int(ops.convert_to_numpy(total))
            if after > capacity:
                raise ValueError(self._capacity_message(before, after))
        else:
            over = _checks.enforce([_checks.Check(
                "y_true", f"at most capacity={capacity} samples in all, as many as "
                f"{type(self).__name__}(thresholds=None) keeps (pass a larger `capacity`, or "
                "thresholds=<int> for bounded memory); the number of samples seen is",
                "values", ops.reshape(total, (1,)),
                ops.reshape(ops.greater(total, capacity), (1,)))])
            if over is not None:
                failed = over if failed is None else ops.logical_or(failed, over)
        if failed is not None:
            total = ops.where(failed, ops.maximum(total, capacity + 1), total)
        # Past the capacity the writes land anywhere: the result is NaN from then on.
        start = ops.minimum(ops.minimum(seen, capacity), ops.maximum(capacity - size, 0))
        for variable, rows in ((self.kept_scores, scores), (self.kept_labels, truth),
                               (self.kept_weights, weights)):
            corner = (start, 0) if len(variable.shape) == 2 else (start,)
            variable.assign(ops.slice_update(ops.convert_to_tensor(variable), corner, rows))
        self.seen.assign(total)
        return failed

    def _bin(self, scores, truth, weights, failed):
        bins = self.thresholds
        columns = self._columns
        position = ops.clip(ops.cast(ops.floor(scores * bins), "int32"), 0, bins - 1)
        # Cell (class, bin from the top, label) of the (K, T, 2) histogram.
        cells = (ops.arange(columns, dtype="int32") * (2 * bins) + 2 * (bins - 1 - position)
                 + ops.cast(truth, "int32"))
        values = ops.broadcast_to(ops.expand_dims(weights, -1), ops.shape(cells))
        batch = _doublefloat.segment_sums(ops.reshape(cells, (-1,)), columns * bins * 2,
                                          ops.reshape(values, (-1,)))
        batch = tuple(ops.reshape(part, (columns, bins, 2)) for part in batch)
        if failed is not None:
            batch = tuple(ops.where(failed, math.nan, part) for part in batch)
        state = ops.convert_to_tensor(self.histogram)
        self.histogram.assign(_doublefloat.stack(_doublefloat.add((state[0], state[1]),
                                                                   batch)))
        return failed

    # ------------------------------------------------------------------ result

    def _kept(self):
        """The kept (scores, labels, weights) as float64 NumPy arrays (eager)."""
        seen = int(ops.convert_to_numpy(self.seen))
        return tuple(np.asarray(ops.convert_to_numpy(v), dtype="float64")[:seen]
                     for v in (self.kept_scores, self.kept_labels, self.kept_weights))

    def _host_groups(self, scores, labels, weights):
        if self.average == "micro" and self._task != "binary":
            scores, labels = scores.reshape(-1, 1), labels.reshape(-1, 1)
            weights = np.repeat(weights, self._columns)
        return _host_groups(scores, labels, weights)

    def _groups(self, xp, dtype):
        """(dtp, dfp) of shape (K, G) (micro: (1, G)) and whether the state is poisoned."""
        micro = self.average == "micro" and self._task != "binary"
        if self.thresholds is not None:
            if xp is HOST:
                hi, lo = (np.asarray(ops.convert_to_numpy(part), dtype="float64")
                          for part in _doublefloat.read(self.histogram))
                histogram = hi + lo
            else:
                histogram = _doublefloat.to_dtype(_doublefloat.read(self.histogram), dtype)
            if micro:
                histogram = xp.sum(histogram, axis=0, keepdims=True)
            return histogram[..., 1], histogram[..., 0], None
        if xp is HOST:
            seen = int(ops.convert_to_numpy(self.seen))
            if seen > self.capacity:
                return None, None, True
            dtp, dfp = self._host_groups(*self._kept())
            return dtp, dfp, False
        seen = ops.convert_to_tensor(self.seen)
        scores = ops.convert_to_tensor(self.kept_scores)
        labels = ops.convert_to_tensor(self.kept_labels)
        valid = ops.less(ops.arange(self.capacity, dtype="int32"), seen)
        weights = ops.where(valid, ops.convert_to_tensor(self.kept_weights), 0.0)
        if micro:
            scores, labels = ops.reshape(scores, (-1, 1)), ops.reshape(labels, (-1, 1))
            weights = ops.reshape(ops.broadcast_to(ops.expand_dims(weights, -1),
                                                   (self.capacity, self._columns)), (-1,))
        dtp, dfp = _graph_groups(scores, labels, weights, dtype)
        return dtp, dfp, ops.greater(seen, self.capacity)

    def compute(self, xp=ops, kept=None):
        """The score: in float64 NumPy with `xp=HOST` (eager), else in `keras.ops`.

        `kept`: (scores, labels, weights) float64 arrays to score on the host
        instead of the kept ones (the one-call functions' float64 inputs).
        """
        dtype = "float64" if xp is HOST else _doublefloat.counts_dtype()
        if kept is not None:
            dtp, dfp = self._host_groups(*kept)
            poisoned = False
        else:
            dtp, dfp, poisoned = self._groups(xp, dtype)
        shape = () if self._task == "binary" or self.average is not None else (self._columns,)
        if poisoned is True:
            return np.full(shape, math.nan)
        scores, positives = curve_scores(dtp, dfp, self._which, xp)
        if self._task == "binary" or self.average == "micro":
            value = scores[0]
        else:
            value = average_scores(scores, positives, self.average, xp)
        if poisoned is not None and poisoned is not False:
            value = ops.where(poisoned, ops.full_like(value, math.nan), value)
        return value

    def error_bound(self):
        """Binned mode: how far `result()` can be from the exact score (eager, a float or array).

        The bound of the class docstring, computed from the histogram (and
        averaged as the score is); 0 where the score is undefined.
        """
        if self.thresholds is None:
            raise ValueError(f"error_bound() is the bound of the binned mode; this "
                             f"{type(self).__name__} is exact (thresholds=None).")
        dtp, dfp, _ = self._groups(HOST, "float64")
        bounds = error_bounds(dtp, dfp, self._which, HOST)
        if self._task == "binary" or self.average == "micro":
            return float(bounds[0])
        if self.average is None:
            return bounds
        positives = np.sum(dtp, axis=1)
        return float(average_scores(bounds, positives, self.average, HOST))

    def result(self):
        probe = ops.convert_to_tensor(self.seen if self.thresholds is None else self.histogram)
        if not _traced(probe):
            with np.errstate(divide="ignore", invalid="ignore"):
                value = self.compute(HOST)
            return ops.cast(ops.convert_to_tensor(np.asarray(value, dtype="float64")),
                            self.dtype)
        return ops.cast(self.compute(ops), self.dtype)

    def get_config(self):
        return {**super().get_config(), "task": self.task, "num_classes": self.num_classes,
                "average": self.average, "thresholds": self.thresholds,
                "capacity": self.capacity, "from_logits": self.from_logits}


_ARGS = """
    Args:
        task: `"binary"`, `"multiclass"` (one-vs-rest) or `"multilabel"`;
            `None` means `"binary"` when `num_classes` is None, else
            `"multiclass"`. Defaults to `None`.
        num_classes: the number of classes or labels C; None for binary.
            Defaults to `None`.
        average: `"macro"` (mean over classes), `"weighted"` (weighted by
            each class' weighted number of positives), `"micro"` (every
            (sample, class) cell as one binary problem) or `None` (one score
            per class); ignored for binary. Defaults to `"macro"`.
        thresholds: `None` for the exact mode (every score is kept, up to
            `capacity` samples), or an integer T >= 2 for the binned mode: T
            equal bins of [0, 1] (probabilities; scores outside go to the
            end bins), O(C T) memory. Defaults to `None`.
        capacity: exact mode: how many samples (positions) are kept, in all,
            until `reset_state()` (Keras resets at every epoch). More is a
            `ValueError` naming both numbers, eagerly and in `fit`.
            Defaults to `65536`.
        from_logits: whether y_pred holds logits: softmax for multiclass,
            sigmoid for the bins; the exact binary / multilabel modes rank the
            logits themselves (the same order). Defaults to `False`.
        name: the metric's name.
        dtype: the dtype of the result. Defaults to `None` (floatx).

    Call arguments:
        y_true: binary: 0/1 labels `(...)` / `(..., 1)`; multiclass: sparse
            class ids `(...)` / `(..., 1)` or one-hot `(..., C)`; multilabel:
            0/1 indicators `(..., C)`. Any leading rank.
        y_pred: scores `(..., C)` (binary: `(...)` or `(..., 1)`).
        sample_weight: optional weights per position (leading shape of
            y_pred). A Keras mask on y_pred gives masked positions weight 0.
"""

_MODES = """
    Exact mode (`thresholds=None`): `result()` called eagerly (as Keras does
    at every epoch end for the logs) sorts the kept float32 scores in float64
    NumPy: the value equals scikit-learn's on the same float32 scores to
    float64 rounding, ties included. Inside a compiled step (the progress bar
    of `fit`) it sorts in `keras.ops`, in float64 where the device has it and
    float32 on JAX without `jax_enable_x64`. Each of the `capacity` rows holds
    2 C + 1 float32 numbers; the compiled result sorts them every step.
    Scores and weights are kept as float32. Not for several replicas of a
    `tf.distribute` strategy (each replica would keep its own rows); the
    binned mode is.

    Degenerate input follows scikit-learn 1.9:"""


@kerasext_export
class AUROC(_RankingScore):
    __doc__ = """Area under the ROC curve, equal to scikit-learn's `roc_auc_score`.

    Binary, multiclass one-vs-rest (`multi_class="ovr"`) and multilabel,
    with scikit-learn's averages; a tie between a positive and a negative
    counts one half (the trapezoid of the ROC curve).
""" + _MODES + """ a class whose y_true holds one
    class only (no positive or no negative weight) scores NaN, and so does
    any average over it but micro (scikit-learn warns and returns NaN).

    Binned mode (`thresholds=T`): the score of the histogram, where the
    scores of one bin are tied. Its distance from the exact AUROC is at most
    `sum_b pos_b * neg_b / (2 P N)`, the weight of the positive-negative
    pairs that share a bin over twice the weight of all of them (per class,
    then averaged); `error_bound()` computes it from the state. With scores
    spread evenly it is about 1 / (2 T).
""" + _ARGS + """
    Returns:
        A scalar, or a `(C,)` vector with `average=None`.

    Example:

    ```python
    import numpy as np
    from sklearn.metrics import roc_auc_score
    y_true = np.array([0, 0, 1, 1, 0, 1])
    scores = np.array([0.1, 0.4, 0.35, 0.8, 0.4, 0.4], "float32")
    metric = kx.metrics.AUROC(capacity=100)
    metric.update_state(y_true[:3], scores[:3])
    metric.update_state(y_true[3:], scores[3:])
    assert np.isclose(float(metric.result()), roc_auc_score(y_true, scores))
    ```

    Reference:
        Fawcett, *An introduction to ROC analysis*, Pattern Recognition
        Letters, 2006.
    """

    _which = AUROC_SCORE

    def __init__(self, task=None, num_classes=None, average="macro", thresholds=None,
                 capacity=DEFAULT_CAPACITY, from_logits=False, name="auroc", dtype=None):
        super().__init__(task=task, num_classes=num_classes, average=average,
                         thresholds=thresholds, capacity=capacity, from_logits=from_logits,
                         name=name, dtype=dtype)


@kerasext_export
class AveragePrecision(_RankingScore):
    __doc__ = """Average precision, equal to scikit-learn's `average_precision_score`.

    `sum_n (R_n - R_{n-1}) P_n` over the distinct scores from high to low
    (no interpolation), for binary, multiclass one-vs-rest and multilabel,
    with scikit-learn's averages.
""" + _MODES + """ a class without positive weight
    scores 0.0 (scikit-learn warns and returns 0.0).

    Binned mode (`thresholds=T`): the score of the histogram, where the
    scores of one bin are tied. A bin b with p_b positives and n_b negatives,
    after tp0 positives and fp0 negatives in the bins above, weighs its
    positives by a precision that the exact order puts between
    `tp0 / (tp0 + fp0 + n_b)` and `(tp0 + p_b) / (tp0 + p_b + fp0)`, and so
    does the binned score: the error is at most `sum_b p_b (high_b - low_b)
    / P` (per class, then averaged); `error_bound()` computes it from the
    state.
""" + _ARGS + """
    Returns:
        A scalar, or a `(C,)` vector with `average=None`.

    Example:

    ```python
    import numpy as np
    from sklearn.metrics import average_precision_score
    y_true = np.array([[1, 0], [0, 1], [1, 1], [0, 0]])
    scores = np.array([[0.9, 0.2], [0.3, 0.7], [0.3, 0.7], [0.1, 0.6]], "float32")
    metric = kx.metrics.AveragePrecision(task="multilabel", num_classes=2, capacity=10)
    metric.update_state(y_true, scores)
    expected = average_precision_score(y_true, scores, average="macro")
    assert np.isclose(float(metric.result()), expected)
    ```

    Reference:
        Manning, Raghavan and Schutze, *Introduction to Information
        Retrieval*, 2008, section 8.4.
    """

    _which = AP_SCORE

    def __init__(self, task=None, num_classes=None, average="macro", thresholds=None,
                 capacity=DEFAULT_CAPACITY, from_logits=False, name="average_precision",
                 dtype=None):
        super().__init__(task=task, num_classes=num_classes, average=average,
                         thresholds=thresholds, capacity=capacity, from_logits=from_logits,
                         name=name, dtype=dtype)


# --------------------------------------------------------------------------- one call


def _host_array(x):
    """NumPy float64 of an array-like or a backend tensor (a NumPy float64 input stays exact)."""
    if isinstance(x, (np.ndarray, np.generic, list, tuple, int, float)):
        return np.asarray(x, dtype="float64")
    return np.asarray(ops.convert_to_numpy(x), dtype="float64")


def _one_call(cls, y_true, y_score, task, num_classes, average, sample_weight, from_logits,
              thresholds):
    scores = ops.convert_to_tensor(y_score)
    shape = tuple(scores.shape)
    resolved = task or ("binary" if num_classes is None else "multiclass")
    if resolved == "binary":
        positions = int(np.prod(shape[:-1] if len(shape) >= 2 and shape[-1] == 1 else shape))
    else:
        positions = int(np.prod(shape[:-1]))
    metric = cls(task=task, num_classes=num_classes, average=average, thresholds=thresholds,
                 capacity=max(positions, 1), from_logits=from_logits)
    # The metric checks the input and reads the labels; scores and weights are taken as given
    # (float64 stays float64: scikit-learn's ties are the input's, not float32's).
    metric.update_state(y_true, scores, sample_weight=sample_weight)
    kept = None
    if thresholds is None:
        _, labels, _ = metric._kept()
        values = _host_array(y_score).reshape(len(labels), -1)
        if from_logits and resolved == "multiclass":
            values = np.exp(values - values.max(axis=-1, keepdims=True))
            values /= values.sum(axis=-1, keepdims=True)
        weights = np.ones(len(labels))
        if sample_weight is not None:
            lead = shape[:-1] if resolved != "binary" or (len(shape) >= 2 and shape[-1] == 1) \
                else shape
            weight = _host_array(sample_weight)
            if weight.ndim == len(lead) + 1 and weight.shape[-1] == 1:
                weight = weight[..., 0]
            weight = weight.reshape(weight.shape + (1,) * (len(lead) - weight.ndim))
            weights = np.broadcast_to(weight, lead).reshape(-1)
        kept = (values, labels, weights)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = metric.compute(HOST, kept=kept)
    return float(value) if np.ndim(value) == 0 else np.asarray(value)


def roc_auc_score(y_true, y_score, *, task=None, num_classes=None, average="macro",
                  sample_weight=None, from_logits=False, thresholds=None):
    """Area under the ROC curve in one call, equal to scikit-learn's `roc_auc_score`.

    `AUROC`'s arguments and label formats (multiclass is scikit-learn's
    `multi_class="ovr"`); the value is computed in float64 NumPy.

    Args:
        y_true: labels (see `AUROC`), a NumPy array or a backend tensor.
        y_score: scores (see `AUROC`).
        task: `"binary"`, `"multiclass"`, `"multilabel"` or None.
            Defaults to `None`.
        num_classes: C; None for binary. Defaults to `None`.
        average: `"macro"`, `"weighted"`, `"micro"` or None.
            Defaults to `"macro"`.
        sample_weight: optional weights per position. Defaults to `None`.
        from_logits: whether y_score holds logits. Defaults to `False`.
        thresholds: None (exact) or a number of bins. Defaults to `None`.

    Returns:
        A float, or a `(C,)` NumPy array with `average=None`.

    Example:

    ```python
    import numpy as np
    import sklearn.metrics
    from kerasext.metrics.ranking import roc_auc_score
    y = np.array([0, 2, 1, 2])
    p = np.array([[.6, .2, .2], [.1, .3, .6], [.2, .5, .3], [.3, .3, .4]])
    expected = sklearn.metrics.roc_auc_score(y, p, multi_class="ovr")
    assert np.isclose(roc_auc_score(y, p, num_classes=3), expected)
    ```
    """
    return _one_call(AUROC, y_true, y_score, task, num_classes, average, sample_weight,
                     from_logits, thresholds)


def average_precision_score(y_true, y_score, *, task=None, num_classes=None, average="macro",
                            sample_weight=None, from_logits=False, thresholds=None):
    """Average precision in one call, equal to scikit-learn's `average_precision_score`.

    `AveragePrecision`'s arguments and label formats; the value is computed
    in float64 NumPy.

    Args:
        y_true: labels (see `AveragePrecision`), NumPy or a backend tensor.
        y_score: scores (see `AveragePrecision`).
        task: `"binary"`, `"multiclass"`, `"multilabel"` or None.
            Defaults to `None`.
        num_classes: C; None for binary. Defaults to `None`.
        average: `"macro"`, `"weighted"`, `"micro"` or None.
            Defaults to `"macro"`.
        sample_weight: optional weights per position. Defaults to `None`.
        from_logits: whether y_score holds logits. Defaults to `False`.
        thresholds: None (exact) or a number of bins. Defaults to `None`.

    Returns:
        A float, or a `(C,)` NumPy array with `average=None`.

    Example:

    ```python
    import numpy as np
    import sklearn.metrics
    from kerasext.metrics.ranking import average_precision_score
    y, p = np.array([0, 1, 1, 0, 1]), np.array([0.2, 0.9, 0.4, 0.4, 0.1])
    expected = sklearn.metrics.average_precision_score(y, p)
    assert np.isclose(average_precision_score(y, p), expected)
    ```
    """
    return _one_call(AveragePrecision, y_true, y_score, task, num_classes, average,
                     sample_weight, from_logits, thresholds)
