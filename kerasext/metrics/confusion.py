"""The confusion-count core that every kerasext classification metric is a view of.

`ConfusionCounts` turns labels and predictions of any supported format into
per-class confusion counts (O(C): true positives, predicted and actual totals
per class; the (C, C) matrix only with `dense=True`, for the metrics that
need it) and keeps each count as a float32 pair (hi, lo)
summed without error (`_doublefloat`): integer counts stay exact past 2**44
and a weighted count is within 2**-46 of scikit-learn's float64 sum, on every
backend, without float64 (a float32 accumulator stops counting at 2**24).
The metric classes (`Precision`, `Recall`, `FBetaScore`, `F1Score`,
`ConfusionMatrix`, `ClassificationReport` and the agreement scores) only
differ in what `result()` reads from the counts.
"""

import collections
import math

import keras
import numpy as np

from kerasext import _validation
from kerasext.metrics import _checks, _doublefloat, _eager, _inputs, _samples
from kerasext.metrics._fast import assign_variable, ops, read_variable

TASKS = ("binary", "multiclass", "multilabel")
AVERAGES = ("micro", "macro", "weighted", "samples", None)
ZERO_DIVISIONS = (0.0, 1.0, "nan")

#: The dtype of every state variable: each count is a (hi, lo) pair of them.
STATE_DTYPE = _doublefloat.STATE_DTYPE

# Rows of the per-sample state (multilabel `samples` average).
PRECISION, RECALL, FSCORE = 0, 1, 2

# Rows of the O(C) per-class state: true positives, predicted totals, actual totals (support).
TP, PREDICTED, ACTUAL = 0, 1, 2


def invalid_argument(name, expected, value):
    """kerasext's one argument error (`kerasext._validation`), in the metrics' argument order."""
    return _validation.invalid_argument(name, value, expected)


def is_int(value):
    """An int, not a bool (`kerasext._validation`'s test)."""
    return _validation.is_int(value)


def resolve_task(task, num_classes, tasks=TASKS, why=""):
    """The task a metric runs: `task`, or "binary" / "multiclass" from `num_classes`.

    The one place where `task=None` is resolved; raises in Keras' form when
    `task` is not one of `tasks` (`why` says why a task is left out).
    """
    if task not in (*tasks, None):
        expected = "one of {" + ", ".join(repr(t) for t in tasks) + ", None}" + why
        raise invalid_argument("task", expected, task)
    return task or ("binary" if num_classes is None else "multiclass")


class Directed:
    """Mixin of every kerasext metric: which way is better, said once.

    `higher_is_better` is public (True for a score to maximise, False for a
    loss-like metric, None where no direction applies, as for a confusion
    matrix); `_direction`, which Keras' callbacks (`EarlyStopping`,
    `ModelCheckpoint` with `mode="auto"`) and kerasext's read, is derived from
    it and absent (`hasattr` is False) where there is no direction.
    """

    higher_is_better = None

    @property
    def _direction(self):
        if self.higher_is_better is None:
            raise AttributeError(f"{type(self).__name__} has no direction")
        return "up" if self.higher_is_better else "down"


def config_value(value):
    """A constructor argument as `get_config` stores it (lists, not tuples)."""
    return list(value) if isinstance(value, tuple) else value


def check_zero_division(zero_division):
    """Returns the canonical zero_division (0.0, 1.0 or "nan"), or raises."""
    if isinstance(zero_division, float) and math.isnan(zero_division):
        return "nan"
    if zero_division == "nan" or (
        isinstance(zero_division, (int, float))
        and not isinstance(zero_division, bool)
        and zero_division in (0, 1)
    ):
        return zero_division
    raise invalid_argument("zero_division", "one of {0.0, 1.0, 'nan'}", zero_division)


def check_average(average, task):
    if average not in AVERAGES:
        raise invalid_argument(
            "average", "one of {'micro', 'macro', 'weighted', 'samples', None}", average
        )
    if average == "samples" and task != "multilabel":
        raise invalid_argument(
            "average", "'samples' only with task='multilabel' (it averages over the "
            f"label sets of each sample); task is {task!r}", average
        )
    return average


