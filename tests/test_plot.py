"""kerasext.plot: legible figures whose drawn data equal independent computations."""

import sys

import keras
import numpy as np
import pytest

from kerasext import plot

pytest.importorskip("matplotlib")

# Figures are backend-neutral NumPy drawings; the metric result and the History come from
# the active backend, so the module runs on each.
pytestmark = pytest.mark.cross_backend


class _Marker:
    def __init__(self, best_epoch=None, onset_epoch=None):
        self.best_epoch = best_epoch
        self.onset_epoch = onset_epoch


def _legible(axis):
    assert axis.get_xlabel() and axis.get_ylabel() and axis.get_title()
    assert axis.get_legend() is not None


def _drawn(fig):
    """Lays the figure out and draws it off screen; returns the renderer, for text extents."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return canvas.get_renderer()


def _pixels(fig, dpi=100):
    width, height = fig.get_size_inches() * dpi
    return width, height


def test_plot_history_marks_best_epoch_and_onset_from_callbacks():
    logs = {"loss": [1.0, 0.7, 0.5, 0.4], "val_loss": [1.1, 0.8, 0.85, 0.9],
            "overfit_gl": [0, 0, 6.2, 12.5]}
    fig = plot.plot_history(logs, callbacks=[_Marker(best_epoch=1), _Marker(onset_epoch=2)],
                            title="t")
    (axis,) = fig.axes
    _legible(axis)
    assert axis.get_ylabel() == "loss"  # overfit_* left out by default
    lines = {line.get_label(): line for line in axis.get_lines()}
    np.testing.assert_array_equal(lines["validation"].get_ydata(), logs["val_loss"])
    # 0-based epochs, as Keras' History.epoch and the callbacks' attributes.
    np.testing.assert_array_equal(lines["training"].get_xdata(), [0, 1, 2, 3])
    assert lines["best epoch (1)"].get_xdata()[0] == 1
    assert lines["overfitting onset (2)"].get_xdata()[0] == 2


def _report_history(epochs=2):
    import kerasext as kx

    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(48, 4)).astype("float32"), rng.integers(0, 3, 48)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy",
                  metrics=["accuracy", kx.metrics.ClassificationReport(num_classes=3,
                                                                       name="report")])
    return model.fit(x, y, validation_split=0.25, epochs=epochs, batch_size=16, verbose=0)


def test_plot_history_with_a_report_draws_loss_first_and_main_metrics_in_a_grid():
    history = _report_history()
    assert len(history.history) > 40  # a report's every row is logged
    fig = plot.plot_history(history)
    titles = [axis.get_title() for axis in fig.axes]
    # Keras logs `accuracy` before `loss`; the loss leads, a report shows accuracy and macro F1.
    assert titles == ["loss", "accuracy", "report_accuracy", "report_macro_avg_f1_score"]
    assert {axis.get_subplotspec().get_geometry()[:2] for axis in fig.axes} == {(2, 2)}
    width, height = _pixels(fig)
    assert width <= 1500 and height <= 1000, (width, height)
    for axis in fig.axes:
        labels = [line.get_label() for line in axis.get_lines()]
        assert labels == ["training", "validation"]
        np.testing.assert_array_equal(axis.get_lines()[1].get_ydata(),
                                      history.history[f"val_{axis.get_title()}"])


@pytest.mark.parametrize("count, shape", [(1, (1, 1)), (3, (1, 3)), (4, (2, 2)), (7, (3, 3))])
def test_plot_history_wraps_requested_panels(count, shape):
    names = [f"m{i}" for i in range(count)]
    fig = plot.plot_history({name: [1.0, 0.5] for name in names}, metrics=names)
    assert [axis.get_title() for axis in fig.axes] == names
    assert {axis.get_subplotspec().get_geometry()[:2] for axis in fig.axes} == {shape}
    width, height = _pixels(fig)
    assert width <= 1500 and height <= 1100, (width, height)
    with pytest.raises(ValueError, match="columns=0"):
        plot.plot_history({"loss": [1.0]}, columns=0)


def test_plot_history_labels_derived_logs_as_what_they_are():
    logs = {"loss": [1.0, 0.8, 0.7], "val_loss": [1.0, 1.2, 0.9], "overfit_gl": [0.0, 20.0, 0.0],
            "learning_rate": [0.1, 0.1, 0.05]}

    class Detector:
        criterion, onset_epoch, best_epoch = "gl", 1, 2

    fig = plot.plot_history(logs, metrics=["loss", "overfit_gl", "learning_rate"],
                            callbacks=[Detector()])
    gl_axis, rate_axis = fig.axes[1], fig.axes[2]
    gl_labels = [line.get_label() for line in gl_axis.get_lines()]
    assert "training" not in gl_labels and "validation" not in gl_labels
    assert gl_labels[0].startswith("GL") and gl_axis.get_ylabel() == "GL (%)"
    assert "generalization loss" in gl_axis.get_title()
    assert rate_axis.get_lines()[0].get_label() == "learning rate"
    # The marker says which criterion fired, not that overfitting began.
    assert "GL criterion fired (1)" in gl_labels and "best epoch (2)" in gl_labels


def test_epoch_axes_are_zero_based_with_integer_ticks():
    history = _report_history(epochs=3)
    figures = [plot.plot_history(history, metrics="loss", best_epoch=1),
               plot.plot_cross_validation([history.history, history.history])]
    for fig in figures:
        _drawn(fig)
        axis = fig.axes[0]
        assert "0 = first" in axis.get_xlabel()
        np.testing.assert_array_equal(axis.get_lines()[0].get_xdata(), history.epoch)
        ticks = [t for t in axis.get_xticks() if axis.get_xlim()[0] <= t <= axis.get_xlim()[1]]
        assert ticks and all(float(t).is_integer() for t in ticks), ticks


def test_plot_history_rejects_unknown_metric_naming_available_keys():
    with pytest.raises(ValueError, match=r"no scalar logs for \['accuracy'\].*loss"):
        plot.plot_history({"loss": [1.0]}, metrics="accuracy")


def test_plot_history_leaves_out_per_class_vectors():
    logs = {"loss": [1.0, 0.5], "precision": [[0.5, 0.7], [0.6, 0.8]], "val_loss": [1.1, 0.9]}
    fig = plot.plot_history(logs)
    assert [axis.get_ylabel() for axis in fig.axes] == ["loss"]
    with pytest.raises(ValueError, match="per-class vectors"):
        plot.plot_history(logs, metrics="precision")


def test_plot_confusion_matrix_normalizes_rows():
    matrix = np.array([[3, 1], [0, 4]])
    fig = plot.plot_confusion_matrix(matrix, class_names=["a", "b"], normalize=True)
    axis = fig.axes[0]
    assert axis.get_xlabel() == "predicted class" and axis.get_ylabel() == "true class"
    np.testing.assert_allclose(axis.images[0].get_array(), matrix / matrix.sum(1, keepdims=True))
    with pytest.raises(ValueError, match=r"square.*\(2, 3\)"):
        plot.plot_confusion_matrix(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="normalize='rows'"):
        plot.plot_confusion_matrix(matrix, normalize="rows")


def _cell_texts(axis):
    return [text.get_text() for text in axis.texts]


def _digits_predictions():
    rng = np.random.default_rng(0)
    y_true = rng.integers(0, 10, 500)
    y_pred = np.where(rng.random(500) < 0.8, y_true, rng.integers(0, 10, 500))
    return y_true, y_pred


@pytest.mark.parametrize("normalize, bar_word", [("true", "true class"),
                                                 ("pred", "predicted class"),
                                                 ("all", "all")])
def test_plot_confusion_matrix_normalize_as_sklearn(normalize, bar_word):
    from sklearn.metrics import confusion_matrix

    y_true, y_pred = _digits_predictions()
    expected = confusion_matrix(y_true, y_pred, normalize=normalize)
    fig = plot.plot_confusion_matrix(confusion_matrix(y_true, y_pred), normalize=normalize)
    axis, bar = fig.axes
    np.testing.assert_allclose(axis.images[0].get_array(), expected)
    assert _cell_texts(axis) == [f"{v:.2f}" for v in expected.ravel()]
    assert bar_word in bar.get_ylabel() and "count" not in bar.get_ylabel()


def test_plot_confusion_matrix_formats_cells_by_content():
    """Counts print as integers; an already normalized matrix as 2-decimal rates."""
    from sklearn.metrics import confusion_matrix

    y_true, y_pred = _digits_predictions()
    counts = confusion_matrix(y_true, y_pred)
    fig = plot.plot_confusion_matrix(counts.astype("float32"))
    assert _cell_texts(fig.axes[0]) == [str(int(v)) for v in counts.ravel()]
    assert fig.axes[1].get_ylabel() == "count"

    rates = confusion_matrix(y_true, y_pred, normalize="true")  # as ConfusionMatrix(normalize=)
    fig = plot.plot_confusion_matrix(rates)
    assert _cell_texts(fig.axes[0]) == [f"{v:.2f}" for v in rates.ravel()]
    assert "true class" in fig.axes[1].get_ylabel()
    np.testing.assert_allclose(fig.axes[0].images[0].get_array(), rates)


@pytest.mark.parametrize("num_classes", [2, 10, 20])
@pytest.mark.parametrize("normalize", [False, "true"])
def test_plot_confusion_matrix_nothing_overlaps(num_classes, normalize):
    rng = np.random.default_rng(num_classes)
    matrix = rng.integers(0, 1000, size=(num_classes, num_classes))
    names = [f"class {i}" for i in range(num_classes)]
    fig = plot.plot_confusion_matrix(matrix, class_names=names, normalize=normalize,
                                     title="A confusion matrix with a long title")
    renderer = _drawn(fig)
    axis, bar = fig.axes
    title = axis.title.get_window_extent(renderer)
    assert not title.overlaps(bar.get_window_extent(renderer))
    cells = [text.get_window_extent(renderer) for text in axis.texts]
    for index, cell in enumerate(cells):
        assert not any(cell.overlaps(other) for other in cells[index + 1:]), axis.texts[index]
    # Every label and the bar lie inside the saved image.
    width, height = _pixels(fig, fig.dpi)
    for extent in (title, bar.get_tightbbox(renderer), axis.get_tightbbox(renderer)):
        assert extent.x0 >= 0 and extent.y0 >= 0 and extent.x1 <= width and extent.y1 <= height
    assert max(_pixels(fig)) <= 1400


@pytest.mark.parametrize("direction", ["max", "min"])
def test_plot_trials_running_best(direction):
    scores = [0.5, 0.7, None, 0.6, 0.9, 0.2]
    fig = plot.plot_trials(scores, direction=direction)
    axis = fig.axes[0]
    _legible(axis)
    best_line = next(line for line in axis.get_lines() if line.get_label().startswith("best"))
    assert best_line.get_label() == f"best so far ({'highest' if direction == 'max' else 'lowest'})"
    values = np.array([np.nan if s is None else s for s in scores])
    # Independent reference: NumPy's accumulate over the finite values, carried forward.
    filled = np.where(np.isnan(values), -np.inf if direction == "max" else np.inf, values)
    expected = (np.maximum if direction == "max" else np.minimum).accumulate(filled)
    np.testing.assert_allclose(best_line.get_ydata(), expected)
    with pytest.raises(ValueError, match="direction='up'"):
        plot.plot_trials(scores, direction="up")


def test_plot_cross_validation_mean_and_band():
    folds = [{"loss": [1.0, 0.5], "val_loss": [1.2, 0.9]}, {"loss": [0.8, 0.3], "val_loss": [1.0, 0.7]},
             {"loss": [0.9, 0.4, 0.35], "val_loss": [1.1, 0.8, 0.75]}]

    class Result:
        histories = folds

    fig = plot.plot_cross_validation(Result(), metric="loss")
    axis = fig.axes[0]
    _legible(axis)
    mean = next(line for line in axis.get_lines() if line.get_label() == "loss, mean of 3 folds")
    np.testing.assert_allclose(mean.get_ydata(), [np.mean([1.0, 0.8, 0.9]),
                                                  np.mean([0.5, 0.3, 0.4]), 0.35])
    with pytest.raises(ValueError, match="no fold logged 'accuracy'"):
        plot.plot_cross_validation(folds, metric="accuracy")


def test_missing_matplotlib_names_the_extra(monkeypatch):
    for name in ("matplotlib", "matplotlib.figure"):
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(ImportError, match=r"kerasext\[plot\]"):
        plot.plot_trials([0.1, 0.2])


def test_pyplot_is_left_alone_and_backend_tensors_are_drawn():
    """No pyplot state changes (CONVENTIONS: never switch its backend); tensors are read."""
    import matplotlib
    import matplotlib.pyplot as plt
    from sklearn.metrics import confusion_matrix

    import kerasext as kx

    backend, figures = matplotlib.get_backend(), plt.get_fignums()
    y_true, y_pred = np.array([0, 1, 2, 2, 1, 0, 2]), np.array([0, 2, 2, 2, 1, 1, 0])
    metric = kx.metrics.ConfusionMatrix(num_classes=3)
    metric.update_state(y_true, keras.ops.one_hot(y_pred, 3))
    fig = plot.plot_confusion_matrix(metric.result())  # the backend's own tensor
    np.testing.assert_array_equal(fig.axes[0].images[0].get_array(),
                                  confusion_matrix(y_true, y_pred))
    history = {"loss": [keras.ops.convert_to_tensor(1.0), keras.ops.convert_to_tensor(0.5)]}
    line = plot.plot_history(history).axes[0].get_lines()[0]
    np.testing.assert_array_equal(line.get_ydata(), [1.0, 0.5])
    assert matplotlib.get_backend() == backend and plt.get_fignums() == figures
