"""Matplotlib figures for training histories, confusion matrices, tuner trials and CV folds.

Each function returns a `matplotlib.figure.Figure` (save it with
`fig.savefig("name.png")`). This module reads results only: it imports no
other part of kerasext, and reads callbacks, tuners and cross-validation
results by their attributes. matplotlib is an optional dependency
(`pip install "kerasext[plot]"`).
"""

import math

import numpy as np

__all__ = [
    "plot_history",
    "plot_confusion_matrix",
    "plot_trials",
    "plot_cross_validation",
]


def _figure(layout="constrained", **kwargs):
    """A new `matplotlib.figure.Figure`, outside pyplot.

    pyplot is left alone: its global backend stays what the user chose (a
    notebook's inline display keeps working), and it keeps no reference to
    our figures (a loop drawing many never fills pyplot's figure list).
    """
    try:
        from matplotlib.figure import Figure
    except ImportError as error:
        raise ImportError(
            "kerasext.plot needs matplotlib, which is not installed. Install the `plot` extra: "
            '`pip install "kerasext[plot]"` (or `pip install matplotlib`).'
        ) from error
    return Figure(layout=layout, **kwargs)


def _to_numpy(value, dtype="float64"):
    """A NumPy array from a list, an array, or a backend tensor (on any device)."""
    if not isinstance(value, (np.ndarray, np.generic, float, int, list, tuple)) and hasattr(
        value, "shape"
    ):
        # A TensorFlow / JAX / torch tensor or a Keras variable: torch's on a GPU refuses
        # np.asarray, Keras' conversion copies it to the host first.
        import keras

        value = keras.ops.convert_to_numpy(value)
    return np.asarray(value, dtype=dtype)


def _history_dict(history):
    """Accepts a keras History, its `.history` dict, or a dict of lists."""
    logs = getattr(history, "history", history)
    if not isinstance(logs, dict):
        raise TypeError(
            "Expected a keras.callbacks.History or a dict of per-epoch lists. "
            f"Received: history of type {type(history).__name__}"
        )
    scalar_logs = {}
    for key, values in logs.items():
        values = [_to_numpy(v) for v in values]
        # Per-class vectors (a metric with average=None) are not curves: leave them out.
        if all(v.size == 1 for v in values):
            scalar_logs[key] = [float(v.reshape(())) for v in values]
    return scalar_logs


# Quantities the epoch logs hold that are no metric's training / validation pair:
# (what it is, axis label, legend label).
_DERIVED_LOGS = {
    "overfit_gl": ("generalization loss", "GL (%)", "GL: % above the lowest val. error"),
    "overfit_pq": ("generalization loss / training progress", "PQ", "PQ at the latest strip end"),
    "overfit_up": ("strips with rising val. error", "UP (strips)", "UP at the latest strip end"),
    "overfit_gap": ("generalization gap", "val. error - training error", "gap"),
    "learning_rate": ("learning rate", "learning rate", "learning rate"),
    "lr": ("learning rate", "learning rate", "learning rate"),
}
_EPOCH_LABEL = "epoch (0 = first, as History.epoch)"
_REPORT_AVERAGES = ("macro", "weighted", "micro", "samples")
_REPORT_KEPT = ("accuracy", "macro_avg_f1_score")


def _report_prefixes(names):
    """Names of the classification reports whose per-row entries fill the logs."""
    prefixes = set()
    for name in names:
        for average in _REPORT_AVERAGES:
            suffix = f"_{average}_avg_support"
            if name.endswith(suffix):
                prefixes.add(name[: -len(suffix)])
    return prefixes


def _default_metrics(logs):
    """The loss first, then the compiled metrics; breakdowns and derived logs left out.

    Left out: the detector's `overfit_*` entries and the learning rate (derived
    from training, drawn when asked for), supports (counts, not curves) and, of a
    classification report, every row but its accuracy and macro F1.
    """
    names = []
    for key in logs:
        name = key.removeprefix("val_")
        if name not in names:
            names.append(name)
    reports = _report_prefixes(names)
    kept_report_rows = {f"{prefix}_{row}" for prefix in reports for row in _REPORT_KEPT}

    def main(name):
        if name in _DERIVED_LOGS or name.startswith("overfit_") or name.endswith("_support"):
            return False
        if any(name.startswith(f"{prefix}_") for prefix in reports):
            return name in kept_report_rows
        return True

    chosen = [name for name in names if main(name)]
    # Keras sorts the logs by name (`accuracy` before `loss`): the loss leads.
    return sorted(chosen, key=lambda name: name != "loss")


