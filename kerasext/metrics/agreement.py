"""Agreement scores: Matthews correlation, Cohen's kappa, balanced accuracy, top-k accuracy.

The first three are views of the exact counts that `confusion.ConfusionCounts`
accumulates: Matthews correlation, balanced accuracy and unweighted kappa need
only the O(C) per-class totals (true positives, predicted, actual); a kappa
with distance weights or a label subset keeps the (C, C) matrix. `TopKAccuracy` reads the scores
themselves (a top-k hit is not a cell of the argmax confusion matrix) and
keeps its two sums as exact pairs the same way.
"""

import math

import keras

from kerasext.api_export import kerasext_export
from kerasext.metrics import _checks, _doublefloat, _inputs, confusion
from kerasext.metrics._fast import ops
from kerasext.metrics.confusion import STATE_DTYPE, ConfusionCounts

KAPPA_WEIGHTS = (None, "linear", "quadratic")
SINGLE_LABEL_TASKS = ("binary", "multiclass")
_SINGLE_LABEL_WHY = " (scikit-learn defines this score for single-label targets only)"

_SHARED_ARGS = """
        task: `"binary"` or `"multiclass"`; `None` means `"binary"` when
            `num_classes` is None, else `"multiclass"`. Defaults to `None`.
        threshold: a prediction above it is positive (binary).
            Defaults to `0.5`.
        from_logits: whether y_pred holds logits. Defaults to `False`.
        ignore_class: a label value whose positions are skipped (e.g. a
            padding id). Defaults to `None`.
        name: the metric's name. Defaults to `None`: the class's own
            (`"matthews_correlation"`, `"cohen_kappa"`, `"balanced_accuracy"`).
        dtype: the dtype of the result. Defaults to `None` (floatx)."""

_CALL_ARGS = """
    Call arguments:
        y_true: sparse labels `(...)` / `(..., 1)` or one-hot `(..., C)`
            (multiclass), `(...)` / `(..., 1)` (binary); any leading rank.
        y_pred: scores `(..., C)` (argmaxed), or `(...)` / `(..., 1)` for
            binary (thresholded).
        sample_weight: optional weights per position (leading shape of
            y_pred). A Keras mask on y_pred skips masked positions.
"""


class _MatrixScore(ConfusionCounts):
    """A single-label score computed in `result()` from the confusion counts."""

    higher_is_better = True
    _config_args = ("task", "num_classes", "threshold", "from_logits", "ignore_class")

    def __init__(self, num_classes=None, task=None, threshold=0.5, from_logits=False,
                 ignore_class=None, name=None, dtype=None, *, labels=None, dense=False):
        confusion.resolve_task(task, num_classes, SINGLE_LABEL_TASKS, _SINGLE_LABEL_WHY)
        super().__init__(task=task, num_classes=num_classes, threshold=threshold,
                         from_logits=from_logits, labels=labels, ignore_class=ignore_class,
                         name=name, dtype=dtype, dense=dense)

    def _marginals(self):
        """From the O(C) counts, in the view dtype: (tp, true, predicted, total, trace).

        true / predicted: the row / column sums of the confusion matrix, tp its
        diagonal, trace its sum. In float32 each value is rounded once from
        the exact pairs.
        """
        if self._view_dtype == "float64":
            tp, predicted, true = self.class_counts()
            return tp, true, predicted, ops.sum(true), ops.sum(tp)
        tp, predicted, true = self.count_pairs()
        return tuple(_doublefloat.to_dtype(pair, "float32") for pair in (
            tp, true, predicted, _doublefloat.sum_pairs(true, axis=0),
            _doublefloat.sum_pairs(tp, axis=0)))

    def _matrix(self):
        """(matrix, true sums, predicted sums, total) in the view dtype (`dense=True` only).

        float64 (exact) where the device has it; in float32 the sums are taken
        on the exact pairs and rounded once, so every value is correctly
        rounded.
        """
        pair = _doublefloat.read(self.confusion)
        if self._label_ids is not None:
            pair = _doublefloat.take(_doublefloat.take(pair, self._label_ids, axis=0),
                                     self._label_ids, axis=1)
        dtype = self._view_dtype
        matrix = _doublefloat.to_dtype(pair, dtype)
        if dtype == "float64":
            return (matrix, ops.sum(matrix, axis=1), ops.sum(matrix, axis=0),
                    ops.sum(matrix))
        true = _doublefloat.sum_pairs(pair, axis=1)
        flat = _doublefloat.sum_pairs(true, axis=0)
        return (matrix, _doublefloat.to_dtype(true, dtype),
                _doublefloat.to_dtype(_doublefloat.sum_pairs(pair, axis=0), dtype),
                _doublefloat.to_dtype(flat, dtype))

    def result(self):
        return ops.cast(self._score(), self.dtype)


