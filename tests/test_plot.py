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
    np.testing.assert_array_equal(lines["training"].get_xdata(), [1, 2, 3, 4])
    assert lines["best epoch (2)"].get_xdata()[0] == 2
    assert lines["overfitting onset (3)"].get_xdata()[0] == 3


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


@pytest.mark.parametrize("direction", ["max", "min"])
def test_plot_trials_running_best(direction):
    scores = [0.5, 0.7, None, 0.6, 0.9, 0.2]
    fig = plot.plot_trials(scores, direction=direction)
    axis = fig.axes[0]
    _legible(axis)
    best_line = next(line for line in axis.get_lines() if line.get_label() == "best so far")
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