class _Host:
    """NumPy under `keras.ops`' names, so that the views run exactly in float64 on the host."""

    def __getattr__(self, name):
        return getattr(np, name)

    @staticmethod
    def cast(x, dtype):
        return np.asarray(x).astype(dtype)

    @staticmethod
    def convert_to_tensor(x):
        return np.asarray(x)


#: Pass as `xp` to compute a view on the host from the exact counts (eager only).
HOST = _Host()

#: What the views read: per reported class, and the totals over them (micro average, support).
#: `selected` holds the selected (tp, predicted, actual) as pairs on device, as float64 on the
#: host; `totals()` sums them (exactly, then rounded once) only when a view needs them.
Counts = collections.namedtuple("Counts", ["tp", "predicted", "actual", "included", "selected"])


def _weighted_sums(cells, num_cells, weights, shape=None):
    """Per-cell sums of the weights (float32 parts) over cells, exact, as a pair.

    With `weights=None` (each position counts 1): the int32 counts instead.
    Each part (or the counts) has `shape` (defaults to `(num_cells,)`).
    """
    cells = _inputs.flat(cells)
    if weights is None:
        return _doublefloat.count_ids(cells, num_cells, shape=shape)
    weights = [_inputs.flat(part) for part in weights]
    if len(weights) > 1:
        cells = ops.concatenate([cells] * len(weights))
    return _doublefloat.segment_sums(cells, num_cells, ops.concatenate(weights), shape=shape)


def accumulate(variable, batch, failed=None, whole=False):
    """variable += batch, exactly (the variable a pair stacked on axis 0); NaN if failed.

    `batch` is a pair (hi, lo), or with `whole=True` int32 counts (unweighted
    updates: `_doublefloat.add_counts`, exact for whole-number state and
    within about 2**-47 otherwise).
    """
    state = read_variable(variable)
    shape = tuple(variable.shape[1:])
    if whole:
        if tuple(batch.shape) != shape:
            batch = ops.reshape(batch, shape)
        total = _doublefloat.add_counts(state, batch, failed)
    else:
        batch = tuple(part if tuple(part.shape) == shape else ops.reshape(part, shape)
                      for part in batch)
        if failed is not None:
            # A NaN high part makes the sum NaN, and every later sum.
            batch = (ops.where(failed, math.nan, batch[0]), batch[1])
        total = _doublefloat.add((state[0], state[1]), batch)
    assign_variable(variable, _doublefloat.stack(total))