def _safe_divide(numerator, denominator):
    zero = ops.equal(denominator, 0.0)
    return numerator / ops.where(zero, ops.ones_like(denominator), denominator), zero


@kerasext_export
class MatthewsCorrelation(_MatrixScore):
    __doc__ = """Matthews correlation coefficient, equal to scikit-learn's `matthews_corrcoef`.

    Binary and multiclass (Gorodkin's R_K statistic): from the confusion
    matrix C with row sums t, column sums p, trace c and total s,
    `(c s - t.p) / sqrt((s^2 - p.p) (s^2 - t.t))`, in [-1, 1]. As
    scikit-learn, it is `0.0` when a denominator is 0 (every sample in one
    true class, or every prediction in one class), and before any update.

    Args:
        num_classes: the number of classes C; None for binary.
            Defaults to `None`.""" + _SHARED_ARGS + "\n" + _CALL_ARGS + """
    Returns:
        A scalar.

    Example:

    ```python
    import numpy as np
    from sklearn.metrics import matthews_corrcoef
    metric = kx.metrics.MatthewsCorrelation(num_classes=3)
    y_true, y_pred = np.array([0, 1, 2, 2, 1]), np.array([0, 2, 2, 2, 1])
    metric.update_state(y_true[:2], np.eye(3)[y_pred[:2]])
    metric.update_state(y_true[2:], np.eye(3)[y_pred[2:]])
    assert np.isclose(float(metric.result()), matthews_corrcoef(y_true, y_pred))
    ```

    Reference:
        Matthews, *Comparison of the predicted and observed secondary
        structure of T4 phage lysozyme*, Biochim. Biophys. Acta, 1975;
        Gorodkin, *Comparing two K-category assignments by a K-category
        correlation coefficient*, Comput. Biol. Chem., 2004.
    """

    _default_name = "matthews_correlation"

    def __init__(self, num_classes=None, task=None, threshold=0.5, from_logits=False,
                 ignore_class=None, name=None, dtype=None):
        super().__init__(num_classes=num_classes, task=task, threshold=threshold,
                         from_logits=from_logits, ignore_class=ignore_class, name=name,
                         dtype=dtype)

    def _score(self):
        if self._view_dtype != "float64":
            return self._score_in_pairs()
        tp, true, predicted, total, trace = self._marginals()
        # Fractions of the total: the same formula divided by s^2, on values of order 1, so that
        # float32 (JAX without x64) loses nothing to the cancellations of the s^2 terms.
        scale, empty = _safe_divide(ops.ones_like(total), total)
        t, p = true * scale, predicted * scale
        covariance = trace * scale - ops.sum(t * p)
        variances = (1.0 - ops.sum(p * p)) * (1.0 - ops.sum(t * t))
        undefined = ops.logical_or(empty, ops.less_equal(variances, 0.0))
        score = covariance / ops.sqrt(ops.where(undefined, ops.ones_like(variances), variances))
        return ops.where(undefined, ops.zeros_like(score), score)

    def _score_in_pairs(self):
        """The float32 form: the covariances in double-float, then rounded once each.

        Near 0 the covariance is a small difference of terms of order s^2,
        which float32 products of the rounded counts would lose.
        """
        tp, predicted, true = self.count_pairs()
        total = _doublefloat.sum_pairs(true, axis=0)
        trace = _doublefloat.sum_pairs(tp, axis=0)
        square = _pair_product(total, total)

        def minus_dot(first, x, y):
            return _doublefloat.to_dtype(_doublefloat.add(
                first, _negative(_doublefloat.sum_pairs(_pair_product(x, y), axis=0))),
                "float32")

        covariance = minus_dot(_pair_product(trace, total), true, predicted)
        predicted_variance = minus_dot(square, predicted, predicted)
        true_variance = minus_dot(square, true, true)
        undefined = ops.logical_or(ops.less_equal(predicted_variance, 0.0),
                                   ops.less_equal(true_variance, 0.0))
        one = ops.ones_like(covariance)
        predicted_variance = ops.where(undefined, one, predicted_variance)
        true_variance = ops.where(undefined, one, true_variance)
        # Two square roots: the product of the variances (up to s^4) could overflow float32.
        # Equal variances (a perfect or inverted prediction) need none, so +-1 stays exact.
        denominator = ops.where(ops.equal(predicted_variance, true_variance), true_variance,
                                ops.sqrt(predicted_variance) * ops.sqrt(true_variance))
        score = ops.clip(covariance / denominator, -1.0, 1.0)
        return ops.where(undefined, ops.zeros_like(score), score)


