import keras
import numpy as np
import pytest

from kerasext.callbacks import EarlyStopping, OverfitDetector
from tests import conformance
from tests.callbacks.helpers import drive, drive_list, weight_epoch

pytestmark = pytest.mark.cross_backend

# A fixed run: the training error keeps falling, the validation error bottoms out
# at epoch 8 (0-based) and then drifts up with noise.
TRAIN = np.array([2.0, 1.6, 1.3, 1.1, 1.0, 0.9, 0.85, 0.8, 0.76, 0.74, 0.7, 0.69, 0.66, 0.65,
                  0.64, 0.62, 0.61, 0.605, 0.6, 0.598, 0.59, 0.585, 0.584, 0.58, 0.579])
VAL = np.array([2.1, 1.8, 1.5, 1.35, 1.3, 1.25, 1.24, 1.26, 1.23, 1.25, 1.28, 1.27, 1.3, 1.33,
                1.32, 1.36, 1.38, 1.37, 1.41, 1.40, 1.45, 1.43, 1.47, 1.5, 1.52])
K = 5


def prechelt_by_hand(train, val, k):
    """Prechelt (1998), section 2.2.2, computed directly with NumPy."""
    best = np.minimum.accumulate(val)
    gl = 100.0 * (val / best - 1.0)
    ends = np.arange(k - 1, len(val), k)
    progress = {t: 1000.0 * (train[t - k + 1: t + 1].sum() / (k * train[t - k + 1: t + 1].min())
                             - 1.0) for t in ends}
    pq = {t: gl[t] / progress[t] for t in ends}
    up, count = {}, 0
    for j, t in enumerate(ends):
        count = count + 1 if j > 0 and val[t] > val[t - k] else 0
        up[t] = count
    return gl, progress, pq, up, ends


def sequence(train=TRAIN, val=VAL, key="loss"):
    return [{key: float(t), f"val_{key}": float(v)} for t, v in zip(train, val)]


def carried(values_at_ends, n):
    """The value of the latest strip end at every epoch (0 before the first)."""
    out, current = [], 0.0
    for t in range(n):
        current = values_at_ends.get(t, current)
        out.append(current)
    return np.array(out)


def test_conformance():
    conformance.run_callback_test(
        OverfitDetector, {"criterion": "pq", "threshold": 0.75, "strip_length": 2,
                          "action": "log"},
        epochs=4,
    )


def test_gl_pk_pq_up_and_gap_match_the_paper_by_hand():
    gl, progress, pq, up, ends = prechelt_by_hand(TRAIN, VAL, K)
    assert len(ends) == 5 and max(up.values()) >= 2  # the sequence exercises every criterion
    detector = OverfitDetector(mode="min", action="log", strip_length=K)
    _, epochs_run, logs = drive(detector, sequence())
    assert epochs_run == len(VAL)
    got = {key: np.array([entry[key] for entry in logs]) for key in logs[0] if
           key.startswith("overfit_")}
    np.testing.assert_allclose(got["overfit_gl"], gl, rtol=1e-12)
    np.testing.assert_allclose(got["overfit_gap"], VAL - TRAIN, rtol=1e-12)
    np.testing.assert_allclose(got["overfit_pq"], carried(pq, len(VAL)), rtol=1e-12)
    np.testing.assert_array_equal(got["overfit_up"], carried(up, len(VAL)))
    trace = detector.trace
    np.testing.assert_allclose([trace["progress"][t] for t in ends],
                               [progress[t] for t in ends], rtol=1e-12)
    assert [i for i, end in enumerate(trace["strip_end"]) if end] == list(ends)
    assert detector.best_epoch == int(np.argmin(VAL)) and detector.best == VAL.min()


@pytest.mark.parametrize("criterion, threshold", [("gl", 1.0), ("gl", 5.0), ("pq", 0.5),
                                                  ("pq", 2.0), ("up", 1), ("up", 2)])
