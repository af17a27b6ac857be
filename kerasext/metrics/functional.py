"""One-call forms of kerasext's metrics, under scikit-learn's function names.

Each function builds its metric class with the keyword arguments given,
feeds it `y_true` / `y_pred` as one batch and returns its `result()`: the
very code the metric runs in `fit`, so one implementation is tested by both
(`tests/metrics/test_functional.py` compares these with scikit-learn, the
metric tests compare the classes). The arguments are kerasext's, not
scikit-learn's: `y_pred` holds scores `(..., C)` (argmaxed for multiclass,
thresholded for binary and multilabel), labels come in any format the
classes accept (sparse, one-hot, indicators; any leading rank), and the
defaults are the classes' (`average="macro"`, `k=5`).

Inputs are NumPy arrays or backend tensors. The result is on the host, as
scikit-learn's: a Python float for a scalar, a NumPy array for a vector or
a matrix, computed in float64 where the backend has it (on JAX without
`jax_enable_x64`, in float32 from exactly accumulated counts). Call them
eagerly, not inside a compiled function.

| function | class | scikit-learn |
|---|---|---|
| `precision_score` | `Precision` | `precision_score` |
| `recall_score` | `Recall` | `recall_score` |
| `fbeta_score` | `FBetaScore` | `fbeta_score` |
| `f1_score` | `F1Score` | `f1_score` |
| `confusion_matrix` | `ConfusionMatrix` | `confusion_matrix`, `multilabel_confusion_matrix` |
| `matthews_corrcoef` | `MatthewsCorrelation` | `matthews_corrcoef` |
| `cohen_kappa_score` | `CohenKappa` | `cohen_kappa_score` |
| `balanced_accuracy_score` | `BalancedAccuracy` | `balanced_accuracy_score` |
| `top_k_accuracy_score` | `TopKAccuracy` | `top_k_accuracy_score` |
| `roc_auc_score` | `AUROC` | `roc_auc_score` (`multi_class="ovr"`) |
| `average_precision_score` | `AveragePrecision` | `average_precision_score` |

`roc_auc_score` and `average_precision_score` are those of
`kerasext.metrics.ranking`: the metric's own `compute` on the scores as given,
in float64 NumPy. Another metric class gets its function in one line with
`one_call`.
"""

import numpy as np
from keras import ops

from kerasext.metrics import _doublefloat
from kerasext.metrics.agreement import (
    BalancedAccuracy,
    CohenKappa,
    MatthewsCorrelation,
    TopKAccuracy,
)
from kerasext.metrics.confusion_matrix import ConfusionMatrix
from kerasext.metrics.ranking import average_precision_score, roc_auc_score
from kerasext.metrics.scores import F1Score, FBetaScore, Precision, Recall

__all__ = [
    "average_precision_score",
    "balanced_accuracy_score",
    "cohen_kappa_score",
    "confusion_matrix",
    "f1_score",
    "fbeta_score",
    "matthews_corrcoef",
    "one_call",
    "precision_score",
    "recall_score",
    "roc_auc_score",
    "top_k_accuracy_score",
]


def one_call(metric_class, y_true, y_pred, *, sample_weight=None, **kwargs):
    """`metric_class(**kwargs)` fed one batch: its `result()` on the host.

    The shared body of every function here. `dtype` defaults to float64
    where the backend has it (float32 on JAX without `jax_enable_x64`), so
    that the result is scikit-learn's float64 value.

    Args:
        metric_class: a kerasext metric class (any `keras.metrics.Metric`
            whose `result()` is a tensor).
        y_true: labels, in any format the class accepts.
        y_pred: scores, as the class reads them.
        sample_weight: optional weights per position. Defaults to `None`.
        **kwargs: the class's constructor arguments.

    Returns:
        A Python float for a scalar result, else a NumPy array.

    Example:

    ```python
    import numpy as np
    from kerasext.metrics.functional import one_call
    y_true, scores = np.array([0, 1, 1]), np.eye(2)[[0, 1, 0]]
    value = one_call(kx.metrics.Recall, y_true, scores, num_classes=2, average="micro")
    assert np.isclose(value, 2 / 3)
    ```
    """
    kwargs.setdefault("dtype", _doublefloat.counts_dtype())
    metric = metric_class(**kwargs)
    metric.update_state(y_true, y_pred, sample_weight=sample_weight)
    value = np.asarray(ops.convert_to_numpy(metric.result()))
    return float(value) if value.ndim == 0 else value


