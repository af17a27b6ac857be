"""No number where the input is wrong: wrong labels and NaN scores raise, naming what came in."""

import keras
import numpy as np
import pytest
from sklearn.metrics import confusion_matrix, f1_score

import kerasext as kx
from tests import conformance

M = kx.metrics
BACKEND = keras.backend.backend()

pytestmark = pytest.mark.cross_backend

EYE3 = np.eye(3, dtype="float32")
NAN_ROW = np.array([[0.2, np.nan, 0.1]], "float32")

# (metric, y_true, y_pred, the message naming the values received)
WRONG_INPUTS = [
    (lambda: M.ConfusionMatrix(num_classes=3), np.array([0, 7, 1]), EYE3[[0, 1, 1]],
     r"Expected integer class ids in \[0, 3\) for num_classes=3.*Received: y_true=\[7\] at 1 "
     r"of 3 positions"),
    (lambda: M.F1Score(num_classes=3), np.array([[0], [-1]]), EYE3[[0, 1]],
     r"pass `ignore_class` to skip.*Received: y_true=\[-1\]"),
    (lambda: M.Precision(num_classes=3), np.array([0.0, 1.5, 2.0]), EYE3,
     r"integer class ids.*Received: y_true=\[1.5\]"),
    (lambda: M.Recall(num_classes=3, ignore_class=-1), np.array([-1, 3, 4]), EYE3,
     r"or ignore_class=-1 \(skipped\).*Received: y_true=\[3, 4\] at 2 of 3 positions"),
    (lambda: M.Precision(), np.array([0, 2, 1]), np.array([0.1, 0.9, 0.8]),
     r"Expected labels 0 or 1 for task='binary'.*Received: y_true=\[2\]"),
    (lambda: M.Recall(), np.array([[0.0], [0.5]]), np.array([[0.1], [0.9]]),
     r"labels 0 or 1.*Received: y_true=\[0.5\]"),
    (lambda: M.F1Score(task="multilabel", num_classes=2), np.array([[0, 2], [1, 1]]),
     np.eye(2), r"indicators 0 or 1 for task='multilabel'.*Received: y_true=\[2\]"),
    (lambda: M.F1Score(), np.array([0, 1]), np.array([0.3, np.nan]),
     r"Invalid `y_pred` argument value. Expected scores without NaN. Received: y_pred with "
     r"NaN at 1 of 2 positions \(flat indices \[1\]\)"),
    (lambda: M.ConfusionMatrix(num_classes=3), np.array([0, 1]), np.concatenate(
        [EYE3[[0]], NAN_ROW]), r"y_pred with NaN at 1 of 2 positions"),
    (lambda: M.ClassificationReport(task="multilabel", num_classes=3), np.eye(3)[[0, 1]],
     np.concatenate([EYE3[[0]], NAN_ROW]), r"y_pred with NaN at 1 of 2 positions"),
    (lambda: M.F1Score(num_classes=3), np.concatenate([NAN_ROW, EYE3[[0]]]), EYE3[[0, 1]],
     r"Invalid `y_true` argument value.*y_true with NaN at 1 of 2"),
    # With positions skipped (ignore_class), a NaN row at a kept position still raises.
    (lambda: M.F1Score(num_classes=3, ignore_class=-1), np.array([-1, 0, 2]),
     np.concatenate([NAN_ROW, EYE3[[0]], NAN_ROW]),
     r"y_pred with NaN at 1 of 3 positions \(flat indices \[2\]\)"),
]


def test_wrong_labels_and_nan_scores_raise_naming_the_values():
    for make, y_true, y_pred, message in WRONG_INPUTS:
        metric = make()
        with pytest.raises(ValueError, match=message):
            metric.update_state(y_true, y_pred)


def test_a_wrong_batch_leaves_the_counts_as_they_were():
    metric = M.ConfusionMatrix(num_classes=3)
    metric.update_state(np.array([0, 1]), EYE3[[0, 2]])
    with pytest.raises(ValueError, match=r"y_true=\[7\]"):
        metric.update_state(np.array([2, 7]), EYE3[[2, 2]])
    np.testing.assert_array_equal(np.asarray(metric.result()),
                                  confusion_matrix([0, 1], [0, 2], labels=range(3)))