def _find_callback(callbacks, attribute):
    """The first callback with a non-negative `attribute`, and that value."""
    for callback in callbacks or ():
        value = getattr(callback, attribute, None)
        if value is not None and value >= 0:
            return callback, int(value)
    return None, None


def _integer_epochs(axis):
    from matplotlib.ticker import MaxNLocator

    axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    axis.set_xlabel(_EPOCH_LABEL)


def _grid_shape(count, columns):
    """Rows and columns of a grid of `count` panels, at most `columns` wide, rows balanced."""
    rows = math.ceil(count / columns)
    return rows, math.ceil(count / rows)


def plot_history(
    history,
    *,
    metrics=None,
    best_epoch=None,
    onset_epoch=None,
    callbacks=None,
    title=None,
    columns=3,
):
    """Plots training and validation curves, marking the best epoch and overfitting onset.

    One panel per quantity, in a grid at most `columns` panels wide: each
    training metric `m` is drawn with its validation curve `val_m` when the
    logs have one; a derived log (`overfit_gl` and the other entries of
    `kerasext.callbacks.OverfitDetector`, `learning_rate`) is drawn and
    labelled as what it is. Epochs are 0-based on the x axis, as Keras'
    `History.epoch`, `kerasext.callbacks.EarlyStopping.best_epoch` and
    `kerasext.callbacks.OverfitDetector.onset_epoch` number them.

    Args:
        history: a `keras.callbacks.History` (what `fit` returns), or its
            `.history` dict of per-epoch lists.
        metrics: the quantities to draw (names without `val_`), in panel
            order. Defaults to `None`: the loss first, then each compiled
            metric; left out are `overfit_*` entries, the learning rate,
            supports and, of a `kerasext.metrics.ClassificationReport`,
            every entry but its accuracy and macro F1.
        best_epoch: 0-based epoch to mark as the best. Defaults to `None`:
            read from the `best_epoch` attribute of `callbacks`.
        onset_epoch: 0-based epoch where overfitting began. Defaults to `None`:
            read from the `onset_epoch` attribute of `callbacks`.
        callbacks: callbacks used in the fit, read for `best_epoch` and
            `onset_epoch` (and the detector's `criterion`). Defaults to `None`.
        title: figure title. Defaults to `None` (no title).
        columns: most panels in a row. Defaults to `3`.

    Returns:
        A `matplotlib.figure.Figure`.

    Example:

    ```python
    import keras
    import numpy as np
    import kerasext as kx

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    x, y = np.random.rand(32, 3), np.random.rand(32, 1)
    history = model.fit(x, y, validation_split=0.25, epochs=3, verbose=0)
    fig = kx.plot.plot_history(history, best_epoch=1, title="regression")
    fig.savefig("history.png")
    ```
    """
    logs = _history_dict(history)
    if metrics is None:
        metrics = _default_metrics(logs)
    elif isinstance(metrics, str):
        metrics = [metrics]
    missing = [m for m in metrics if m not in logs and f"val_{m}" not in logs]
    if missing or not metrics:
        raise ValueError(
            f"plot_history: no scalar logs for {missing} (per-class vectors are not drawn). "
            f"Available keys: {sorted(logs)}"
        )
    if not isinstance(columns, int) or isinstance(columns, bool) or columns < 1:
        raise ValueError(
            "Invalid `columns` argument value. Expected a positive integer. "
            f"Received: columns={columns!r}"
        )
    detector, found_onset = _find_callback(callbacks, "onset_epoch")
    if best_epoch is None:
        best_epoch = _find_callback(callbacks, "best_epoch")[1]
    if onset_epoch is None:
        onset_epoch = found_onset
    criterion = getattr(detector, "criterion", None)
    onset_label = (f"{criterion.upper()} criterion fired" if isinstance(criterion, str)
                   else "overfitting onset")

    rows, cols = _grid_shape(len(metrics), columns)
    fig = _figure(figsize=(4.6 * cols, 3.4 * rows + (0.4 if title else 0.0)))
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for axis in axes[len(metrics):]:
        axis.remove()
    for axis, metric in zip(axes, metrics):
        derived = _DERIVED_LOGS.get(metric)
        pairs = ((metric, derived[2] if derived else "training"), (f"val_{metric}", "validation"))
        for key, label in pairs:
            if key in logs:
                values = logs[key]
                # With validation_freq > 1 Keras logs fewer validation values: spread them out.
                epochs = np.linspace(0, len(logs.get(metric, values)) - 1, num=len(values))
                axis.plot(epochs, values, marker="." if len(values) < 40 else None, label=label)
        if best_epoch is not None:
            axis.axvline(best_epoch, color="tab:green", linestyle="--",
                         label=f"best epoch ({best_epoch})")
        if onset_epoch is not None:
            axis.axvline(onset_epoch, color="tab:red", linestyle=":",
                         label=f"{onset_label} ({onset_epoch})")
        _integer_epochs(axis)
        axis.set_ylabel(derived[1] if derived else metric)
        axis.set_title(f"{metric}: {derived[0]}" if derived else metric)
        axis.grid(alpha=0.3)
        axis.legend(fontsize="small")
    if title:
        fig.suptitle(title)
    return fig