def test_onset_epoch_is_the_first_epoch_the_criterion_holds(criterion, threshold):
    gl, _, pq, up, ends = prechelt_by_hand(TRAIN, VAL, K)
    if criterion == "gl":
        expected = int(np.flatnonzero(gl > threshold)[0])
    elif criterion == "pq":
        expected = next(t for t in ends if pq[t] > threshold)
    else:
        expected = next(t for t in ends if up[t] >= threshold)
    detector = OverfitDetector(mode="min", criterion=criterion, threshold=threshold,
                               action="stop", strip_length=K)
    model, epochs_run, _ = drive(detector, sequence())
    assert detector.onset_epoch == detector.stopped_epoch == expected
    assert epochs_run == expected + 1
    best = int(np.argmin(VAL[: expected + 1]))
    assert detector.best_epoch == best
    assert weight_epoch(model) == best  # the weights of the lowest validation error


def test_default_thresholds_are_the_papers():
    gl, _, _, _, _ = prechelt_by_hand(TRAIN, VAL, K)
    detector = OverfitDetector(mode="min", action="log")
    drive(detector, sequence())
    assert detector.onset_epoch == int(np.flatnonzero(gl > 5.0)[0])  # GL_5
    assert detector.stopped_epoch is None


def test_max_metric_uses_one_minus_value_as_error():
    train_acc, val_acc = 1.0 - TRAIN / 4.0, 1.0 - VAL / 4.0
    gl, progress, pq, _, ends = prechelt_by_hand(TRAIN / 4.0, VAL / 4.0, K)
    detector = OverfitDetector(monitor="val_accuracy", mode="max", action="log")
    _, _, logs = drive(detector, sequence(train_acc, val_acc, key="accuracy"))
    np.testing.assert_allclose([e["overfit_gl"] for e in logs], gl, rtol=1e-9)
    np.testing.assert_allclose([e["overfit_gap"] for e in logs], train_acc - val_acc, rtol=1e-9)
    np.testing.assert_allclose([logs[t]["overfit_pq"] for t in ends], [pq[t] for t in ends],
                               rtol=1e-9)
    assert detector.best == val_acc.max()


def test_warn_action_warns_once_and_keeps_training():
    detector = OverfitDetector(mode="min", criterion="gl", threshold=5.0)
    with pytest.warns(UserWarning, match="GL_5 fired after epoch") as caught:
        _, epochs_run, _ = drive(detector, sequence())
    assert epochs_run == len(VAL) and len([w for w in caught if "GL_5" in str(w.message)]) == 1


def test_epochs_without_validation_are_skipped():
    logs = []
    for entry in sequence():
        logs.append({"loss": 99.0})  # a training-only epoch between two validated ones
        logs.append(entry)
    detector = OverfitDetector(mode="min", action="log")
    _, _, seen = drive(detector, logs)
    gl, _, pq, _, ends = prechelt_by_hand(TRAIN, VAL, K)
    assert not any("overfit_gl" in entry for entry in seen[0::2])
    np.testing.assert_allclose([entry["overfit_gl"] for entry in seen[1::2]], gl, rtol=1e-12)
    assert detector.trace["epoch"] == list(range(1, 2 * len(VAL), 2))


def test_history_of_a_real_fit_holds_the_criteria():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 6)).astype("float32")
    y = rng.normal(size=(40, 1)).astype("float32")
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(32, activation="relu"),
                              keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    detector = OverfitDetector(action="log", strip_length=3)
    history = model.fit(x, y, validation_split=0.25, epochs=9, verbose=0,
                        callbacks=[detector]).history
    train, val = np.array(history["loss"]), np.array(history["val_loss"])
    gl, _, pq, up, _ = prechelt_by_hand(train, val, 3)
    np.testing.assert_allclose(history["overfit_gl"], gl, rtol=1e-9)
    np.testing.assert_allclose(history["overfit_gap"], val - train, rtol=1e-9)
    np.testing.assert_allclose(history["overfit_pq"], carried(pq, len(val)), rtol=1e-9)
    np.testing.assert_array_equal(history["overfit_up"], carried(up, len(val)))