def _negative(pair):
    return -pair[0], -pair[1]


def _pair_product(x, y):
    """x * y for pairs, to about 2**-46 relative (Dekker's mul2)."""
    product, error = _doublefloat.two_product(x[0], y[0])
    return _doublefloat.fast_two_sum(product, error + (x[0] * y[1] + x[1] * y[0]))


@kerasext_export
class CohenKappa(_MatrixScore):
    __doc__ = """Cohen's kappa between y_true and y_pred, equal to scikit-learn's `cohen_kappa_score`.

    `1 - sum(w * C) / sum(w * E)` with C the confusion matrix, E the matrix
    expected by chance (outer product of its marginals over the total) and
    w the disagreement weights: 1 off the diagonal (`weights=None`), `|i - j|`
    (`"linear"`) or `(i - j)^2` (`"quadratic"`), where i, j are positions in
    the label list, as scikit-learn: with `labels=None` that list is the
    classes seen in y_true or y_pred, so an absent class does not widen
    the distances; pass `labels=list(range(num_classes))` to weigh by class
    id. Kappa is undefined (`replace_undefined_by`) before any update or when
    y_true and y_pred agree on one single class.

    Args:
        num_classes: the number of classes C; None for binary.
            Defaults to `None`.
        weights: `None`, `"linear"` or `"quadratic"`, as scikit-learn's.
            Defaults to `None`.
        labels: the class ids to keep, in this order (scikit-learn's
            `labels`; positions with another class are left out).
            Defaults to `None`.
        replace_undefined_by: the value of an undefined kappa: a float in
            [-1, 1] or `"nan"` (scikit-learn's default). Defaults to `"nan"`.""" + (
        _SHARED_ARGS + "\n" + _CALL_ARGS) + """
    Returns:
        A scalar.

    Example:

    ```python
    import numpy as np
    from sklearn.metrics import cohen_kappa_score
    metric = kx.metrics.CohenKappa(num_classes=4, weights="quadratic")
    y_true, y_pred = np.array([0, 1, 3, 3, 1]), np.array([0, 3, 3, 1, 1])
    metric.update_state(y_true, np.eye(4)[y_pred])
    expected = cohen_kappa_score(y_true, y_pred, weights="quadratic")
    assert np.isclose(float(metric.result()), expected)
    ```

    Reference:
        Cohen, *A coefficient of agreement for nominal scales*, Educational
        and Psychological Measurement, 1960; Cohen, *Weighted kappa*,
        Psychological Bulletin, 1968.
    """

    _default_name = "cohen_kappa"
    _config_args = (*_MatrixScore._config_args, "labels", "weights", "replace_undefined_by")

    def __init__(self, num_classes=None, weights=None, labels=None,
                 replace_undefined_by="nan", task=None, threshold=0.5, from_logits=False,
                 ignore_class=None, name=None, dtype=None):
        if weights not in KAPPA_WEIGHTS:
            raise confusion.invalid_argument(
                "weights", "one of {None, 'linear', 'quadratic'}", weights)
        if isinstance(replace_undefined_by, float) and math.isnan(replace_undefined_by):
            replace_undefined_by = "nan"
        if replace_undefined_by != "nan" and (
            not isinstance(replace_undefined_by, (int, float))
            or isinstance(replace_undefined_by, bool)
            or not -1.0 <= replace_undefined_by <= 1.0
        ):
            raise confusion.invalid_argument(
                "replace_undefined_by", "a float in [-1, 1] or 'nan'", replace_undefined_by)
        # Only distance weights or a label subset (which drops the positions of other
        # classes) need the (C, C) matrix; plain kappa reads the O(C) counts.
        super().__init__(num_classes=num_classes, task=task, threshold=threshold,
                         from_logits=from_logits, ignore_class=ignore_class, name=name,
                         dtype=dtype, labels=labels,
                         dense=weights is not None or labels is not None)
        self.weights = weights
        self.replace_undefined_by = replace_undefined_by

    def _positions(self, matrix, true, predicted):
        """The position of each class in scikit-learn's label list, in the view dtype."""
        size = matrix.shape[0]
        positions = ops.cast(ops.arange(size), matrix.dtype)
        if self._label_ids is not None:
            return positions
        # labels=None: the sorted classes that occurred in y_true or y_pred.
        present = ops.cast(self._presence(predicted, true), matrix.dtype)
        return ops.cumsum(present) - 1.0

    def _undefined_or(self, ratio, undefined):
        fallback = math.nan if self.replace_undefined_by == "nan" else float(
            self.replace_undefined_by)
        return ops.where(undefined, ops.full_like(ratio, fallback), 1.0 - ratio)

    def _plain_score(self):
        """Unweighted kappa from the O(C) counts: 1 - (s - c) s / sum_k t_k (s - p_k).

        The off-diagonal mass s - c and s - p_k are taken on the exact counts
        before any rounding: a near-perfect agreement is a small difference
        of large totals.
        """
        if self._view_dtype == "float64":
            tp, predicted, true = self.class_counts()
            total = ops.sum(true)
            disagreed = total - ops.sum(tp)
            others = total - predicted
        else:
            tp, predicted, true = self.count_pairs()
            total_pair = _doublefloat.sum_pairs(true, axis=0)
            rest = _doublefloat.add(total_pair, _negative(_doublefloat.sum_pairs(tp, axis=0)))
            rest_predicted = _doublefloat.add(
                (ops.expand_dims(total_pair[0], 0), ops.expand_dims(total_pair[1], 0)),
                _negative(predicted))
            total, disagreed, others, true = (
                _doublefloat.to_dtype(pair, "float32")
                for pair in (total_pair, rest, rest_predicted, true))
        scale, empty = _safe_divide(ops.ones_like(total), total)
        ratio, chance_zero = _safe_divide(disagreed * scale,
                                          ops.sum((true * scale) * (others * scale)))
        return self._undefined_or(ratio, ops.logical_or(empty, chance_zero))

    def _score(self):
        if not self._dense:
            return self._plain_score()
        matrix, true, predicted, total = self._matrix()
        scale, empty = _safe_divide(ops.ones_like(total), total)
        observed = matrix * scale
        expected = ops.expand_dims(true * scale, 1) * ops.expand_dims(predicted * scale, 0)
        if self.weights is None:
            size = matrix.shape[0]
            disagreement = 1.0 - ops.eye(size, dtype=matrix.dtype)
        else:
            positions = self._positions(matrix, true, predicted)
            distance = ops.expand_dims(positions, 1) - ops.expand_dims(positions, 0)
            disagreement = (ops.abs(distance) if self.weights == "linear"
                            else distance * distance)
        ratio, chance_zero = _safe_divide(ops.sum(disagreement * observed),
                                          ops.sum(disagreement * expected))
        return self._undefined_or(ratio, ops.logical_or(empty, chance_zero))


