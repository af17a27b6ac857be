"""The confusion matrix itself, as a streamed metric."""

from keras import ops

from kerasext.api_export import kerasext_export
from kerasext.metrics import confusion
from kerasext.metrics.confusion import ConfusionCounts

NORMALIZATIONS = ("true", "pred", "all", None)


@kerasext_export
class ConfusionMatrix(ConfusionCounts):
    """Confusion matrix of weighted counts, equal to scikit-learn's `confusion_matrix`.

    Binary and multiclass give the (C, C) matrix (rows: true class, columns:
    predicted class; binary is [[tn, fp], [fn, tp]]); multilabel gives the
    (C, 2, 2) stack of [[tn, fp], [fn, tp]] per label, as
    `sklearn.metrics.multilabel_confusion_matrix`. Counts are float64, exact
    up to 2**53.

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
        ignore_class: a label value whose positions are skipped.
            Defaults to `None`.
        normalize: `"true"` (rows sum to 1), `"pred"` (columns), `"all"` or
            None (counts), as scikit-learn; binary and multiclass only.
            Defaults to `None`.
        name: the metric's name. Defaults to `"confusion_matrix"`.
        dtype: unused by the result, which is float64. Defaults to `None`.

    Call arguments:
        y_true: labels in any format `kx.metrics.Precision` accepts.
        y_pred: scores `(..., C)` (binary: `(...)` or `(..., 1)`).
        sample_weight: optional weights per position.

    Returns:
        A float64 tensor (C, C), or (C, 2, 2) for multilabel (C: the number
        of `labels` when given).

    Example:

    ```python
    import numpy as np
    metric = kx.metrics.ConfusionMatrix(num_classes=3)
    metric.update_state(np.array([0, 1, 2, 2]), np.eye(3)[[0, 2, 2, 1]])
    assert (np.asarray(metric.result()) == [[1, 0, 0], [0, 0, 1], [0, 1, 1]]).all()
    ```
    """

    def __init__(self, task=None, num_classes=None, threshold=0.5, from_logits=False,
                 labels=None, ignore_class=None, normalize=None, name="confusion_matrix",
                 dtype=None):
        super().__init__(task=task, num_classes=num_classes, threshold=threshold,
                         from_logits=from_logits, labels=labels, ignore_class=ignore_class,
                         name=name, dtype=dtype)
        if normalize not in NORMALIZATIONS:
            raise confusion.invalid_argument(
                "normalize", "one of {'true', 'pred', 'all', None}", normalize)
        if normalize is not None and self._task == "multilabel":
            raise confusion.invalid_argument(
                "normalize", "None with task='multilabel'", normalize)
        self.normalize = normalize

    def result(self):
        matrix = ops.convert_to_tensor(self.confusion)
        if self._label_ids is not None:
            matrix = ops.take(matrix, self._label_ids, axis=0)
            if self._task != "multilabel":
                matrix = ops.take(matrix, self._label_ids, axis=1)
        if self.normalize is None:
            return matrix
        if self.normalize == "true":
            total = ops.sum(matrix, axis=1, keepdims=True)
        elif self.normalize == "pred":
            total = ops.sum(matrix, axis=0, keepdims=True)
        else:
            total = ops.sum(matrix)
        # scikit-learn turns the 0/0 of an empty row or column into 0.
        zero = ops.equal(total, 0.0)
        normalized = matrix / ops.where(zero, ops.ones_like(total), total)
        return ops.where(zero, ops.zeros_like(normalized), normalized)

    def get_config(self):
        return {**super().get_config(), "normalize": self.normalize}

