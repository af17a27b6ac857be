"""Pieces shared by the HyperModels: input shape checks, compiled metrics."""

import keras

from kerasext import _validation as v


def check_shape(name, shape, ranks):
    """An input shape without its batch axis: a tuple of `ranks` positive integers."""
    return v.as_positive_int_tuple(
        name, shape, lengths=ranks,
        expected=f"a tuple of {' or '.join(map(str, ranks))} positive integers (no batch axis)")


def classification_metrics(num_classes):
    """Accuracy and kerasext's macro F1 score, for softmax outputs and sparse labels."""
    from kerasext import metrics as kx_metrics

    result = [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]
    if hasattr(kx_metrics, "F1Score"):
        result.append(kx_metrics.F1Score(num_classes=num_classes, name="f1_score"))
    return result


def regression_metrics():
    """Root mean squared error and mean absolute error."""
    return [
        keras.metrics.RootMeanSquaredError(name="root_mean_squared_error"),
        keras.metrics.MeanAbsoluteError(name="mean_absolute_error"),
    ]


class ClassifierMixin:
    def _loss(self):
        return keras.losses.SparseCategoricalCrossentropy()

    def _default_metrics(self):
        return classification_metrics(self.num_classes)
