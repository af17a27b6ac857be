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


def _figure(**kwargs):
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
    return Figure(layout="constrained", **kwargs)


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


def _find_epoch(callbacks, attribute):
    for callback in callbacks or ():
        value = getattr(callback, attribute, None)
        if value is not None and value >= 0:
            return int(value)
    return None


def plot_history(
    history,
    *,
    metrics=None,
    best_epoch=None,
    onset_epoch=None,
    callbacks=None,
    title=None,
):
    """Plots training and validation curves, marking the best epoch and overfitting onset.

    One panel per quantity: each training metric `m` is drawn with its
    validation curve `val_m` when the logs have one. Epochs are numbered from 1
    on the x axis; `best_epoch` and `onset_epoch` are 0-based indices, as
    `kerasext.callbacks.EarlyStopping.best_epoch` and
    `kerasext.callbacks.OverfitDetector.onset_epoch` report them.

    Args:
        history: a `keras.callbacks.History` (what `fit` returns), or its
            `.history` dict of per-epoch lists.
        metrics: the quantities to draw (names without `val_`). Defaults to
            `None`: every training quantity in the logs, `overfit_*` entries
            left out.
        best_epoch: 0-based epoch to mark as the best. Defaults to `None`:
            read from the `best_epoch` attribute of `callbacks`.
        onset_epoch: 0-based epoch where overfitting began. Defaults to `None`:
            read from the `onset_epoch` attribute of `callbacks`.
        callbacks: callbacks used in the fit, read for `best_epoch` and
            `onset_epoch`. Defaults to `None`.
        title: figure title. Defaults to `None` (no title).

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
        metrics = [
            key for key in logs
            if not key.startswith("val_") and not key.startswith("overfit_")
        ]
        if not metrics:  # only validation entries were logged
            metrics = [key.removeprefix("val_") for key in logs if key.startswith("val_")]
    elif isinstance(metrics, str):
        metrics = [metrics]
    missing = [m for m in metrics if m not in logs and f"val_{m}" not in logs]
    if missing:
        raise ValueError(
            f"plot_history: no scalar logs for {missing} (per-class vectors are not drawn). "
            f"Available keys: {sorted(logs)}"
        )
    if best_epoch is None:
        best_epoch = _find_epoch(callbacks, "best_epoch")
    if onset_epoch is None:
        onset_epoch = _find_epoch(callbacks, "onset_epoch")

    fig = _figure(figsize=(5 * len(metrics), 3.8))
    axes = fig.subplots(1, len(metrics), squeeze=False)
    for axis, metric in zip(axes[0], metrics):
        for key, label, style in ((metric, "training", "-"), (f"val_{metric}", "validation", "-")):
            if key in logs:
                values = logs[key]
                # With validation_freq > 1 Keras logs fewer validation values: spread them out.
                epochs = np.linspace(1, len(logs.get(metric, values)), num=len(values))
                axis.plot(epochs, values, style, marker="." if len(values) < 40 else None,
                          label=label)
        if best_epoch is not None:
            axis.axvline(best_epoch + 1, color="tab:green", linestyle="--",
                         label=f"best epoch ({best_epoch + 1})")
        if onset_epoch is not None:
            axis.axvline(onset_epoch + 1, color="tab:red", linestyle=":",
                         label=f"overfitting onset ({onset_epoch + 1})")
        axis.set_xlabel("epoch")
        axis.set_ylabel(metric)
        axis.set_title(metric)
        axis.grid(alpha=0.3)
        axis.legend(fontsize="small")
    if title:
        fig.suptitle(title)
    return fig


def plot_confusion_matrix(matrix, *, class_names=None, normalize=False, title=None):
    """Draws a confusion matrix (rows: true class, columns: predicted class) with counts.

    Args:
        matrix: a (C, C) array of counts, e.g. the result of
            `kerasext.metrics.ConfusionMatrix` or
            `sklearn.metrics.confusion_matrix`.
        class_names: C labels for the axes. Defaults to `None`: 0 .. C-1.
        normalize: divide each row by its total, so cells read as the recall
            of each true class. Defaults to `False`.
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
    shown = matrix
    if normalize:
        totals = matrix.sum(axis=1, keepdims=True)
        shown = np.divide(matrix, totals, out=np.zeros_like(matrix), where=totals > 0)
    size = max(4.0, 0.45 * num_classes + 2.5)
    fig = _figure(figsize=(size, size))
    axis = fig.subplots()
    image = axis.imshow(shown, cmap="Blues", vmin=0)
    fig.colorbar(image, ax=axis, shrink=0.8, label="fraction of row" if normalize else "count")
    axis.set_xticks(range(num_classes), [str(c) for c in class_names], rotation=45, ha="right")
    axis.set_yticks(range(num_classes), [str(c) for c in class_names])
    axis.set_xlabel("predicted class")
    axis.set_ylabel("true class")
    axis.set_title(title or "Confusion matrix")
    threshold = shown.max() / 2 if shown.size else 0
    for i in range(num_classes):
        for j in range(num_classes):
            text = f"{shown[i, j]:.2f}" if normalize else f"{matrix[i, j]:g}"
            axis.text(j, i, text, ha="center", va="center", fontsize="small",
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
    axis.step(trials, running, where="post", color="tab:orange", label="best so far")
    failed = trials[np.isnan(values)]
    if len(failed):
        axis.plot(failed, np.full(len(failed), np.nanmin(values) if np.isfinite(values).any()
                                  else 0.0), "x", color="tab:red", label="failed trial")
    from matplotlib.ticker import MaxNLocator

    axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    axis.set_xlabel("trial")
    axis.set_ylabel(name)
    axis.set_title(title or "Tuner trials")
    axis.grid(alpha=0.3)
    axis.legend(fontsize="small")
    return fig


def plot_cross_validation(result, *, metric="loss", title=None):
    """Plots one metric's per-fold training curves and their mean with a +-1 std band.

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
            axis.plot(range(1, len(curve) + 1), curve, color=color, alpha=0.3, linewidth=1,
                      label=f"{key}, per fold" if fold == 0 else None)
        # Folds may stop at different epochs (early stopping): average what each epoch has.
        length = max(len(c) for c in curves)
        padded = np.full((len(curves), length), np.nan)
        for row, curve in enumerate(curves):
            padded[row, : len(curve)] = curve
        counts = np.sum(~np.isnan(padded), axis=0)
        mean = np.nansum(padded, axis=0) / counts
        std = np.sqrt(np.nansum((padded - mean) ** 2, axis=0) / counts)
        epochs = np.arange(1, length + 1)
        axis.plot(epochs, mean, color=color, linewidth=2.2,
                  label=f"{key}, mean of {len(curves)} folds")
        axis.fill_between(epochs, mean - std, mean + std, color=color, alpha=0.15,
                          label=f"{key}, ±1 std")
    axis.set_xlabel("epoch")
    axis.set_ylabel(metric)
    axis.set_title(title or f"Cross-validation: {metric}")
    axis.grid(alpha=0.3)
    axis.legend(fontsize="small")
    return fig