class ConfusionCounts(Directed, keras.metrics.Metric):
    """Base of kerasext's classification metrics: weighted per-class confusion counts.

    Not public: the public metrics subclass it and only implement `result()`.

    Every count is kept as the unevaluated sum hi + lo of two float32
    numbers, stored along the first axis of its variable (`[0]` the high
    parts, `[0] + [1]` the count); batches are added with error-free
    transformations, so the counts are exact on every backend without
    float64 (see `kerasext.metrics._doublefloat`). `exact_counts()` reads
    them on the host as NumPy float64 (or int64).

    State (summed over every batch and replica), O(C) unless `dense=True`:
    - `per_class`, (2, 3, C): per class id (binary: C = 2, class 0 and 1;
      multilabel: per label) the weighted true positives, predicted totals
      and actual totals (rows `TP`, `PREDICTED`, `ACTUAL`): all that
      precision, recall, F-beta, the report, Matthews correlation, balanced
      accuracy and unweighted kappa read;
    - with `dense=True` instead (`ConfusionMatrix`, weighted or
      label-restricted kappa), `confusion`: binary / multiclass (2, C, C),
      the matrix of weighted counts (rows: true class, columns: predicted
      class); multilabel (2, C, 2, 2), [[tn, fp], [fn, tp]] per label, as
      `sklearn.metrics.multilabel_confusion_matrix`;
    - binary / multiclass: `seen`, (C,) float32: how many times each class occurred in y_true
      or y_pred in batches that came with a sample_weight (scikit-learn
      averages over the classes present when `labels` is None, whatever their
      weight; only `seen > 0` is read, so float32 suffices; without weights
      the counts themselves say which classes occurred, so an unweighted
      batch skips this update);
    - with `per_sample=True` (multilabel `samples` average), `sample_scores`,
      (2, 3, 4): for precision, recall and F-beta the sums over samples of
      weight * score, weight, score and 1, over the samples where the score is
      defined, which is what scikit-learn's NaN-skipping weighted mean needs
      (the per-sample scores are float32; their sums are exact).

    The views (`result()`) compute in float64 where the device has float64
    (exactly as scikit-learn), else (JAX without `jax_enable_x64`, TPUs) in
    float32 from correctly rounded counts, then cast to the metric's dtype.
    """

    #: The name of an instance built with `name=None`.
    _default_name = None
    #: The constructor arguments `get_config` saves (each an attribute of the same name).
    _config_args = ("task", "num_classes", "threshold", "from_logits", "labels", "ignore_class")

    def __init__(
        self,
        task=None,
        num_classes=None,
        threshold=0.5,
        from_logits=False,
        labels=None,
        ignore_class=None,
        zero_division=0.0,
        name=None,
        dtype=None,
        *,
        beta=1.0,
        per_sample=False,
        dense=False,
    ):
        super().__init__(name=name or self._default_name, dtype=dtype)
        resolved = resolve_task(task, num_classes)
        if resolved == "binary":
            if num_classes is not None:
                raise invalid_argument(
                    "num_classes", "None with task='binary' (for a two-column softmax output "
                    "use task='multiclass', num_classes=2, labels=[1])", num_classes)
            if labels is not None:
                raise invalid_argument(
                    "labels", "None with task='binary' (the positive class is 1)", labels)
        else:
            minimum = 2 if resolved == "multiclass" else 1
            if not is_int(num_classes) or num_classes < minimum:
                raise invalid_argument(
                    "num_classes", f"an integer >= {minimum} with task={resolved!r}", num_classes)
        if not isinstance(threshold, (int, float)) or isinstance(threshold, bool) or not (
            0.0 <= threshold <= 1.0
        ):
            raise invalid_argument("threshold", "a float in [0, 1]", threshold)
        if not isinstance(from_logits, bool):
            raise invalid_argument("from_logits", "a bool", from_logits)
        if ignore_class is not None:
            if not is_int(ignore_class):
                raise invalid_argument("ignore_class", "an integer or None", ignore_class)
            if resolved == "multilabel":
                raise invalid_argument(
                    "ignore_class", "None with task='multilabel' (y_true is an indicator "
                    "matrix; skip positions with a mask or sample_weight=0)", ignore_class)
        self.task = task
        self.num_classes = num_classes
        self.threshold = threshold
        self.from_logits = from_logits
        self.ignore_class = ignore_class
        self.zero_division = check_zero_division(zero_division)
        self._task = resolved
        self._num_classes = 2 if resolved == "binary" else num_classes
        if labels is not None:
            try:
                labels = [int(label) for label in labels]
            except (TypeError, ValueError):
                raise invalid_argument("labels", "a list of class ids", labels) from None
            if not labels or len(set(labels)) != len(labels) or not all(
                0 <= label < num_classes for label in labels
            ):
                raise invalid_argument(
                    "labels", f"a non-empty list of distinct class ids in [0, {num_classes})",
                    labels)
        self.labels = labels
        self._label_ids = None if labels is None else tuple(labels)
        self._beta = float(beta)
        self._per_sample = per_sample
        self._dense = dense
        if dense:
            shape = ((self._num_classes, 2, 2) if resolved == "multilabel"
                     else (self._num_classes,) * 2)
            self.confusion = self.add_variable(
                shape=(2, *shape), initializer="zeros", dtype=STATE_DTYPE, name="confusion")
        else:
            self.per_class = self.add_variable(
                shape=(2, 3, self._num_classes), initializer="zeros", dtype=STATE_DTYPE,
                name="per_class")
        if resolved != "multilabel":
            self.seen = self.add_variable(
                shape=(self._num_classes,), initializer="zeros", dtype=STATE_DTYPE, name="seen")
        if per_sample:
            self.sample_scores = self.add_variable(
                shape=(2, 3, 4), initializer="zeros", dtype=STATE_DTYPE, name="sample_scores")

    # ------------------------------------------------------------------ update

    def update_state(self, y_true, y_pred, sample_weight=None):
        """Adds the confusion counts of one batch.

        Args:
            y_true: labels, sparse `(...)` / `(..., 1)` or one-hot `(..., C)`
                (multiclass), `(...)` / `(..., 1)` (binary), or an indicator
                `(..., C)` (multilabel).
            y_pred: scores `(..., C)` (binary: `(...)` or `(..., 1)`).
            sample_weight: optional weights broadcastable to the leading
                (position) shape of `y_pred`.
        """
        # Both are read here, before a compiled call could round a float64 weight or drop a mask.
        mask = _inputs.get_keras_mask(y_pred)
        weight = None if sample_weight is None else _inputs.weight_parts(sample_weight)
        if _eager.jax_eager((y_true, y_pred, weight, mask)):
            update = _eager.compiled_update(self)
            values, failed = update([v.value for v in self.variables], y_true, y_pred, weight,
                                    mask)
            if failed is not None and bool(failed):
                # Read again op by op, so that the checks raise their ValueError here.
                _checks.enforce(self._standardize(y_true, y_pred, weight, mask).checks)
            for variable, value in zip(self.variables, values):
                variable.assign(value)
            return
        self._update(y_true, y_pred, weight, mask)

    def _standardize(self, y_true, y_pred, weight, mask):
        return _inputs.standardize(
            y_true, y_pred, weight, mask,
            task=self._task, num_classes=self._num_classes, threshold=self.threshold,
            from_logits=self.from_logits, ignore_class=self.ignore_class,
            task_given=self.task is not None,
        )

    def _update(self, y_true, y_pred, weight, mask):
        """`update_state` with the weight as float32 parts (or None) and the mask read.

        Returns the batch's failed flag where the checks are compiled (see
        `_checks.enforce`), else None.
        """
        batch = self._standardize(y_true, y_pred, weight, mask)
        # Raises eagerly; compiled, asserts and returns the flag, and the batch's counts are
        # NaN where it is True (the only sign left under XLA on TensorFlow).
        failed = _checks.enforce(batch.checks)
        self._update_counts(batch, failed)
        return failed

    def _update_counts(self, batch, failed):
        if not self._dense:
            self._update_per_class(batch, failed)
        elif self._task == "multilabel":
            self._update_multilabel_matrix(batch, failed)
        else:
            self._update_matrix(batch, failed)
        if self._task == "multilabel":
            if self._per_sample:
                accumulate(self.sample_scores, self._sample_scores(batch), failed)
            return
        if batch.weight is None:
            return
        num_classes = self._num_classes
        ids = ops.concatenate([batch.true, batch.pred])
        if batch.valid is not None:
            ids = ops.where(ops.concatenate([batch.valid, batch.valid]), ids, num_classes)
        self.seen.assign_add(_doublefloat.segment_sums(ids, num_classes)[0])

    def _update_per_class(self, batch, failed):
        """Adds the batch's (tp, predicted, actual) per class: 3 cells per position (and label)."""
        num_classes = self._num_classes
        # Unweighted on TensorFlow, one op counts each of the three rows of cells by itself;
        # otherwise the rows are offset into one range of 3 C cells.
        by_row = batch.weight is None and _doublefloat.counts_rows_at_once()
        dropped = num_classes if by_row else 3 * num_classes  # the cell of what is not counted
        offsets = (0, 0) if by_row else (num_classes, 2 * num_classes)
        valid = batch.valid
        if self._task == "multilabel":
            label = ops.arange(num_classes, dtype="int32")
            true, pred = batch.true, batch.pred
            tp = ops.where(ops.logical_and(true, pred), label, dropped)
            predicted = ops.where(pred, label + offsets[0] if offsets[0] else label, dropped)
            actual = ops.where(true, label + offsets[1] if offsets[1] else label, dropped)
            if valid is not None:
                valid = ops.expand_dims(valid, -1)
        else:
            true, pred = batch.true, batch.pred
            tp = ops.where(ops.equal(true, pred), true, dropped)
            predicted = pred + offsets[0] if offsets[0] else pred
            actual = true + offsets[1] if offsets[1] else true
        if valid is not None:
            # Skipped positions (ids out of range, ignore_class, mask) go to the dropped cell.
            tp, predicted, actual = (ops.where(valid, cells, dropped)
                                     for cells in (tp, predicted, actual))
        if by_row:
            counts = _doublefloat.count_rows(
                [_inputs.flat(c) for c in (tp, predicted, actual)], num_classes)
            accumulate(self.per_class, counts, failed, whole=True)
            return
        cells = ops.concatenate([_inputs.flat(c) for c in (tp, predicted, actual)])
        weights = None
        if batch.weight is not None:
            shape = ops.shape(tp)
            weights = []
            for part in batch.weight:
                if self._task == "multilabel":
                    part = ops.broadcast_to(ops.expand_dims(part, -1), shape)
                weights.append(ops.concatenate([ops.reshape(part, (-1,))] * 3))
        accumulate(self.per_class, _weighted_sums(cells, dropped, weights, (3, num_classes)),
                   failed, whole=weights is None)

    def _update_multilabel_matrix(self, batch, failed):
        num_classes = self._num_classes
        true = ops.cast(batch.true, "int32")
        pred = ops.cast(batch.pred, "int32")
        # Cell (label, true, pred) of the (C, 2, 2) stack, one per position and label.
        cells = 4 * ops.arange(num_classes, dtype="int32") + 2 * true + pred
        if batch.valid is not None:
            cells = ops.where(ops.expand_dims(batch.valid, -1), cells, 4 * num_classes)
        weights = None
        if batch.weight is not None:
            weights = [ops.broadcast_to(ops.expand_dims(part, -1), ops.shape(cells))
                       for part in batch.weight]
        accumulate(self.confusion, _weighted_sums(cells, 4 * num_classes, weights), failed,
                   whole=weights is None)

    def _update_matrix(self, batch, failed):
        num_classes = self._num_classes
        cells = batch.true * num_classes + batch.pred
        if batch.valid is not None:
            # Skipped positions (ids out of range, ignore_class, mask) go to a cell that is dropped.
            cells = ops.where(batch.valid, cells, num_classes * num_classes)
        accumulate(self.confusion,
                   _weighted_sums(cells, num_classes * num_classes, batch.weight), failed,
                   whole=batch.weight is None)

    def _sample_scores(self, batch):
        """(3, 4) pair of sums for the `samples` average of this batch (see the class docstring)."""
        return _samples.score_sums(batch, self._label_ids, self._beta,
                                   self._zero_division_value(), self.zero_division == "nan")

    # ------------------------------------------------------------------ exact counts

    def exact_counts(self, dtype="float64"):
        """The counts seen so far, exact, as a NumPy array on the host (eager only).

        `ConfusionMatrix` (and a kappa that needs the matrix): binary /
        multiclass, the (C, C) matrix over every class id (rows: true class,
        columns: predicted class); multilabel, the (C, 2, 2) stack of
        [[tn, fp], [fn, tp]] per label: its result before `labels` and
        `normalize`. The scores keep O(C) counts: the (3, C) rows of true
        positives, predicted totals and actual totals (support) per class id
        (binary: classes 0 and 1; multilabel: per label). Read exactly on every backend
        (where float64 tensors are float32, as on JAX without
        `jax_enable_x64`, the result tensor rounds counts above 2**24; this
        does not).

        Args:
            dtype: `"float64"` (every count, exactly) or `"int64"` (whole
                counts only, e.g. unweighted ones). Defaults to `"float64"`.

        Returns:
            A NumPy array.
        """
        if dtype not in ("float64", "int64"):
            raise invalid_argument("dtype", "one of {'float64', 'int64'}", dtype)
        counts = self._exact(self.confusion if self._dense else self.per_class)
        if dtype == "int64":
            if not np.all(np.isfinite(counts) & (counts == np.round(counts))):
                raise ValueError(
                    "Invalid `dtype` argument value. Expected 'float64' for counts that are "
                    "not whole numbers (weighted counts). Received: dtype='int64'")
            counts = counts.astype("int64")
        return counts

    @staticmethod
    def _exact(variable):
        """A pair variable as NumPy float64: hi + lo has at most 49 significant bits, exact."""
        hi, lo = _doublefloat.read(variable)
        return (np.asarray(ops.convert_to_numpy(hi), dtype="float64")
                + np.asarray(ops.convert_to_numpy(lo), dtype="float64"))

    # ------------------------------------------------------------------ views

    @property
    def _view_dtype(self):
        """float64 where the device has it (as scikit-learn), else float32 (TPU, JAX)."""
        return _doublefloat.counts_dtype()

    def _zero_division_value(self):
        return math.nan if self.zero_division == "nan" else float(self.zero_division)

    def _divide(self, numerator, denominator, xp=ops):
        """numerator / denominator, with `zero_division` where the denominator is 0."""
        if xp is ops and self._zero_division_value() == 0.0:
            return ops.divide_no_nan(numerator, denominator)  # one op (TensorFlow's DivNoNan)
        zero = xp.equal(denominator, 0.0)
        return xp.where(zero, self._zero_division_value(),
                        numerator / xp.where(zero, 1.0, denominator))

    def count_pairs(self):
        """(tp, predicted, actual) over every class id, as pairs (hi, lo) of float32 vectors."""
        if not self._dense:
            hi, lo = _doublefloat.read(self.per_class)
            return tuple((hi[row], lo[row]) for row in (TP, PREDICTED, ACTUAL))
        hi, lo = _doublefloat.read(self.confusion)
        if self._task == "multilabel":
            def cell(row, column):
                return hi[:, row, column], lo[:, row, column]

            tp = cell(1, 1)
            return tp, _doublefloat.add(tp, cell(0, 1)), _doublefloat.add(tp, cell(1, 0))
        return ((ops.diagonal(hi), ops.diagonal(lo)), _doublefloat.sum_pairs((hi, lo), axis=0),
                _doublefloat.sum_pairs((hi, lo), axis=1))

    def class_counts(self, xp=ops):
        """(tp, predicted, actual) vectors over every class id.

        In the view dtype (see the class docstring), or exact float64 NumPy
        arrays with `xp=HOST`.
        """
        if xp is HOST or self._view_dtype == "float64":
            if not self._dense:
                if xp is HOST:
                    per_class = self._exact(self.per_class)
                else:  # every count is exact in float64
                    per_class = _doublefloat.read_as(self.per_class, "float64")
                # One op (TensorFlow's Unpack, torch's unbind) instead of three slices.
                rows = xp.unstack(per_class, axis=0) if xp is not HOST else per_class
                return rows[TP], rows[PREDICTED], rows[ACTUAL]
            if xp is HOST:
                confusion = self._exact(self.confusion)
            else:  # every count is exact in float64
                confusion = _doublefloat.read_as(self.confusion, "float64")
            if self._task == "multilabel":
                tp = confusion[:, 1, 1]
                return tp, tp + confusion[:, 0, 1], tp + confusion[:, 1, 0]
            return (xp.diagonal(confusion), xp.sum(confusion, axis=0),
                    xp.sum(confusion, axis=1))
        return tuple(_doublefloat.to_dtype(pair, "float32") for pair in self.count_pairs())

    def counts(self, xp=ops):
        """A `Counts` for the reported classes, read once per result.

        `included` says which of them enter an average: every listed label
        does; with `labels=None`, a binary / multiclass average runs over the
        classes present in y_true or y_pred, as scikit-learn infers its labels
        from the data (a class never seen is left out, not counted as 0).
        In float32, sums over classes are taken on the pairs, then rounded.
        """
        if xp is HOST or self._view_dtype == "float64":
            tp, predicted, actual = self.class_counts(xp)
            values = selected = [self._select(v, xp) for v in (tp, predicted, actual)]
        else:
            selected = self.count_pairs()
            tp, predicted, actual = values = [_doublefloat.to_dtype(pair, "float32")
                                              for pair in selected]
            if self._label_ids is not None:
                selected = [_doublefloat.take(pair, self._label_ids) for pair in selected]
                values = [_doublefloat.to_dtype(pair, "float32") for pair in selected]
        included = None
        if self._task != "multilabel" and self._label_ids is None:
            included = self._presence(predicted, actual, xp)
        return Counts(*values, included, selected)

    def totals(self, counts, xp=ops):
        """(tp, predicted, actual) summed over the reported classes: the micro average's."""
        if xp is HOST or self._view_dtype == "float64":
            return tuple(xp.sum(v) for v in counts.selected)
        return tuple(_doublefloat.to_dtype(_doublefloat.sum_pairs(pair, axis=0), "float32")
                     for pair in counts.selected)

    def _presence(self, predicted, actual, xp=ops):
        """Over every class id (binary / multiclass): whether it occurred in y_true or y_pred."""
        seen = (np.asarray(ops.convert_to_numpy(self.seen)) if xp is HOST
                else read_variable(self.seen))
        return xp.logical_or(xp.not_equal(actual + predicted, 0.0), xp.greater(seen, 0.0))

    def _select(self, vector, xp=ops):
        return vector if self._label_ids is None else xp.take(vector, self._label_ids, axis=0)

    def _scores(self, which, tp, predicted, actual, beta, xp=ops):
        if which == PRECISION:
            return self._divide(tp, predicted, xp)
        if which == RECALL:
            return self._divide(tp, actual, xp)
        beta2 = beta**2
        if beta2 == 1.0:  # F1: two graph ops fewer, every step
            return self._divide(tp + tp, actual + predicted, xp)
        return self._divide((1.0 + beta2) * tp, beta2 * actual + predicted, xp)

    def _mean(self, values, included, weights=None, xp=ops):
        """scikit-learn's `_nanaverage` over the included classes (None: all)."""
        dtype = "float64" if xp is HOST else self._view_dtype
        # Only zero_division="nan" makes NaN scores.
        used = xp.logical_not(xp.isnan(values)) if self.zero_division == "nan" else None
        if included is not None:
            used = included if used is None else xp.logical_and(included, used)
        if used is None:
            used = xp.ones_like(values, dtype="bool")
        count = xp.sum(xp.cast(used, dtype))
        zero_division = self._zero_division_value()
        # Unweighted with zero_division 0: a class left out (absent from y_true and y_pred)
        # has no count and its score is already 0, so nothing needs zeroing.
        plain = weights is None and zero_division == 0.0
        if not plain:
            values = xp.where(used, values, 0.0)
        # No class used gives 0 (every value is then 0, or zeroed): one op on device
        # (TensorFlow's DivNoNan); on the host a whole count of at least 1.
        if xp is ops:
            mean = ops.divide_no_nan(ops.sum(values), count)
        else:
            mean = xp.sum(values) / xp.maximum(count, 1.0)
        if plain:
            return mean
        none_used = xp.equal(count, 0.0)
        if weights is not None:
            weights = xp.where(used, weights, 0.0)
            total = xp.sum(weights)
            weighted = xp.sum(values * weights) / xp.where(total == 0.0, 1.0, total)
            # All weights zero: scikit-learn falls back to the unweighted mean.
            mean = xp.where(total == 0.0, mean, weighted)
        if zero_division == 0.0:
            return mean  # no class used: every value and weight is zeroed, the mean is 0 / 1
        return xp.where(none_used, zero_division, mean)

    def _samples_average(self, which, xp=ops):
        if xp is HOST:
            sums = self._exact(self.sample_scores)[which]
        else:
            pair = _doublefloat.read(self.sample_scores)
            sums = _doublefloat.to_dtype((pair[0][which], pair[1][which]), self._view_dtype)
        weighted = sums[0] / xp.where(sums[1] == 0.0, 1.0, sums[1])
        unweighted = sums[2] / xp.maximum(sums[3], 1.0)
        mean = xp.where(sums[1] == 0.0, unweighted, weighted)
        return xp.where(sums[3] == 0.0, self._zero_division_value(), mean)

    def average_scores(self, which, average, scores, counts, beta=1.0, xp=ops):
        """Averages per-class `scores` (of `which`) as scikit-learn's `average` does."""
        if average == "samples":
            return self._samples_average(which, xp)
        if average == "micro":
            return self._scores(which, *self.totals(counts, xp), beta, xp)
        if average is None:
            return scores
        return self._mean(scores, counts.included,
                          counts.actual if average == "weighted" else None, xp)

    def compute_score(self, which, average, beta=1.0, xp=ops):
        """Precision, recall or F-beta (`which`) under `average`, in the view dtype.

        Binary scores the positive class 1 whatever `average` says. With
        `xp=HOST`, computed in float64 NumPy from the exact counts.
        """
        if self._task != "binary" and average == "samples":
            return self._samples_average(which, xp)
        counts = self.counts(xp)
        if self._task == "binary":
            return self._scores(which, counts.tp[1], counts.predicted[1], counts.actual[1],
                                beta, xp)
        scores = None
        if average != "micro":
            scores = self._scores(which, counts.tp, counts.predicted, counts.actual, beta, xp)
        return self.average_scores(which, average, scores, counts, beta, xp)

    def get_config(self):
        """Keras' config plus every constructor argument named in `_config_args`."""
        return {**super().get_config(),
                **{arg: config_value(getattr(self, arg)) for arg in self._config_args}}