def precision_score(y_true, y_pred, *, sample_weight=None, **kwargs):
    """Precision, as `sklearn.metrics.precision_score`: `kx.metrics.Precision` in one call.

    Args:
        y_true: labels: sparse `(...)` / `(..., 1)` or one-hot `(..., C)`
            (multiclass), 0 / 1 (binary), indicators `(..., C)` (multilabel).
        y_pred: scores `(..., C)` (binary: `(...)` or `(..., 1)`).
        sample_weight: optional weights per position. Defaults to `None`.
        **kwargs: `Precision`'s arguments (`task`, `num_classes`, `average`,
            `threshold`, `from_logits`, `labels`, `ignore_class`,
            `zero_division`).

    Returns:
        A float, or a NumPy vector with `average=None`.

    Example:

    ```python
    import numpy as np
    from sklearn.metrics import precision_score as sk_precision
    y_true, y_pred = np.array([0, 1, 2, 2]), np.array([0, 2, 2, 2])
    value = kx.metrics.functional.precision_score(
        y_true, np.eye(3)[y_pred], num_classes=3, average="macro")
    assert np.isclose(value, sk_precision(y_true, y_pred, average="macro"))
    ```
    """
    return one_call(Precision, y_true, y_pred, sample_weight=sample_weight, **kwargs)


def recall_score(y_true, y_pred, *, sample_weight=None, **kwargs):
    """Recall, as `sklearn.metrics.recall_score`: `kx.metrics.Recall` in one call.

    Args:
        y_true: labels, as `precision_score`'s.
        y_pred: scores, as `precision_score`'s.
        sample_weight: optional weights per position. Defaults to `None`.
        **kwargs: `Recall`'s arguments.

    Returns:
        A float, or a NumPy vector with `average=None`.

    Example:

    ```python
    import numpy as np
    y_true, scores = np.array([[1, 0], [1, 1]]), np.array([[0.9, 0.8], [0.2, 0.7]])
    value = kx.metrics.functional.recall_score(
        y_true, scores, task="multilabel", num_classes=2, average="micro")
    assert np.isclose(value, 2 / 3)
    ```
    """
    return one_call(Recall, y_true, y_pred, sample_weight=sample_weight, **kwargs)


def fbeta_score(y_true, y_pred, *, beta, sample_weight=None, **kwargs):
    """F-beta, as `sklearn.metrics.fbeta_score`: `kx.metrics.FBetaScore` in one call.

    Args:
        y_true: labels, as `precision_score`'s.
        y_pred: scores, as `precision_score`'s.
        beta: the weight of recall, >= 0.
        sample_weight: optional weights per position. Defaults to `None`.
        **kwargs: `FBetaScore`'s other arguments.

    Returns:
        A float, or a NumPy vector with `average=None`.

    Example:

    ```python
    import numpy as np
    value = kx.metrics.functional.fbeta_score(
        np.array([1, 1, 0]), np.array([0.9, 0.2, 0.8]), beta=2.0)
    assert np.isclose(value, 5 * 0.5 * 0.5 / (4 * 0.5 + 0.5))
    ```
    """
    return one_call(FBetaScore, y_true, y_pred, sample_weight=sample_weight, beta=beta,
                    **kwargs)


def f1_score(y_true, y_pred, *, sample_weight=None, **kwargs):
    """F1, as `sklearn.metrics.f1_score`: `kx.metrics.F1Score` in one call.

    Args:
        y_true: labels, as `precision_score`'s.
        y_pred: scores, as `precision_score`'s.
        sample_weight: optional weights per position. Defaults to `None`.
        **kwargs: `F1Score`'s arguments.

    Returns:
        A float, or a NumPy vector with `average=None`.

    Example:

    ```python
    import numpy as np
    from sklearn.metrics import f1_score as sk_f1
    y_true, y_pred = np.array([0, 1, 2, 2, 1]), np.array([0, 2, 2, 2, 1])
    value = kx.metrics.functional.f1_score(y_true, np.eye(10)[y_pred],
                                           num_classes=10, average="macro")
    assert np.isclose(value, sk_f1(y_true, y_pred, average="macro"))
    ```
    """
    return one_call(F1Score, y_true, y_pred, sample_weight=sample_weight, **kwargs)