@kerasext_export
class BalancedAccuracy(_MatrixScore):
    __doc__ = """Balanced accuracy, equal to scikit-learn's `balanced_accuracy_score`.

    The mean recall over the classes present in y_true (a class with zero
    total weight in y_true is left out, as scikit-learn does after its
    warning). With `adjusted=True`, rescaled so that chance scores 0 and a
    perfect prediction 1. Before any update (no class present) it is `0.0`
    (scikit-learn has no value for empty input).

    Args:
        num_classes: the number of classes C; None for binary.
            Defaults to `None`.
        adjusted: whether to rescale by chance, as scikit-learn's.
            Defaults to `False`.""" + _SHARED_ARGS + "\n" + _CALL_ARGS + """
    Returns:
        A scalar.

    Example:

    ```python
    import numpy as np
    from sklearn.metrics import balanced_accuracy_score
    metric = kx.metrics.BalancedAccuracy(num_classes=3)
    y_true, y_pred = np.array([0, 0, 0, 1, 2, 2]), np.array([0, 0, 1, 1, 2, 0])
    metric.update_state(y_true[:, None], np.eye(3)[y_pred])
    assert np.isclose(float(metric.result()), (2 / 3 + 1 + 1 / 2) / 3)
    assert np.isclose(float(metric.result()), balanced_accuracy_score(y_true, y_pred))
    ```

    Reference:
        Brodersen et al., *The balanced accuracy and its posterior
        distribution*, ICPR, 2010.
    """

    _default_name = "balanced_accuracy"
    _config_args = (*_MatrixScore._config_args, "adjusted")

    def __init__(self, num_classes=None, adjusted=False, task=None, threshold=0.5,
                 from_logits=False, ignore_class=None, name=None, dtype=None):
        if not isinstance(adjusted, bool):
            raise confusion.invalid_argument("adjusted", "a bool", adjusted)
        super().__init__(num_classes=num_classes, task=task, threshold=threshold,
                         from_logits=from_logits, ignore_class=ignore_class, name=name,
                         dtype=dtype)
        self.adjusted = adjusted

    def _score(self):
        tp, true, _, _, _ = self._marginals()
        recall, absent = _safe_divide(tp, true)
        present = ops.cast(ops.logical_not(absent), recall.dtype)
        count = ops.sum(present)
        score = ops.sum(recall * present) / ops.maximum(count, 1.0)
        if self.adjusted:
            chance = 1.0 / ops.maximum(count, 1.0)
            # One class present: scikit-learn's 0/0 (NaN); none: 0.0 as unadjusted.
            score = ops.where(ops.equal(count, 0.0), score, (score - chance) / (1.0 - chance))
        return score