_NORMALIZE = {
    "true": ("fraction of the true class (row)", 1),
    "pred": ("fraction of the predicted class (column)", 0),
    "all": ("fraction of all samples", None),
}


def _normalization(matrix, normalize):
    """Mode of `normalize` given, or what a matrix of rates was divided by, else None."""
    if normalize is True:
        return "true"
    if normalize in _NORMALIZE:
        return normalize
    if normalize not in (False, None):
        raise ValueError(
            "Invalid `normalize` argument value. Expected one of "
            f"{{False, True, None, 'true', 'pred', 'all'}}. Received: normalize={normalize!r}"
        )
    if matrix.size == 0 or np.all(matrix == np.round(matrix)):
        return None
    for mode, (_, axis) in _NORMALIZE.items():
        sums = matrix.sum(axis=axis)
        if np.allclose(sums[sums > 0] if np.ndim(sums) else sums, 1.0, atol=1e-4):
            return mode
    return "other"


def plot_confusion_matrix(matrix, *, class_names=None, normalize=False, title=None):
    """Draws a confusion matrix (rows: true class, columns: predicted class).

    Cells print whole numbers for counts and two decimals for rates; the
    colorbar says which. A matrix that is already normalized (e.g. from
    `kerasext.metrics.ConfusionMatrix(normalize="true")`) is recognized by
    its sums and labelled as such.

    Args:
        matrix: a (C, C) array of counts (or rates), e.g. the result of
            `kerasext.metrics.ConfusionMatrix` or
            `sklearn.metrics.confusion_matrix`.
        class_names: C labels for the axes. Defaults to `None`: 0 .. C-1.
        normalize: divide the counts, as scikit-learn's `normalize`:
            `"true"` (or `True`) by each row's total (cells read as the
            recall of each true class), `"pred"` by each column's total
            (precision of each predicted class), `"all"` by the grand total.
            Defaults to `False` (the matrix as given).
        title: axes title. Defaults to `None`: "Confusion matrix".

    Returns:
        A `matplotlib.figure.Figure`.

    Example:

    ```python
    import numpy as np
    import kerasext as kx

    fig = kx.plot.plot_confusion_matrix(np.array([[5, 1], [2, 7]]), class_names=["no", "yes"])
    fig.savefig("confusion.png")
    ```
    """
    matrix = _to_numpy(matrix)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
        raise ValueError(
            f"plot_confusion_matrix expects a square (C, C) matrix. Received: shape {matrix.shape}"
        )
    num_classes = matrix.shape[0]
    class_names = list(class_names) if class_names is not None else list(range(num_classes))
    if len(class_names) != num_classes:
        raise ValueError(
            f"class_names has {len(class_names)} entries for a {num_classes}x{num_classes} matrix"
        )
    mode = _normalization(matrix, normalize)
    shown = matrix
    if normalize not in (False, None):
        axis_sum = _NORMALIZE[mode][1]
        totals = matrix.sum(axis=axis_sum, keepdims=True) if axis_sum is not None \
            else matrix.sum(keepdims=True)
        shown = np.divide(matrix, totals, out=np.zeros_like(matrix), where=totals > 0)
    if mode is None:
        bar_label, texts = "count", [[f"{v:.0f}" for v in row] for row in shown]
    else:
        bar_label = _NORMALIZE[mode][0] if mode in _NORMALIZE else "value"
        texts = [[f"{v:.2f}" for v in row] for row in shown]

    # Square cells whatever the class count; the colorbar takes a fixed strip on the right.
    side = max(3.2, 0.5 * num_classes + 1.6)
    # "compressed" fits the colorbar to the square image, so it never reaches the title.
    fig = _figure(layout="compressed", figsize=(side + 1.6, side + 0.9))
    axis = fig.subplots()
    image = axis.imshow(shown, cmap="Blues", vmin=0, vmax=1.0 if mode in _NORMALIZE else None)
    colorbar = fig.colorbar(image, ax=axis, label=bar_label)
    if mode is None:
        from matplotlib.ticker import MaxNLocator

        colorbar.locator = MaxNLocator(integer=True)
        colorbar.update_ticks()
    # Text sized to its cell: a cell is about `side / num_classes` inches wide.
    cell_points = 72.0 * (side - 0.6) / max(num_classes, 1)
    names = [str(c) for c in class_names]
    # Names wider than their column are slanted; short ones (digits) stay upright.
    slanted = max((len(n) for n in names), default=0) * 0.6 * 10 > 0.9 * cell_points
    axis.set_xticks(range(num_classes), names, rotation=45 if slanted else 0,
                    ha="right" if slanted else "center", rotation_mode="anchor")
    axis.set_yticks(range(num_classes), names)
    axis.set_xlabel("predicted class")
    axis.set_ylabel("true class")
    axis.set_title(title or "Confusion matrix")
    widest = max((len(t) for row in texts for t in row), default=1)
    fontsize = float(np.clip(0.8 * cell_points / (0.62 * widest), 5.0, 10.0))
    threshold = shown.max() / 2 if shown.size else 0
    for i in range(num_classes):
        for j in range(num_classes):
            axis.text(j, i, texts[i][j], ha="center", va="center", fontsize=fontsize,
                      color="white" if shown[i, j] > threshold else "black")
    return fig


