"""Precision, recall and F-beta: thin views of the confusion-count core."""

import math

from kerasext.api_export import kerasext_export
from kerasext.metrics import confusion
from kerasext.metrics._fast import ops
from kerasext.metrics.confusion import FSCORE, PRECISION, RECALL, ConfusionCounts

_SHARED_ARGS = """
    Args:
        task: `"binary"`, `"multiclass"` or `"multilabel"`. `None` means
            `"binary"` when `num_classes` is None, else `"multiclass"`.
            Defaults to `None`.
        num_classes: the number of classes C (multiclass, multilabel); None
            for binary. Defaults to `None`.
        average: `"micro"`, `"macro"`, `"weighted"`, `"samples"` (multilabel)
            or None for the per-class vector, as scikit-learn's `average`.
            Ignored for binary, which scores the positive class 1. With
            `labels=None` a multiclass average runs over the classes present
            in y_true or y_pred, as scikit-learn infers them. Defaults to
            `"macro"`.
        threshold: a prediction above it is positive (binary, multilabel).
            Defaults to `0.5`.
        from_logits: whether y_pred holds logits (binary and multilabel
            compare them with logit(threshold); an argmax needs no softmax).
            Defaults to `False`.
        labels: the class ids to average over (and their order with
            `average=None`), as scikit-learn's `labels`. Defaults to `None`.
        ignore_class: a label value whose positions are skipped (e.g. a
            padding id); any other label outside `[0, C)` (binary: other
            than 0 / 1) raises, as does a NaN score. Defaults to `None`.
        zero_division: the score of a 0/0 ratio: `0.0`, `1.0` or `"nan"`
            (such classes or samples are left out of the averages, as
            scikit-learn >= 1.3). Defaults to `0.0`.
        name: the metric's name. Defaults to `None`: the class's own
            (`"precision"`, `"recall"`, `"fbeta_score"`, `"f1_score"`).
        dtype: the dtype of the result (the counts are exact whatever it
            is; see `exact_counts()`).
            Defaults to `None` (floatx).

    Call arguments:
        y_true: sparse labels `(...)` / `(..., 1)` or one-hot `(..., C)`
            (multiclass), `(...)` / `(..., 1)` (binary), or indicators
            `(..., C)` (multilabel); any leading rank.
        y_pred: scores `(..., C)`, or `(...)` / `(..., 1)` for binary.
        sample_weight: optional weights per position (leading shape of
            y_pred). A Keras mask on y_pred skips masked positions.
"""


class _Score(ConfusionCounts):
    """The constructor, `result()` and config shared by Precision, Recall, F-beta and F1."""

    higher_is_better = True
    _which = None
    _config_args = (*ConfusionCounts._config_args, "average", "zero_division")

    def __init__(self, task=None, num_classes=None, average="macro", threshold=0.5,
                 from_logits=False, labels=None, ignore_class=None, zero_division=0.0,
                 name=None, dtype=None):
        resolved = confusion.resolve_task(task, num_classes)
        confusion.check_average(average, resolved)
        super().__init__(
            task=task, num_classes=num_classes, threshold=threshold, from_logits=from_logits,
            labels=labels, ignore_class=ignore_class, zero_division=zero_division, name=name,
            dtype=dtype, per_sample=resolved == "multilabel" and average == "samples",
        )
        self.average = average

    def result(self):
        score = self.compute_score(self._which, self.average, beta=self._beta)
        return ops.cast(score, self.dtype)


@kerasext_export
class Precision(_Score):
    __doc__ = """Precision tp / (tp + fp), equal to scikit-learn's for every label format.

    Unlike `keras.metrics.Precision`, a multiclass y_pred is argmaxed (not
    thresholded element by element), counts are exact (a perfect score is
    1.0) and every scikit-learn average is available.
""" + _SHARED_ARGS + """
    Returns:
        A scalar, or a vector over the classes (`labels`) with `average=None`.

    Example:

    ```python
    import numpy as np
    metric = kx.metrics.Precision(num_classes=3, average="macro")
    metric.update_state(np.array([0, 1, 2, 2]), np.eye(3)[[0, 2, 2, 2]])
    assert np.isclose(float(metric.result()), (1 + 0 + 2 / 3) / 3)
    ```
    """

    _which = PRECISION
    _default_name = "precision"


