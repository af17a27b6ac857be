"""scikit-learn's classification report as a streamed metric whose entries reach the logs."""

import inspect

import keras
import numpy as np

from kerasext.api_export import kerasext_export
from kerasext.metrics import _eager, confusion
from kerasext.metrics._fast import ops
from kerasext.metrics.confusion import FSCORE, HOST, PRECISION, RECALL, ConfusionCounts

STATS = ("precision", "recall", "f1_score", "support")

#: When the per-class entries are computed: in every step's logs, or only at each epoch's end.
PER_CLASS = ("every_step", "epoch_end")

#: How many callers up `update_state` looks for the per-output metric list that calls it.
_CALLER_DEPTH = 4


def _compiled_output_name(metric):
    """The model output `metric` is compiled for, or None (a single output, or no model).

    Keras names a scalar metric of output "digit" `digit_{name}`, but merges a
    dict result into the logs as it is, so two reports on two outputs would
    write the same keys. Keras' per-output metric list (the object that calls
    `update_state`) holds `output_name` and the metric in `metrics`; it is
    found among the callers, by those two public attributes.
    """
    frame = inspect.currentframe()
    try:
        frame = frame.f_back.f_back  # past this function and `update_state`
        for _ in range(_CALLER_DEPTH):
            if frame is None:
                return None
            owner = frame.f_locals.get("self")
            members = getattr(owner, "metrics", None) if hasattr(owner, "output_name") else None
            if isinstance(members, (list, tuple)) and any(m is metric for m in members):
                name = owner.output_name
                return name if isinstance(name, str) and name else None
            frame = frame.f_back
        return None
    finally:
        del frame


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
    also hold `f"{name}_accuracy"`. In a model with several outputs, every
    key starts with the output's name, as Keras names the metrics of each
    output (`f"{output}_{name}_{row}_{stat}"`, e.g.
    `digit_classification_report_macro_avg_f1_score`). The values equal scikit-learn's
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
        ignore_class: a label value whose positions are skipped; any other
            label outside `[0, C)` (binary: other than 0 / 1) raises.
            Defaults to `None`.
        zero_division: the score of a 0/0 ratio: `0.0`, `1.0` or `"nan"`.
            Defaults to `0.0`.
        target_names: a name per reported class (used in keys and in the
            table). Defaults to `None` (class ids).
        name: the prefix of every key. Defaults to `"classification_report"`.
        dtype: the dtype of the scores (supports are float64 where the
            backend has it, else float32; `to_dict()` is exact).
            Defaults to `None` (floatx).
        per_class: `"every_step"`: `result()` holds every entry, in every
            step's logs; `"epoch_end"`: `result()` holds only
            `f"{name}_accuracy"` (binary, multiclass) and
            `f"{name}_macro_avg_f1_score"`, and the callback `callback()`
            returns, passed to `fit`, writes every entry (training, and
            validation under `val_`) into the logs at each epoch's end. Keras
            pays for each log entry in every step, so `"epoch_end"` costs
            about as much as one `F1Score`. Defaults to `"every_step"`.

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

    Every entry at each epoch's end only, for a fraction of the cost in `fit`:

    ```python
    import keras
    import numpy as np
    x = np.random.default_rng(0).normal(size=(64, 4)).astype("float32")
    y = (x[:, 0] > 0).astype("int32")
    report = kx.metrics.ClassificationReport(num_classes=2, name="report",
                                             per_class="epoch_end")
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
    model.compile(loss="sparse_categorical_crossentropy", metrics=[report])
    history = model.fit(x, y, validation_split=0.25, epochs=2, verbose=0,
                        callbacks=[report.callback()])
    assert "val_report_1_recall" in history.history
    ```
    """

    higher_is_better = True

    def __init__(self, task=None, num_classes=None, threshold=0.5, from_logits=False,
                 labels=None, ignore_class=None, zero_division=0.0, target_names=None,
                 name="classification_report", dtype=None, per_class="every_step"):
        if per_class not in PER_CLASS:
            raise confusion.invalid_argument("per_class", "one of {'every_step', 'epoch_end'}",
                                             per_class)
        resolved = confusion.resolve_task(task, num_classes)
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
        self.per_class_mode = per_class  # `per_class` is the core's count variable
        self._rows = rows
        self._row_names = target_names or [str(r) for r in rows]
        # The model output this report is compiled for (`update_state` finds it), or None.
        self._output_name = None
        self._has_accuracy = resolved != "multilabel" and set(rows) == set(
            range(self._num_classes))
        self._averages = ["macro", "weighted"]
        if not self._has_accuracy:
            self._averages.insert(0, "micro")
        if resolved == "multilabel":
            self._averages.append("samples")

    def update_state(self, y_true, y_pred, sample_weight=None):
        self._output_name = _compiled_output_name(self)
        super().update_state(y_true, y_pred, sample_weight=sample_weight)

    def _rows_and_averages(self, xp=ops):
        """Per reported class (P, R, F1), the `Counts`, their totals, {average: (P, R, F1)}.

        The counts are read once; a binary report is a two-class multiclass one
        (scikit-learn's view of 0/1 labels). With `xp=HOST`, exact float64 NumPy.
        """
        counts = self.counts(xp)
        per_class = [self._scores(which, counts.tp, counts.predicted, counts.actual, 1.0, xp)
                     for which in (PRECISION, RECALL, FSCORE)]
        totals = self.totals(counts, xp)
        averages = {"micro": [self._scores(which, *totals, 1.0, xp)
                              for which in (PRECISION, RECALL, FSCORE)]}
        for average in ("macro", "weighted", "samples"):
            if average == "samples" and self._task != "multilabel":
                continue
            averages[average] = [
                self.average_scores(which, average, scores, counts, xp=xp)
                for which, scores in zip((PRECISION, RECALL, FSCORE), per_class)]
        return per_class, counts, totals, averages

    def _prefix(self):
        return self.name if self._output_name is None else f"{self._output_name}_{self.name}"

    def _entries(self, xp=ops):
        """Every entry of the report, {key: value}, in `result()`'s order.

        The per-class scores, the supports and the averages are computed as
        three vectors and split once each (`unstack`), so that the graph holds
        a few ops per report, not a few per entry. With `xp=HOST`, Python
        floats computed in float64 from the exact counts.
        """
        (precision, recall, f1), counts, totals, averages = self._rows_and_averages(xp)
        if xp is HOST:
            def split(values, _dtype=None):
                return [float(v) for v in np.reshape(values, (-1,))]
        else:
            def split(values, dtype=None):
                values = ops.reshape(values, (-1,))
                return list(ops.unstack(values if dtype is None else ops.cast(values, dtype)))
        # Supports are counts: exact where the view dtype is float64, not cast to `dtype`.
        scores = split(xp.stack([precision, recall, f1], axis=1), self.dtype)
        supports = split(xp.concatenate([counts.actual, xp.reshape(totals[2], (1,))]))
        rows = [averages["micro"][0]] if self._has_accuracy else []
        rows += [value for average in self._averages for value in averages[average]]
        average_values = split(xp.stack(rows), self.dtype)
        prefix = self._prefix()
        logs = {}
        for index, row in enumerate(self._row_names):
            for offset, stat in enumerate(STATS[:3]):
                logs[f"{prefix}_{row}_{stat}"] = scores[3 * index + offset]
            logs[f"{prefix}_{row}_support"] = supports[index]
        if self._has_accuracy:
            logs[f"{prefix}_accuracy"] = average_values.pop(0)
        for number, average in enumerate(self._averages):
            for offset, stat in enumerate(STATS[:3]):
                logs[f"{prefix}_{average}_avg_{stat}"] = average_values[3 * number + offset]
            logs[f"{prefix}_{average}_avg_support"] = supports[-1]
        return logs

    def _summary(self, xp=ops):
        """The entries of every step with `per_class="epoch_end"`: accuracy and macro F1."""
        counts = self.counts(xp)
        f1 = self._scores(FSCORE, counts.tp, counts.predicted, counts.actual, 1.0, xp)
        prefix = self._prefix()
        logs = {}
        if self._has_accuracy:
            logs[f"{prefix}_accuracy"] = self._scores(PRECISION, *self.totals(counts, xp), 1.0,
                                                      xp)
        logs[f"{prefix}_macro_avg_f1_score"] = self.average_scores(FSCORE, "macro", f1, counts,
                                                                   xp=xp)
        if xp is HOST:
            return logs
        return {key: ops.cast(value, self.dtype) for key, value in logs.items()}

    def _outside_trace(self):
        """Whether `result()` runs op by op (no graph, no jit trace, no torch.compile)."""
        backend = keras.backend.backend()
        if backend == "tensorflow":
            import tensorflow as tf

            return tf.executing_eagerly()
        if backend == "jax":
            return _eager.jax_eager([ops.convert_to_tensor(v) for v in self.variables])
        if backend == "torch":
            import torch

            return not torch.compiler.is_compiling()
        return False

    def result(self):
        view = self._summary if self.per_class_mode == "epoch_end" else self._entries
        if not self._outside_trace() or (self.per_class_mode == "epoch_end"
                                         and keras.backend.backend() == "torch"):
            # torch runs every step op by op: there the two-entry summary costs less on device
            # (~100 us against ~120 on the host, on a CPU) and reads nothing back from a GPU.
            return view()
        # Op by op (Keras' epoch-end logs, a result read by hand), the views dispatch dozens of
        # small device ops; on the host, from the exact counts, they cost a fraction of that.
        with np.errstate(divide="ignore", invalid="ignore"):
            logs = view(HOST)
        return {key: ops.convert_to_tensor(np.asarray(value, dtype=key_dtype), key_dtype)
                for key, value in logs.items()
                for key_dtype in [self._view_dtype if key.endswith("_support")
                                  else self.dtype]}

    def full_logs(self):
        """Every entry of the report, as Python floats (eager; host float64, exact counts).

        The dict `result()` returns with `per_class="every_step"`, whatever
        `per_class` is: it is what `callback()` writes into the epoch logs.
        """
        with np.errstate(divide="ignore", invalid="ignore"):
            return self._entries(HOST)

    def callback(self):
        """The callback that writes every entry into the epoch logs, at each epoch's end.

        For a report with `per_class="epoch_end"` (whose steps log only the
        accuracy and the macro F1): pass it to `fit` with the other callbacks.
        At each epoch's end it adds `full_logs()` of the training data, and of
        the validation data under `val_`, to the logs before any other
        callback reads them: it moves itself to the front of Keras'
        `CallbackList`, so `CSVLogger`, `TensorBoard`, `EarlyStopping`,
        `ModelCheckpoint` and `History` see the entries wherever it is listed.

        Returns:
            A `keras.callbacks.Callback` bound to this report.
        """
        return _PerClassLogs(self)

    # ------------------------------------------------------------------ scikit-learn's views

    def _table(self):
        """Rows and average rows of scikit-learn's report, as Python floats (eager, exact)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            (precision, recall, f1), counts, _, averages = self._rows_and_averages(HOST)
        support = counts.actual
        shown = list(range(len(self._rows)))
        micro_is_accuracy = self._has_accuracy
        if self._task != "multilabel":
            _, predicted, actual = self.class_counts(HOST)
            present = np.flatnonzero(self._presence(predicted, actual, HOST)).tolist()
            if self.labels is None:
                shown = present  # scikit-learn lists the classes it finds in the data
            else:
                micro_is_accuracy = set(self._rows) >= set(present)
        rows = [(self._row_names[i], precision[i], recall[i], f1[i], support[i]) for i in shown]
        total = float(np.sum(support))
        table_averages = [
            ("accuracy" if average == "micro" and micro_is_accuracy else f"{average} avg",
             *(float(v) for v in values), total)
            for average, values in averages.items()]
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
                "target_names": self.target_names, "per_class": self.per_class_mode}