def confusion_matrix(y_true, y_pred, *, sample_weight=None, **kwargs):
    """The confusion matrix, as `sklearn.metrics.confusion_matrix`, in one call.

    Multilabel gives `sklearn.metrics.multilabel_confusion_matrix`'s
    (C, 2, 2) stack.

    Args:
        y_true: labels, as `precision_score`'s.
        y_pred: scores, as `precision_score`'s.
        sample_weight: optional weights per position. Defaults to `None`.
        **kwargs: `ConfusionMatrix`'s arguments (`labels`, `normalize`, ...).

    Returns:
        A NumPy array: (C, C), or (C, 2, 2) for multilabel.

    Example:

    ```python
    import numpy as np
    matrix = kx.metrics.functional.confusion_matrix(
        np.array([0, 1, 1]), np.eye(2)[[0, 0, 1]], num_classes=2)
    assert matrix.tolist() == [[1, 0], [1, 1]]
    ```
    """
    return one_call(ConfusionMatrix, y_true, y_pred, sample_weight=sample_weight, **kwargs)


def matthews_corrcoef(y_true, y_pred, *, sample_weight=None, **kwargs):
    """Matthews correlation, as `sklearn.metrics.matthews_corrcoef`, in one call.

    Args:
        y_true: sparse or one-hot labels (multiclass) or 0 / 1 (binary).
        y_pred: scores `(..., C)` (binary: `(...)` or `(..., 1)`).
        sample_weight: optional weights per position. Defaults to `None`.
        **kwargs: `MatthewsCorrelation`'s arguments.

    Returns:
        A float.

    Example:

    ```python
    import numpy as np
    value = kx.metrics.functional.matthews_corrcoef(
        np.array([1, 1, 0, 0]), np.array([0.9, 0.8, 0.1, 0.2]))
    assert value == 1.0
    ```
    """
    return one_call(MatthewsCorrelation, y_true, y_pred, sample_weight=sample_weight,
                    **kwargs)


def cohen_kappa_score(y_true, y_pred, *, sample_weight=None, **kwargs):
    """Cohen's kappa, as `sklearn.metrics.cohen_kappa_score`, in one call.

    Args:
        y_true: sparse or one-hot labels (multiclass) or 0 / 1 (binary).
        y_pred: scores `(..., C)` (binary: `(...)` or `(..., 1)`).
        sample_weight: optional weights per position. Defaults to `None`.
        **kwargs: `CohenKappa`'s arguments (`weights`, `labels`, ...).

    Returns:
        A float.

    Example:

    ```python
    import numpy as np
    from sklearn.metrics import cohen_kappa_score as sk_kappa
    y_true, y_pred = np.array([0, 1, 2, 2]), np.array([0, 2, 2, 1])
    value = kx.metrics.functional.cohen_kappa_score(
        y_true, np.eye(3)[y_pred], num_classes=3, weights="quadratic")
    assert np.isclose(value, sk_kappa(y_true, y_pred, weights="quadratic"))
    ```
    """
    return one_call(CohenKappa, y_true, y_pred, sample_weight=sample_weight, **kwargs)


def balanced_accuracy_score(y_true, y_pred, *, sample_weight=None, **kwargs):
    """Balanced accuracy, as `sklearn.metrics.balanced_accuracy_score`, in one call.

    Args:
        y_true: sparse or one-hot labels (multiclass) or 0 / 1 (binary).
        y_pred: scores `(..., C)` (binary: `(...)` or `(..., 1)`).
        sample_weight: optional weights per position. Defaults to `None`.
        **kwargs: `BalancedAccuracy`'s arguments (`adjusted`, ...).

    Returns:
        A float.

    Example:

    ```python
    import numpy as np
    value = kx.metrics.functional.balanced_accuracy_score(
        np.array([0, 0, 0, 1]), np.eye(2)[[0, 0, 1, 1]], num_classes=2)
    assert np.isclose(value, (2 / 3 + 1) / 2)
    ```
    """
    return one_call(BalancedAccuracy, y_true, y_pred, sample_weight=sample_weight, **kwargs)


def top_k_accuracy_score(y_true, y_score, *, sample_weight=None, **kwargs):
    """Top-k accuracy, as `sklearn.metrics.top_k_accuracy_score`, in one call.

    Args:
        y_true: sparse `(...)` / `(..., 1)` or one-hot `(..., C)` labels.
        y_score: scores `(..., C)` (probabilities or logits).
        sample_weight: optional weights per position. Defaults to `None`.
        **kwargs: `TopKAccuracy`'s arguments (`k`, defaulting to 5 as the
            class, not to scikit-learn's 2; `ignore_class`).

    Returns:
        A float.

    Example:

    ```python
    import numpy as np
    scores = np.array([[0.5, 0.3, 0.2], [0.1, 0.3, 0.6]])
    value = kx.metrics.functional.top_k_accuracy_score(np.array([1, 0]), scores, k=2)
    assert value == 0.5
    ```
    """
    return one_call(TopKAccuracy, y_true, y_score, sample_weight=sample_weight, **kwargs)