def _trial_scores(tuner_or_scores, objective):
    """Objective values in trial order from a keras-tuner tuner, or a plain sequence."""
    oracle = getattr(tuner_or_scores, "oracle", None)
    if oracle is None:
        scores = [None if s is None else float(s) for s in tuner_or_scores]
        return scores, objective or "objective"
    trials = sorted(oracle.trials.values(), key=lambda t: int(t.trial_id)
                    if str(t.trial_id).isdigit() else str(t.trial_id))
    name = objective or getattr(getattr(oracle, "objective", None), "name", "objective")
    scores = []
    for trial in trials:
        value = trial.score
        if objective is not None:
            value = trial.metrics.get_best_value(objective) if trial.metrics.exists(objective) \
                else None
        scores.append(None if value is None else float(value))
    return scores, name


def plot_trials(tuner_or_scores, *, objective=None, direction="max", title=None):
    """Plots the objective of each tuner trial and the running best.

    Args:
        tuner_or_scores: a keras-tuner tuner after `search` (its oracle's trials
            are read in trial order), or a sequence of objective values (`None`
            for a failed trial).
        objective: the metric to plot. Defaults to `None`: the tuner's
            objective (each trial's score).
        direction: "max" or "min": which way the running best moves. Defaults
            to `"max"`; taken from the tuner's objective when it has one.
        title: axes title. Defaults to `None`: "Tuner trials".

    Returns:
        A `matplotlib.figure.Figure`.

    Example:

    ```python
    import kerasext as kx

    fig = kx.plot.plot_trials([0.81, 0.86, None, 0.84, 0.9], objective="val_accuracy")
    fig.savefig("trials.png")
    ```
    """
    oracle_objective = getattr(getattr(tuner_or_scores, "oracle", None), "objective", None)
    if getattr(oracle_objective, "direction", None) in ("min", "max") and objective is None:
        direction = oracle_objective.direction
    if direction not in ("min", "max"):
        raise ValueError(
            f"Invalid `direction` argument value. Expected one of {{'min', 'max'}}. "
            f"Received: direction={direction!r}"
        )
    scores, name = _trial_scores(tuner_or_scores, objective)
    trials = np.arange(1, len(scores) + 1)
    values = np.array([np.nan if s is None or not math.isfinite(s) else s for s in scores])
    running = np.full_like(values, np.nan)
    best = np.nan
    for index, value in enumerate(values):
        if not np.isnan(value) and (
            np.isnan(best) or (value > best if direction == "max" else value < best)
        ):
            best = value
        running[index] = best
    fig = _figure(figsize=(6, 3.8))
    axis = fig.subplots()
    axis.plot(trials, values, "o", label=f"{name} per trial")
    axis.step(trials, running, where="post", color="tab:orange",
              label=f"best so far ({'highest' if direction == 'max' else 'lowest'})")
    failed = trials[np.isnan(values)]
    if len(failed):
        axis.plot(failed, np.full(len(failed), np.nanmin(values) if np.isfinite(values).any()
                                  else 0.0), "x", color="tab:red", label="failed trial")
    from matplotlib.ticker import MaxNLocator

    axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    axis.set_xlabel("trial (1 = first)")
    axis.set_ylabel(name)
    axis.set_title(title or "Tuner trials")
    axis.grid(alpha=0.3)
    axis.legend(fontsize="small")
    return fig