def _move_to_front(callback):
    """Moves `callback` to the front of the Keras `CallbackList` that is calling it, if any.

    Called from a hook that `CallbackList` runs in a loop over its callbacks
    (`set_model`, `on_train_begin`): moving the current item from index i to
    0 shifts only items the loop has already visited, so none is skipped or
    run twice.
    """
    frame = inspect.currentframe()
    try:
        for _ in range(_CALLER_DEPTH):
            frame = frame.f_back
            if frame is None:
                return False
            owner = frame.f_locals.get("self")
            if isinstance(owner, keras.callbacks.CallbackList):
                members = owner.callbacks
                for index, member in enumerate(members):
                    if member is callback:
                        if index:
                            members.insert(0, members.pop(index))
                        return True
                return False
        return False
    finally:
        del frame


class _PerClassLogs(keras.callbacks.Callback):
    """Writes a `ClassificationReport`'s `full_logs()` into the logs at each epoch's end.

    `fit` runs validation (`evaluate`, which resets the metrics) before the
    epoch-end callbacks, so the training entries are read when validation
    begins, and the validation ones when it ends.
    """

    def __init__(self, report):
        super().__init__()
        if not isinstance(report, ClassificationReport):
            raise confusion.invalid_argument("report", "a kx.metrics.ClassificationReport",
                                             report)
        self.report = report
        self._in_epoch = False
        self._train_logs = None
        self._val_logs = None

    def set_model(self, model):
        super().set_model(model)
        _move_to_front(self)

    def on_train_begin(self, logs=None):
        _move_to_front(self)

    def on_epoch_begin(self, epoch, logs=None):
        self._in_epoch = True
        self._train_logs = self._val_logs = None

    def on_test_begin(self, logs=None):
        if self._in_epoch and self._train_logs is None:
            self._train_logs = self.report.full_logs()

    def on_test_end(self, logs=None):
        if self._in_epoch:
            self._val_logs = self.report.full_logs()

    def on_epoch_end(self, epoch, logs=None):
        self._in_epoch = False
        if logs is None:
            return
        logs.update(self._train_logs if self._train_logs is not None
                    else self.report.full_logs())
        if self._val_logs is not None:
            logs.update({f"val_{key}": value for key, value in self._val_logs.items()})
        self._train_logs = self._val_logs = None
