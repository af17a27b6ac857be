"""The confusion-count core that every kerasext classification metric is a view of.

`ConfusionCounts` turns labels and predictions of any supported format into
per-class confusion counts and keeps them in float64 variables. Float64 counts
stay exact up to 2**53 (a float32 accumulator stops counting at 2**24), and a
weighted count is the same float64 sum scikit-learn computes. The metric
classes (`Precision`, `Recall`, `FBetaScore`, `F1Score`, `ConfusionMatrix`,
`ClassificationReport`) only differ in what `result()` reads from the counts.
"""

import math

import keras
from keras import ops

from kerasext.metrics import _inputs

TASKS = ("binary", "multiclass", "multilabel")
AVERAGES = ("micro", "macro", "weighted", "samples", None)
ZERO_DIVISIONS = (0.0, 1.0, "nan")

#: The dtype of every count: exact for integer weights up to 2**53.
COUNT_DTYPE = "float64"

# Rows of the per-sample state (multilabel `samples` average).
PRECISION, RECALL, FSCORE = 0, 1, 2


def invalid_argument(name, expected, value):
    return ValueError(
        f"Invalid `{name}` argument value. Expected {expected}. Received: {name}={value!r}"
    )


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


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


class ConfusionCounts(keras.metrics.Metric):
    """Base of kerasext's classification metrics: weighted per-class confusion counts.

    Not public: the public metrics subclass it and only implement `result()`.

    State (float64, summed over every batch and replica):
    - binary / multiclass: `confusion`, the (C, C) matrix of weighted counts
      (rows: true class, columns: predicted class; binary is C = 2), and
      `seen`, the unweighted number of times each class occurred in y_true or
      y_pred in batches that came with a sample_weight (scikit-learn averages
      over the classes present when `labels` is None, whatever their weight;
      without weights the counts themselves say which classes occurred, so an
      unweighted batch skips this update);
    - multilabel: `confusion`, the (C, 2, 2) matrix [[tn, fp], [fn, tp]] per
      label, as `sklearn.metrics.multilabel_confusion_matrix`;
    - with `per_sample=True` (multilabel `samples` average), `sample_scores`,
      (3, 4): for precision, recall and F-beta the sums over samples of
      weight * score, weight, score and 1, over the samples where the score is
      defined, which is what scikit-learn's NaN-skipping weighted mean needs.
    """

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
    ):
        super().__init__(name=name, dtype=dtype)
        if task not in (*TASKS, None):
            raise invalid_argument("task", "one of {'binary', 'multiclass', 'multilabel', None}",
                                   task)
        resolved = task or ("binary" if num_classes is None else "multiclass")
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
            if not _is_int(num_classes) or num_classes < minimum:
                raise invalid_argument(
                    "num_classes", f"an integer >= {minimum} with task={resolved!r}", num_classes)
        if not isinstance(threshold, (int, float)) or isinstance(threshold, bool) or not (
            0.0 <= threshold <= 1.0
        ):
            raise invalid_argument("threshold", "a float in [0, 1]", threshold)
        if not isinstance(from_logits, bool):
            raise invalid_argument("from_logits", "a bool", from_logits)
        if ignore_class is not None:
            if not _is_int(ignore_class):
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
        shape = (self._num_classes, 2, 2) if resolved == "multilabel" else (self._num_classes,) * 2
        self.confusion = self.add_variable(
            shape=shape, initializer="zeros", dtype=COUNT_DTYPE, name="confusion")
        if resolved != "multilabel":
            self.seen = self.add_variable(
                shape=(self._num_classes,), initializer="zeros", dtype=COUNT_DTYPE, name="seen")
        if per_sample:
            self.sample_scores = self.add_variable(
                shape=(3, 4), initializer="zeros", dtype=COUNT_DTYPE, name="sample_scores")

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
        batch = _inputs.standardize(
            y_true, y_pred, sample_weight,
            task=self._task, num_classes=self._num_classes, threshold=self.threshold,
            from_logits=self.from_logits, ignore_class=self.ignore_class,
        )
        num_classes = self._num_classes
        valid = None if batch.valid is None else ops.cast(batch.valid, COUNT_DTYPE)
        if batch.weight is not None:
            weight = batch.weight
        elif self._task == "multilabel":
            weight = ops.ones(ops.shape(batch.pred)[:1], dtype=COUNT_DTYPE)
        else:
            weight = ops.ones_like(batch.pred, dtype=COUNT_DTYPE)
        count = weight if valid is None else weight * valid
        if self._task == "multilabel":
            t = ops.cast(batch.true, COUNT_DTYPE)
            p = ops.cast(batch.pred, COUNT_DTYPE)
            w = ops.expand_dims(count, -1)
            true_positive = ops.sum(w * t * p, axis=0)
            actual = ops.sum(w * t, axis=0)
            predicted = ops.sum(w * p, axis=0)
            # The same subtractions as sklearn's multilabel_confusion_matrix (exact on integers).
            fp = predicted - true_positive
            fn = actual - true_positive
            tn = ops.sum(count) - true_positive - fp - fn
            self.confusion.assign_add(ops.stack(
                [ops.stack([tn, fp], -1), ops.stack([fn, true_positive], -1)], -2))
            if self._per_sample:
                self.sample_scores.assign_add(self._sample_scores(t, p, weight, valid))
            return
        true_ids, pred_ids = batch.true, batch.pred
        if valid is not None:
            # Skipped positions carry no weight; their ids are clamped to keep scatter in bounds.
            true_ids = ops.where(batch.valid, true_ids, ops.zeros_like(true_ids))
        self.confusion.assign_add(ops.scatter(
            ops.stack([true_ids, pred_ids], axis=1), count, (num_classes, num_classes)))
        if batch.weight is None:
            return
        occurrences = ops.ones_like(weight) if valid is None else valid
        self.seen.assign_add(ops.scatter(
            ops.expand_dims(ops.concatenate([true_ids, pred_ids]), 1),
            ops.concatenate([occurrences, occurrences]), (num_classes,)))

    def _sample_scores(self, t, p, weight, valid):
        """(3, 4) sums for the `samples` average of this batch (see the class docstring)."""
        if self._label_ids is not None:
            t = ops.take(t, self._label_ids, axis=1)
            p = ops.take(p, self._label_ids, axis=1)
        # scikit-learn weights each sample's counts, so a zero weight makes a 0/0 score.
        tp = weight * ops.sum(t * p, axis=1)
        predicted = weight * ops.sum(p, axis=1)
        actual = weight * ops.sum(t, axis=1)
        beta2 = self._beta**2
        rows = []
        for numerator, denominator in (
            (tp, predicted),
            (tp, actual),
            ((1.0 + beta2) * tp, beta2 * actual + predicted),
        ):
            score = self._divide(numerator, denominator)
            defined = ops.ones_like(weight) if valid is None else valid
            if self.zero_division == "nan":
                defined = defined * ops.cast(ops.not_equal(denominator, 0.0), COUNT_DTYPE)
                score = ops.where(ops.isnan(score), ops.zeros_like(score), score)
            rows.append(ops.stack([
                ops.sum(defined * weight * score), ops.sum(defined * weight),
                ops.sum(defined * score), ops.sum(defined),
            ]))
        return ops.stack(rows)

    # ------------------------------------------------------------------ views

    def _zero_division_value(self):
        return math.nan if self.zero_division == "nan" else float(self.zero_division)

    def _divide(self, numerator, denominator):
        """numerator / denominator, with `zero_division` where the denominator is 0."""
        # x / 0 is inf or nan (no error) in float64, then replaced.
        return ops.where(ops.equal(denominator, 0.0), self._zero_division_value(),
                         numerator / denominator)

    def class_counts(self):
        """(tp, predicted, actual): float64 vectors over every class id."""
        confusion = ops.convert_to_tensor(self.confusion)
        if self._task == "multilabel":
            tp = confusion[:, 1, 1]
            return tp, tp + confusion[:, 0, 1], tp + confusion[:, 1, 0]
        return ops.diagonal(confusion), ops.sum(confusion, axis=0), ops.sum(confusion, axis=1)

    def counts(self):
        """(tp, predicted, actual, included) for the reported classes, read once per result.

        `included` says which of them enter an average: every listed label
        does; with `labels=None`, a binary / multiclass average runs over the
        classes present in y_true or y_pred, as scikit-learn infers its labels
        from the data (a class never seen is left out, not counted as 0).
        """
        tp, predicted, actual = self.class_counts()
        included = None
        if self._task != "multilabel" and self._label_ids is None:
            included = self._presence(predicted, actual)
        if self._task != "binary":
            tp, predicted, actual = self._select(tp), self._select(predicted), self._select(actual)
        return tp, predicted, actual, included

    def _presence(self, predicted, actual):
        """Over every class id (binary / multiclass): whether it occurred in y_true or y_pred."""
        return ops.logical_or(ops.not_equal(actual + predicted, 0.0),
                              ops.greater(ops.convert_to_tensor(self.seen), 0.0))

    def _select(self, vector):
        return vector if self._label_ids is None else ops.take(vector, self._label_ids, axis=0)

    def _scores(self, which, tp, predicted, actual, beta):
        if which == PRECISION:
            return self._divide(tp, predicted)
        if which == RECALL:
            return self._divide(tp, actual)
        beta2 = beta**2
        return self._divide((1.0 + beta2) * tp, beta2 * actual + predicted)

    def _mean(self, values, included, weights=None):
        """scikit-learn's `_nanaverage` over the included classes (None: all)."""
        # Only zero_division="nan" makes NaN scores.
        used = ops.logical_not(ops.isnan(values)) if self.zero_division == "nan" else None
        if included is not None:
            used = included if used is None else ops.logical_and(included, used)
        if used is None:
            used = ops.ones_like(values, dtype="bool")
        count = ops.sum(ops.cast(used, COUNT_DTYPE))
        values = ops.where(used, values, 0.0)
        mean = ops.sum(values) / ops.maximum(count, 1.0)
        if weights is not None:
            weights = ops.where(used, weights, 0.0)
            total = ops.sum(weights)
            weighted = ops.sum(values * weights) / ops.where(total == 0.0, 1.0, total)
            # All weights zero: scikit-learn falls back to the unweighted mean.
            mean = ops.where(total == 0.0, mean, weighted)
        return ops.where(count == 0.0, self._zero_division_value(), mean)

    def _samples_average(self, which):
        sums = ops.convert_to_tensor(self.sample_scores)[which]
        weighted = sums[0] / ops.where(sums[1] == 0.0, 1.0, sums[1])
        unweighted = sums[2] / ops.maximum(sums[3], 1.0)
        mean = ops.where(sums[1] == 0.0, unweighted, weighted)
        return ops.where(sums[3] == 0.0, self._zero_division_value(), mean)

    def average_scores(self, which, average, scores, counts, beta=1.0):
        """Averages per-class `scores` (of `which`) as scikit-learn's `average` does."""
        tp, predicted, actual, included = counts
        if average == "samples":
            return self._samples_average(which)
        if average == "micro":
            return self._scores(which, ops.sum(tp), ops.sum(predicted), ops.sum(actual), beta)
        if average is None:
            return scores
        return self._mean(scores, included, actual if average == "weighted" else None)

    def compute_score(self, which, average, beta=1.0):
        """Precision, recall or F-beta (`which`) under `average`, in float64.

        Binary scores the positive class 1 whatever `average` says.
        """
        counts = self.counts()
        tp, predicted, actual, _ = counts
        if self._task == "binary":
            return self._scores(which, tp[1], predicted[1], actual[1], beta)
        if average == "samples":
            return self._samples_average(which)
        scores = None
        if average != "micro":
            scores = self._scores(which, tp, predicted, actual, beta)
        return self.average_scores(which, average, scores, counts, beta)

    def get_config(self):
        return {
            **super().get_config(),
            "task": self.task,
            "num_classes": self.num_classes,
            "threshold": self.threshold,
            "from_logits": self.from_logits,
            "labels": None if self.labels is None else list(self.labels),
            "ignore_class": self.ignore_class,
        }
