"""Random cases and their scikit-learn reference, shared by the metric tests.

A case is drawn with hypothesis (structure: task, shapes, formats, arguments,
batch splits) and NumPy (values, from a drawn seed). The reference is
`sklearn.metrics.precision_recall_fscore_support` on the flattened positions
that the metric must count (ignored and out-of-range labels removed).
"""

import dataclasses

import numpy as np
from hypothesis import strategies as st
from sklearn.metrics import precision_recall_fscore_support

AVERAGES = {
    "binary": ["macro"],  # ignored for binary
    "multiclass": ["micro", "macro", "weighted", None],
    "multilabel": ["micro", "macro", "weighted", "samples", None],
}


@dataclasses.dataclass
class Case:
    task: str
    num_classes: int
    y_true: np.ndarray
    y_pred: np.ndarray
    sample_weight: object
    kwargs: dict
    splits: list
    # Flattened positions for scikit-learn:
    true_flat: np.ndarray
    pred_flat: np.ndarray
    weight_flat: object

    def batches(self):
        bounds = [0, *self.splits, len(self.y_pred)]
        for start, stop in zip(bounds[:-1], bounds[1:]):
            weight = None if self.sample_weight is None else self.sample_weight[start:stop]
            yield self.y_true[start:stop], self.y_pred[start:stop], weight


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x.astype("float64")))


@st.composite
def cases(draw, task):
    """A random case for `task` with every argument the metrics take."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n = draw(st.integers(1, 16))
    steps = draw(st.sampled_from([None, None, 3]))  # a time axis: (n, steps, ...)
    lead = (n,) if steps is None else (n, steps)
    from_logits = draw(st.booleans())
    threshold = draw(st.sampled_from([0.5, 0.5, 0.3, 0.75]))
    kwargs = {"zero_division": draw(st.sampled_from([0.0, 1.0, "nan"])),
              "average": draw(st.sampled_from(AVERAGES[task])), "from_logits": from_logits}
    ignore_class = None

    if task == "binary":
        num_classes = 2
        kwargs["threshold"] = threshold
        labels = rng.integers(0, 2, size=lead) * (rng.random() < 0.9)  # sometimes all 0
        if draw(st.booleans()):
            ignore_class = -1
            labels = np.where(rng.random(lead) < 0.2, -1, labels)
        scores = rng.normal(size=lead).astype("float32") * 2.0
        y_pred = scores if from_logits else _sigmoid(scores).astype("float32")
        probability = _sigmoid(scores) if from_logits else y_pred
        pred = (probability > (np.float32(threshold) if not from_logits else threshold))
        keep = labels != -1
        true_flat, pred_flat = labels[keep].astype(int), pred[keep].astype(int)
        if draw(st.booleans()):
            y_pred = y_pred[..., None]
        y_true = labels[..., None] if draw(st.booleans()) else labels
    elif task == "multiclass":
        num_classes = draw(st.integers(2, 5))
        present = rng.choice(num_classes, size=rng.integers(1, num_classes + 1), replace=False)
        labels = rng.choice(present, size=lead)
        scores = rng.normal(size=(*lead, num_classes)).astype("float32")
        right = rng.random(lead) < 0.5
        scores[right, labels[right]] += 5.0  # a fair share of true positives
        y_pred = scores if from_logits else np.exp(scores) / np.exp(scores).sum(-1, keepdims=True)
        y_pred = y_pred.astype("float32")
        pred = y_pred.argmax(-1)
        fmt = draw(st.sampled_from(["sparse", "sparse1", "onehot"]))
        ignore = draw(st.sampled_from([None, "padding", "class"]))
        keep = np.ones(lead, bool)
        if ignore == "class":
            ignore_class = int(rng.integers(num_classes))
            keep = labels != ignore_class
        elif ignore == "padding" and fmt != "onehot":
            ignore_class = -1
            labels = np.where(rng.random(lead) < 0.2, -1, labels)
            keep = labels != -1
        true_flat, pred_flat = labels[keep], pred[keep]
        if fmt == "onehot":
            y_true = np.eye(num_classes, dtype="float32")[labels]
        else:
            y_true = labels[..., None] if fmt == "sparse1" else labels
        if draw(st.booleans()):
            kwargs["labels"] = [int(c) for c in rng.permutation(num_classes)[
                : rng.integers(1, num_classes + 1)]]
    else:
        num_classes = draw(st.integers(2, 4))
        kwargs["threshold"] = threshold
        y_true = (rng.random((*lead, num_classes)) < rng.random(num_classes)).astype("float32")
        scores = rng.normal(size=(*lead, num_classes)).astype("float32") + 2.0 * (y_true - 0.5)
        y_pred = scores if from_logits else _sigmoid(scores).astype("float32")
        probability = _sigmoid(scores) if from_logits else y_pred
        pred = probability > (np.float32(threshold) if not from_logits else threshold)
        keep = np.ones(lead, bool)
        true_flat = y_true[keep].astype(int)
        pred_flat = pred[keep].astype(int)
        if draw(st.booleans()):
            kwargs["labels"] = [int(c) for c in rng.permutation(num_classes)[
                : rng.integers(1, num_classes + 1)]]
    if ignore_class is not None:
        kwargs["ignore_class"] = ignore_class

    weighting = draw(st.sampled_from([None, "integer", "float"]))
    sample_weight = weight_flat = None
    if weighting is not None:
        if weighting == "integer":
            sample_weight = rng.integers(0, 4, size=n).astype("float32")
        else:
            sample_weight = rng.uniform(0.0, 2.0, size=n).astype("float32")
        full = np.broadcast_to(sample_weight.reshape((n,) + (1,) * (len(lead) - 1)), lead)
        weight_flat = full[keep].astype("float64")
        if weight_flat.size and not weight_flat.any():  # scikit-learn refuses all-zero weights
            sample_weight[np.flatnonzero(keep.reshape(n, -1).any(axis=1))[0]] = 1.0
            full = np.broadcast_to(sample_weight.reshape((n,) + (1,) * (len(lead) - 1)), lead)
            weight_flat = full[keep].astype("float64")
    cuts = sorted(draw(st.lists(st.integers(0, n), max_size=2)))
    return Case(task, num_classes, y_true, y_pred, sample_weight, kwargs, cuts,
                true_flat, pred_flat, weight_flat)


def reference(case, beta=1.0, average="__case__", labels="__case__"):
    """(precision, recall, F-beta) from scikit-learn for the case's arguments."""
    average = case.kwargs["average"] if average == "__case__" else average
    labels = case.kwargs.get("labels") if labels == "__case__" else labels
    zero_division = np.nan if case.kwargs["zero_division"] == "nan" else case.kwargs[
        "zero_division"]
    if case.task == "binary":
        average, labels = "binary", None
    elif average is None and labels is None:
        labels = list(range(case.num_classes))  # ours reports every class id
    precision, recall, fscore, _ = precision_recall_fscore_support(
        case.true_flat, case.pred_flat, beta=beta, average=average, labels=labels,
        sample_weight=case.weight_flat, zero_division=zero_division,
    )
    return precision, recall, fscore
