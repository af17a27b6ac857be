"""scikit-learn's classification report as a streamed metric whose entries reach the logs."""

import numpy as np
from keras import ops

from kerasext.api_export import kerasext_export
from kerasext.metrics import confusion
from kerasext.metrics.confusion import FSCORE, PRECISION, RECALL, ConfusionCounts

STATS = ("precision", "recall", "f1_score", "support")


@kerasext_export
class ClassificationReport(ConfusionCounts):
    """Per-class and averaged precision, recall, F1 and support, as a dict of scalars.

    `result()` is a flat dict that Keras merges into the epoch logs, so
    `CSVLogger`, `TensorBoard`, `EarlyStopping` and `ModelCheckpoint` can use
    any entry. Its keys are `f"{name}_{row}_{stat}"`, where `row` is a class
    (its entry in `target_names`, else its id), `micro_avg` (when `labels`
    leaves classes out, and for multilabel), `macro_avg`, `weighted_avg` or
    `samples_avg` (multilabel), and `stat` is `precision`, `recall`,
    `f1_score` or `support`; binary and multiclass reports over every class
    also hold `f"{name}_accuracy"`. The values equal scikit-learn's
    `classification_report(output_dict=True)` for the classes it lists
    (with `labels=None` scikit-learn lists only the classes present; the
    other rows here hold `zero_division` and support 0, and the averages
    leave them out, as scikit-learn). `to_string()` prints scikit-learn's
    text table and `to_dict()` returns its nested dict.

    Monitor an entry with `mode="max"` (a Keras callback in `mode="auto"`
    only knows the direction of whole metrics, not of dict entries).

    Args:
        task: `"binary"`, `"multiclass"` or `"multilabel"`; `None` means
            `"binary"` when `num_classes` is None, else `"multiclass"`.
            Defaults to `None`.
        num_classes: the number of classes C; None for binary.
            Defaults to `None`.
        threshold: a prediction above it is positive (binary, multilabel).
            Defaults to `0.5`.
        from_logits: whether y_pred holds logits. Defaults to `False`.
        labels: the class ids to report, in this order. Defaults to `None`.
        ignore_class: a label value whose positions are skipped.
            Defaults to `None`.
        zero_division: the score of a 0/0 ratio: `0.0`, `1.0` or `"nan"`.
            Defaults to `0.0`.
        target_names: a name per reported class (used in keys and in the
            table). Defaults to `None` (class ids).
        name: the prefix of every key. Defaults to `"classification_report"`.
        dtype: the dtype of the scores (supports are float64).
            Defaults to `None` (floatx).

    Call arguments:
        y_true: labels in any format `kx.metrics.Precision` accepts.
        y_pred: scores `(..., C)` (binary: `(...)` or `(..., 1)`).
        sample_weight: optional weights per position.

    Returns:
        A dict of scalar tensors.

    Example:

    ```python
    import numpy as np
    report = kx.metrics.ClassificationReport(num_classes=3, name="report")
    report.update_state(np.array([0, 1, 2, 2]), np.eye(3)[[0, 2, 2, 1]])
    logs = {key: float(value) for key, value in report.result().items()}
    assert logs["report_0_precision"] == 1.0 and logs["report_accuracy"] == 0.5
    print(report.to_string())
    ```
    """

    _direction = "up"

    def __init__(self, task=None, num_classes=None, threshold=0.5, from_logits=False,
                 labels=None, ignore_class=None, zero_division=0.0, target_names=None,
                 name="classification_report", dtype=None):
        resolved = task or ("binary" if num_classes is None else "multiclass")
        super().__init__(task=task, num_classes=num_classes, threshold=threshold,
                         from_logits=from_logits, labels=labels, ignore_class=ignore_class,
                         zero_division=zero_division, name=name, dtype=dtype,
                         per_sample=resolved == "multilabel")
        rows = list(self._label_ids or range(self._num_classes))
        if target_names is not None:
            target_names = [str(n) for n in target_names]
            if len(target_names) != len(rows) or len(set(target_names)) != len(rows):
                raise confusion.invalid_argument(
                    "target_names", f"{len(rows)} distinct names (one per reported class)",
                    target_names)
        self.target_names = target_names
        self._rows = rows
        self._row_names = target_names or [str(r) for r in rows]
        self._has_accuracy = resolved != "multilabel" and set(rows) == set(
            range(self._num_classes))
        self._averages = ["macro", "weighted"]
        if not self._has_accuracy:
            self._averages.insert(0, "micro")
        if resolved == "multilabel":
            self._averages.append("samples")

    def _rows_and_averages(self):
        """Per reported class (P, R, F1, support) and {average: (P, R, F1)}, float64.

        The counts are read once; a binary report is a two-class multiclass one
        (scikit-learn's view of 0/1 labels).
        """
        counts = self.counts()
        tp, predicted, actual, _ = counts
        per_class = [self._scores(which, tp, predicted, actual, 1.0)
                     for which in (PRECISION, RECALL, FSCORE)]
        averages = {}
        for average in ("micro", "macro", "weighted", "samples"):
            if average == "samples" and self._task != "multilabel":
                continue
            averages[average] = [
                self.average_scores(which, average, scores, counts)
                for which, scores in zip((PRECISION, RECALL, FSCORE), per_class)]
        return (*per_class, actual), averages

    def result(self):
        (precision, recall, f1, support), averages = self._rows_and_averages()
        logs = {}
        for index, row in enumerate(self._row_names):
            for stat, values in zip(STATS, (precision, recall, f1)):
                logs[f"{self.name}_{row}_{stat}"] = ops.cast(values[index], self.dtype)
            logs[f"{self.name}_{row}_support"] = support[index]
        total = ops.sum(support)
        if self._has_accuracy:
            logs[f"{self.name}_accuracy"] = ops.cast(averages["micro"][0], self.dtype)
        for average in self._averages:
            for stat, value in zip(STATS, averages[average]):
                logs[f"{self.name}_{average}_avg_{stat}"] = ops.cast(value, self.dtype)
            logs[f"{self.name}_{average}_avg_support"] = total
        return logs

    # ------------------------------------------------------------------ scikit-learn's views

    def _table(self):
        """Rows and average rows of scikit-learn's report, as Python floats (eager)."""
        (precision, recall, f1, support), averages = self._rows_and_averages()
        precision, recall, f1, support = (np.asarray(ops.convert_to_numpy(v), dtype="float64")
                                          for v in (precision, recall, f1, support))
        shown = list(range(len(self._rows)))
        micro_is_accuracy = self._has_accuracy
        if self._task != "multilabel":
            _, predicted, actual = self.class_counts()
            present = np.flatnonzero(
                np.asarray(ops.convert_to_numpy(self._presence(predicted, actual)))).tolist()
            if self.labels is None:
                shown = present  # scikit-learn lists the classes it finds in the data
            else:
                micro_is_accuracy = set(self._rows) >= set(present)
        rows = [(self._row_names[i], precision[i], recall[i], f1[i], support[i]) for i in shown]
        total = float(np.sum(support))
        table_averages = []
        for average, values in averages.items():
            heading = "accuracy" if average == "micro" and micro_is_accuracy else f"{average} avg"
            table_averages.append(
                (heading, *(float(ops.convert_to_numpy(v)) for v in values), total))
        return rows, table_averages

    def to_dict(self):
        """The nested dict `sklearn.metrics.classification_report(output_dict=True)` returns."""
        rows, averages = self._table()
        headers = ("precision", "recall", "f1-score", "support")
        report = {name: dict(zip(headers, map(float, values))) for name, *values in rows}
        for heading, *values in averages:
            report[heading] = values[0] if heading == "accuracy" else dict(
                zip(headers, map(float, values)))
        return report

    def to_string(self, digits=2):
        """The text table `sklearn.metrics.classification_report` prints.

        Supports print as integers when they are whole numbers.
        """
        rows, averages = self._table()

        def count(value):
            return str(int(value)) if float(value).is_integer() else str(float(value))

        headers = ("precision", "recall", "f1-score", "support")
        width = max([len(name) for name, *_ in rows] + [len("weighted avg"), digits])
        text = "{:>{width}s} ".format("", width=width) + "".join(f" {h:>9}" for h in headers)
        text += "\n\n"
        row_format = "{:>{width}s} " + " {:>9.{digits}f}" * 3 + " {:>9}\n"
        for name, p, r, f, s in rows:
            text += row_format.format(name, p, r, f, count(s), width=width, digits=digits)
        text += "\n"
        for heading, p, r, f, s in averages:
            if heading == "accuracy":
                text += ("{:>{width}s} " + " {:>9.{digits}}" * 2 + " {:>9.{digits}f} {:>9}\n"
                         ).format(heading, "", "", f, count(s), width=width, digits=digits)
            else:
                text += row_format.format(heading, p, r, f, count(s), width=width, digits=digits)
        return text

    def get_config(self):
        return {**super().get_config(), "zero_division": self.zero_division,
                "target_names": self.target_names}