def test_skipped_positions_are_not_checked():
    # ignore_class skips on purpose, whatever the prediction there.
    metric = M.F1Score(num_classes=3, average="micro", ignore_class=-1)
    y_pred = np.concatenate([EYE3[[0, 1]], NAN_ROW])
    metric.update_state(np.array([0, 2, -1]), y_pred)
    np.testing.assert_allclose(float(metric.result()), f1_score([0, 2], [0, 1], average="micro"))


def test_default_binary_task_on_many_columns_suggests_num_classes():
    with pytest.raises(ValueError, match=r"y_true of shape \(4,\) does not fit y_pred of shape "
                       r"\(4, 10\) for task='binary'.*The task is 'binary' by default "
                       r"\(num_classes=None\). For 10 classes pass num_classes=10"):
        M.F1Score().update_state(np.zeros(4), np.full((4, 10), 0.1, "float32"))


# --------------------------------------------------------------------------- inside fit / evaluate


def _compiled(metric, y_pred, **compile_kw):
    model = conformance._identity_model(y_pred)
    model.compile(loss=conformance.ZeroLoss(), metrics=[metric], **compile_kw)
    return model


# The default step is compiled on TensorFlow (tf.function: the assertion raises
# InvalidArgumentError) and JAX (jax.jit: the host callback's ValueError comes back as a
# JaxRuntimeError); torch runs it eagerly (ValueError). Each carries the message.
@pytest.mark.parametrize("method", ["evaluate", "fit"])
def test_fit_and_evaluate_raise_on_out_of_range_labels(method):
    y_pred = EYE3[[0, 1, 2, 2]]
    model = _compiled(M.ConfusionMatrix(num_classes=3), y_pred)
    with pytest.raises(Exception, match=r"(?s)Invalid `y_true` argument value. Expected integer "
                       r"class ids in \[0, 3\).*Received: y_true.*7"):
        getattr(model, method)(y_pred, np.array([0, 1, 7, 2]), batch_size=2, verbose=0)


def test_evaluate_raises_on_nan_scores_and_binary_labels():
    y_pred = EYE3[[0, 1, 2, 2]].copy()
    y_pred[3, 0] = np.nan
    model = _compiled(M.F1Score(num_classes=3), y_pred)
    with pytest.raises(Exception, match=r"(?s)Invalid `y_pred` argument value. Expected scores "
                       r"without NaN. Received: y_pred with NaN at"):
        model.evaluate(y_pred, np.array([0, 1, 2, 2]), batch_size=4, verbose=0)
    scores = np.array([[0.2], [0.9], [0.7]], "float32")
    model = _compiled(M.Precision(), scores)
    with pytest.raises(Exception, match=r"(?s)Expected labels 0 or 1 for task=.*binary.*"
                       r"Received: y_true.*2"):
        model.evaluate(scores, np.array([0, 2, 1]), batch_size=3, verbose=0)


@pytest.mark.tensorflow_only("run_eagerly and XLA's dropped assertions are TensorFlow's")
def test_tensorflow_eager_raises_and_xla_gives_nan():
    y_pred = EYE3[[0, 1, 2]]
    y_true = np.array([0, 7, 2])
    model = _compiled(M.ConfusionMatrix(num_classes=3), y_pred, run_eagerly=True)
    with pytest.raises(ValueError, match=r"Received: y_true=\[7\] at 1 of 3 positions"):
        model.evaluate(y_pred, y_true, verbose=0)
    # XLA compiles Assert to nothing: no error can be raised, the result is NaN instead.
    model = _compiled(M.F1Score(num_classes=3), y_pred, jit_compile=True)
    logs = model.evaluate(y_pred, y_true, verbose=0, return_dict=True)
    assert np.isnan(logs["f1_score"])
    logs = model.evaluate(y_pred, np.array([0, 1, 2]), verbose=0, return_dict=True)
    assert logs["f1_score"] == 1.0  # evaluate resets the state: a right batch scores again
