"""The confusion matrix itself, as a streamed metric."""

from keras import ops

from kerasext.api_export import kerasext_export
from kerasext.metrics import _doublefloat, confusion
from kerasext.metrics.confusion import ConfusionCounts

NORMALIZATIONS = ("true", "pred", "all", None)


@kerasext_export
class ConfusionMatrix(ConfusionCounts):
    """Confusion matrix of weighted counts, equal to scikit-learn's `confusion_matrix`.

    Binary and multiclass give the (C, C) matrix (rows: true class, columns:
    predicted class; binary is [[tn, fp], [fn, tp]]); multilabel gives the
    (C, 2, 2) stack of [[tn, fp], [fn, tp]] per label, as
    `sklearn.metrics.multilabel_confusion_matrix`. Counts are exact on every
    backend (integer counts past 2**44, weighted ones to about 2**-44 of
    scikit-learn's float64 sums); the result tensor holds them in float64,
    or in float32 where the backend has no float64 (JAX without
    `jax_enable_x64`, TPUs), where `exact_counts()` still reads them
    exactly, as NumPy float64 or int64.

    Args:
        task: `"binary"`, `"multiclass"` or `"multilabel"`; `None` means
            `"binary"` when `num_classes` is None, else `"multiclass"`.
            Defaults to `None`.
        num_classes: the number of classes C; None for binary.
            Defaults to `None`.
        threshold: a prediction above it is positive (binary, multilabel).
            Defaults to `0.5`.
        from_logits: whether y_pred holds logits. Defaults to `False`.
        labels: the class ids to keep, in this order (scikit-learn's
            `labels`). Defaults to `None` (every class).
        ignore_class: a label value whose positions are skipped; any other
            label outside `[0, C)` (binary: other than 0 / 1) raises.
            Defaults to `None`.
        normalize: `"true"` (rows sum to 1), `"pred"` (columns), `"all"` or
            None (counts), as scikit-learn; binary and multiclass only.
            Defaults to `None`.
        name: the metric's name. Defaults to `"confusion_matrix"`.
        dtype: the dtype of the result. Defaults to `None`: float64 where
            the backend has it, else float32.

    Call arguments:
        y_true: labels in any format `kx.metrics.Precision` accepts.
        y_pred: scores `(..., C)` (binary: `(...)` or `(..., 1)`).
        sample_weight: optional weights per position.

    Returns:
        A tensor (C, C), or (C, 2, 2) for multilabel (C: the number
        of `labels` when given).

    Example:

    ```python
    import numpy as np
    metric = kx.metrics.ConfusionMatrix(num_classes=3)
    metric.update_state(np.array([0, 1, 2, 2]), np.eye(3)[[0, 2, 2, 1]])
    assert (np.asarray(metric.result()) == [[1, 0, 0], [0, 0, 1], [0, 1, 1]]).all()
    metric.update_state(np.array([0]), np.eye(3)[[0]], sample_weight=np.array([2.0**40]))
    assert metric.exact_counts("int64")[0, 0] == 2**40 + 1  # on every backend
    ```
    """

    _config_args = (*ConfusionCounts._config_args, "normalize")

    def __init__(self, task=None, num_classes=None, threshold=0.5, from_logits=False,
                 labels=None, ignore_class=None, normalize=None, name="confusion_matrix",
                 dtype=None):
        super().__init__(task=task, num_classes=num_classes, threshold=threshold,
                         from_logits=from_logits, labels=labels, ignore_class=ignore_class,
                         name=name, dtype=dtype or _doublefloat.counts_dtype(), dense=True)
        if normalize not in NORMALIZATIONS:
            raise confusion.invalid_argument(
                "normalize", "one of {'true', 'pred', 'all', None}", normalize)
        if normalize is not None and self._task == "multilabel":
            raise confusion.invalid_argument(
                "normalize", "None with task='multilabel'", normalize)
        self.normalize = normalize

    def result(self):
        pair = _doublefloat.read(self.confusion)
        if self._label_ids is not None:
            pair = _doublefloat.take(pair, self._label_ids, axis=0)
            if self._task != "multilabel":
                pair = _doublefloat.take(pair, self._label_ids, axis=1)
        dtype = self._view_dtype
        matrix = _doublefloat.to_dtype(pair, dtype)
        if self.normalize is None:
            return ops.cast(matrix, self.dtype)
        axis = {"true": 1, "pred": 0, "all": None}[self.normalize]
        if dtype == "float64":
            total = ops.sum(matrix, axis=axis, keepdims=True)
        elif axis is None:  # float32: the totals are summed on the pairs, then rounded
            flat = tuple(ops.reshape(part, (-1,)) for part in pair)
            total = _doublefloat.to_dtype(_doublefloat.sum_pairs(flat, axis=0), dtype)
        else:
            total = ops.expand_dims(
                _doublefloat.to_dtype(_doublefloat.sum_pairs(pair, axis=axis), dtype), axis)
        # scikit-learn turns the 0/0 of an empty row or column into 0.
        zero = ops.equal(total, 0.0)
        normalized = matrix / ops.where(zero, ops.ones_like(total), total)
        return ops.cast(ops.where(zero, ops.zeros_like(normalized), normalized), self.dtype)