@pytest.mark.parametrize(
    "logs, match",
    [
        ([{"loss": -1.0, "val_loss": 1.0}], "negative"),
        ([{"loss": 1.0}, {"loss": 1.0, "val_lost": 1.0}], "Available keys: loss, val_lost"),
        ([{"val_loss": 1.0, "acc": 0.5}], "train_monitor='loss'.*Available keys: acc, val_loss"),
    ],
)
def test_errors_name_the_problem(logs, match):
    with pytest.raises(ValueError, match=match):
        drive(OverfitDetector(mode="min"), logs)


def test_maximized_metric_outside_unit_interval_is_refused():
    with pytest.raises(ValueError, match=r"not in \[0, 1\]"):
        drive(OverfitDetector(monitor="val_r2", mode="max"), [{"r2": 1.5, "val_r2": 0.3}])


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"criterion": "gl5"}, "Invalid `criterion` argument value"),
        ({"criterion": "up", "threshold": 1.5}, "Invalid `threshold`"),
        ({"threshold": -1.0}, "Invalid `threshold`"),
        ({"strip_length": 1}, "Invalid `strip_length`"),
        ({"action": "raise"}, "Invalid `action`"),
        ({"monitor": "loss"}, "Invalid `train_monitor`"),
    ],
)
def test_invalid_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        OverfitDetector(**kwargs)


def test_without_validation_data_warns():
    x = np.random.default_rng(0).normal(size=(16, 2)).astype("float32")
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    detector = OverfitDetector(action="log")
    with pytest.warns(UserWarning, match="OverfitDetector: monitor='val_loss' never appeared"):
        model.fit(x, x[:, :1], epochs=2, verbose=0, callbacks=[detector])
    assert detector.trace["epoch"] == []


def test_one_element_array_logs_are_read_as_their_value():
    arrays = [{key: np.array([value], dtype="float64") for key, value in logs.items()}
              for logs in sequence()]
    detector = OverfitDetector(mode="min", action="log")
    drive(detector, arrays)
    gl, _, _, _, _ = prechelt_by_hand(TRAIN, VAL, K)
    np.testing.assert_allclose(detector.trace["gl"], gl, rtol=1e-12)
    assert isinstance(detector.best, float)


@pytest.mark.parametrize("detector_first", [True, False])
def test_early_stopping_weights_win_whatever_the_order(detector_first):
    """Both restore at the end of training: the final weights must not depend on the order."""
    other = [5.0, 4.0, 3.0, 1.0] + [2.0] * (len(VAL) - 4)  # EarlyStopping's best: epoch 3
    logs = [dict(entry, val_other=value) for entry, value in zip(sequence(), other)]
    gl, _, _, _, _ = prechelt_by_hand(TRAIN, VAL, K)
    onset = int(np.argmax(gl > 5.0))
    detector = OverfitDetector(mode="min", action="stop")
    stopper = EarlyStopping(monitor="val_other", mode="min", patience=50)
    callbacks = [detector, stopper] if detector_first else [stopper, detector]
    with pytest.warns(UserWarning, match="EarlyStopping's best"):
        model, epochs_run, _ = drive_list(callbacks, logs)
    assert (epochs_run, detector.stopped_epoch, detector.best_epoch) == (
        onset + 1, onset, int(np.argmin(VAL[: onset + 1])))
    assert weight_epoch(model) == stopper.best_epoch == 3


def test_detector_alone_restores_in_a_callback_list():
    detector = OverfitDetector(mode="min", action="stop")
    stopper = EarlyStopping(monitor="val_loss", restore_best_weights=False, patience=50)
    model, _, _ = drive_list([stopper, detector], sequence())
    assert weight_epoch(model) == detector.best_epoch == 8