@kerasext_export
class Recall(_Score):
    __doc__ = """Recall tp / (tp + fn), equal to scikit-learn's for every label format.
""" + _SHARED_ARGS + """
    Returns:
        A scalar, or a vector over the classes (`labels`) with `average=None`.

    Example:

    ```python
    import numpy as np
    metric = kx.metrics.Recall(num_classes=3, average="micro")
    metric.update_state(np.array([[0], [1], [2], [2]]), np.eye(3)[[0, 2, 2, 2]])
    assert float(metric.result()) == 0.75
    ```
    """

    _which = RECALL
    _default_name = "recall"


@kerasext_export
class FBetaScore(_Score):
    __doc__ = """F-beta score (1 + b^2) tp / ((1 + b^2) tp + b^2 fn + fp), as scikit-learn's.

    `beta` > 1 favours recall, < 1 precision; `beta=0` is precision. The
    score is computed from the counts (not from rounded precision and
    recall), so a perfect prediction scores exactly 1.0.
""" + _SHARED_ARGS.replace(
        "        average:", "        beta: the weight of recall, >= 0. Defaults to `1.0`.\n"
        "        average:", 1) + """
    Returns:
        A scalar, or a vector over the classes (`labels`) with `average=None`.

    Example:

    ```python
    import numpy as np
    metric = kx.metrics.FBetaScore(beta=2.0, task="multilabel", num_classes=2,
                                   average="samples")
    metric.update_state(np.array([[1, 1], [0, 1]]), np.array([[0.9, 0.2], [0.1, 0.7]]))
    assert np.isclose(float(metric.result()), (5 * 1 / (5 + 4 * 1) + 1.0) / 2)
    ```

    Reference:
        van Rijsbergen, *Information Retrieval*, 2nd ed., 1979, chapter 7.
    """

    _which = FSCORE
    _default_name = "fbeta_score"
    _config_args = (*_Score._config_args, "beta")

    def __init__(self, beta=1.0, task=None, num_classes=None, average="macro", threshold=0.5,
                 from_logits=False, labels=None, ignore_class=None, zero_division=0.0,
                 name=None, dtype=None):
        if (not isinstance(beta, (int, float)) or isinstance(beta, bool) or not math.isfinite(beta)
                or beta < 0):
            raise confusion.invalid_argument("beta", "a finite float >= 0", beta)
        super().__init__(task, num_classes, average, threshold, from_logits, labels,
                         ignore_class, zero_division, name, dtype)
        self.beta = beta
        self._beta = float(beta)  # what the views and the per-sample update read


@kerasext_export
class F1Score(_Score):
    __doc__ = """F1 score 2 tp / (2 tp + fn + fp), the harmonic mean of precision and recall.

    Unlike `keras.metrics.F1Score`, sparse labels `(N, 1)` are read as class
    ids (not broadcast), there is no epsilon (a perfect score is 1.0), a class
    absent from y_true and y_pred is left out of the macro average (as
    scikit-learn), and the default average is `"macro"`.
""" + _SHARED_ARGS + """
    Returns:
        A scalar, or a vector over the classes (`labels`) with `average=None`.

    Example:

    ```python
    import numpy as np
    metric = kx.metrics.F1Score(num_classes=4)
    metric.update_state(np.array([[0], [1], [1]]), np.eye(4)[[0, 1, 1]])
    assert float(metric.result()) == 1.0  # classes 2 and 3 never occur
    ```

    Reference:
        van Rijsbergen, *Information Retrieval*, 2nd ed., 1979, chapter 7.
    """

    _which = FSCORE
    _default_name = "f1_score"