@kerasext_export
class TopKAccuracy(confusion.Directed, keras.metrics.Metric):
    """Top-k accuracy, equal to scikit-learn's `top_k_accuracy_score`.

    A position is a hit when its true class is among the k highest scores.
    Ties are broken as scikit-learn's stable sort does: among equal scores
    the higher class id ranks first, so the true class t ranks after every
    class with a greater score and every class j > t with an equal score
    (a tie is not counted as a hit for free, and the score does not depend
    on how ties are spread). k >= C scores 1.0 (scikit-learn warns). The
    weighted hit and total counts are kept exact (float32 pairs), as the
    other kerasext metrics. Before any update the result is `0.0`.

    Unlike `keras.metrics.TopKCategoricalAccuracy`, y_true may be sparse or
    one-hot, ties follow scikit-learn and `ignore_class` / masks skip
    positions. Multiclass only: y_pred has one score per class (C >= 2).

    Args:
        k: how many of the highest-scored classes count as a hit, >= 1.
            Defaults to `5`.
        ignore_class: a label value whose positions are skipped (e.g. a
            padding id); any other label outside `[0, C)` raises, as does a
            NaN score (the checks every kerasext metric makes).
            Defaults to `None`.
        name: the metric's name. Defaults to `None` (`"top_k_accuracy"`).
        dtype: the dtype of the result. Defaults to `None` (floatx).

    Call arguments:
        y_true: sparse labels `(...)` / `(..., 1)` or one-hot `(..., C)`.
        y_pred: scores `(..., C)`: probabilities or logits (the ranking is
            the same).
        sample_weight: optional weights per position (leading shape of
            y_pred). A Keras mask on y_pred skips masked positions.

    Returns:
        A scalar: the weighted fraction of hits.

    Example:

    ```python
    import numpy as np
    from sklearn.metrics import top_k_accuracy_score
    metric = kx.metrics.TopKAccuracy(k=2)
    y_true = np.array([0, 1, 2, 2])
    scores = np.array([[0.5, 0.2, 0.3], [0.3, 0.4, 0.3], [0.2, 0.4, 0.4], [0.7, 0.2, 0.1]])
    metric.update_state(y_true, scores)
    assert float(metric.result()) == top_k_accuracy_score(y_true, scores, k=2) == 0.75
    ```
    """

    higher_is_better = True
    _default_name = "top_k_accuracy"

    def __init__(self, k=5, ignore_class=None, name=None, dtype=None):
        if not confusion.is_int(k) or k < 1:
            raise confusion.invalid_argument("k", "an integer >= 1", k)
        if ignore_class is not None and not confusion.is_int(ignore_class):
            raise confusion.invalid_argument("ignore_class", "an integer or None", ignore_class)
        super().__init__(name=name or self._default_name, dtype=dtype)
        self.k = k
        self.ignore_class = ignore_class
        # (2, 2): the pair (hi, lo) of the weighted [misses, hits].
        self.hits = self.add_variable(shape=(2, 2), initializer="zeros", dtype=STATE_DTYPE,
                                      name="hits")

    def update_state(self, y_true, y_pred, sample_weight=None):
        mask = _inputs.get_keras_mask(y_pred)
        weight = None if sample_weight is None else _inputs.weight_parts(sample_weight)
        scores = ops.convert_to_tensor(y_pred)
        num_classes = scores.shape[-1]
        if len(scores.shape) < 2 or num_classes is None or num_classes < 2:
            raise ValueError(f"TopKAccuracy needs y_pred of shape (..., C) with C >= 2 scores "
                             f"per position. Received: y_pred.shape={tuple(scores.shape)}")
        # The shared reading of labels, weights and masks, and its checks (labels in [0, C)
        # other than ignore_class, no NaN score): the same errors as every kerasext metric.
        batch = _inputs.standardize(
            y_true, scores, weight, mask, task="multiclass", num_classes=num_classes,
            threshold=0.5, from_logits=False, ignore_class=self.ignore_class)
        failed = _checks.enforce(batch.checks)
        scores = ops.reshape(ops.cast(scores, "float32"), (-1, num_classes))
        true = ops.cast(batch.true, "int32")
        valid = batch.valid
        safe_true = true if valid is None else ops.where(valid, true, ops.zeros_like(true))
        true_score = ops.take_along_axis(scores, ops.expand_dims(safe_true, -1), axis=-1)
        classes = ops.arange(num_classes, dtype="int32")
        # scikit-learn's rank: greater scores, then equal scores of higher class ids.
        ahead = ops.logical_or(
            ops.greater(scores, true_score),
            ops.logical_and(ops.equal(scores, true_score),
                            ops.greater(classes, ops.expand_dims(safe_true, -1))))
        rank = ops.sum(ops.cast(ahead, "int32"), axis=-1)
        cells = ops.cast(ops.less(rank, self.k), "int32")
        if valid is not None:
            cells = ops.where(valid, cells, 2)  # cell 2 is dropped
        if batch.weight is None:
            pair = _doublefloat.count_ids(cells, 2)
        else:
            pair = _doublefloat.segment_sums(ops.concatenate([cells] * len(batch.weight)), 2,
                                             ops.concatenate(batch.weight))
        confusion.accumulate(self.hits, pair, failed, whole=batch.weight is None)

    def result(self):
        pair = _doublefloat.read(self.hits)
        dtype = _doublefloat.counts_dtype()
        hits = _doublefloat.to_dtype((pair[0][1], pair[1][1]), dtype)
        total = _doublefloat.to_dtype(_doublefloat.sum_pairs(pair, axis=0), dtype)
        ratio, empty = _safe_divide(hits, total)
        return ops.cast(ops.where(empty, ops.zeros_like(ratio), ratio), self.dtype)

    def get_config(self):
        return {**super().get_config(), "k": self.k, "ignore_class": self.ignore_class}