def plot_cross_validation(result, *, metric="loss", title=None):
    """Plots one metric's per-fold training curves and their mean with a +-1 std band.

    Epochs are 0-based on the x axis, as in Keras' `History.epoch`.

    Args:
        result: what `kerasext.model_selection.cross_validate` returns (read
            through its `histories` attribute: one History dict per fold), or a
            list of such dicts.
        metric: the quantity to draw; its `val_` curve is drawn too when
            logged. Defaults to `"loss"`.
        title: axes title. Defaults to `None`: "Cross-validation: <metric>".

    Returns:
        A `matplotlib.figure.Figure`.

    Example:

    ```python
    import kerasext as kx

    folds = [{"loss": [1.0, 0.6, 0.4]}, {"loss": [1.1, 0.7, 0.5]}, {"loss": [0.9, 0.5, 0.45]}]
    fig = kx.plot.plot_cross_validation(folds, metric="loss")
    fig.savefig("cv.png")
    ```
    """
    histories = [_history_dict(h) for h in getattr(result, "histories", result)]
    if not histories:
        raise ValueError("plot_cross_validation: the result has no fold histories")
    keys = [k for k in (metric, f"val_{metric}") if any(k in h for h in histories)]
    if not keys:
        raise ValueError(
            f"plot_cross_validation: no fold logged {metric!r}. "
            f"Available keys: {sorted(set().union(*histories))}"
        )
    fig = _figure(figsize=(6.5, 4))
    axis = fig.subplots()
    for key, color in zip(keys, ("tab:blue", "tab:orange")):
        curves = [h[key] for h in histories if key in h]
        for fold, curve in enumerate(curves):
            axis.plot(range(len(curve)), curve, color=color, alpha=0.3, linewidth=1,
                      label=f"{key}, per fold" if fold == 0 else None)
        # Folds may stop at different epochs (early stopping): average what each epoch has.
        length = max(len(c) for c in curves)
        padded = np.full((len(curves), length), np.nan)
        for row, curve in enumerate(curves):
            padded[row, : len(curve)] = curve
        counts = np.sum(~np.isnan(padded), axis=0)
        mean = np.nansum(padded, axis=0) / counts
        std = np.sqrt(np.nansum((padded - mean) ** 2, axis=0) / counts)
        epochs = np.arange(length)
        axis.plot(epochs, mean, color=color, linewidth=2.2,
                  label=f"{key}, mean of {len(curves)} folds")
        axis.fill_between(epochs, mean - std, mean + std, color=color, alpha=0.15,
                          label=f"{key}, ±1 std")
    _integer_epochs(axis)
    axis.set_ylabel(metric)
    axis.set_title(title or f"Cross-validation: {metric}")
    axis.grid(alpha=0.3)
    axis.legend(fontsize="small")
    return fig
