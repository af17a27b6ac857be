import math
import warnings

import keras
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kerasext.callbacks import EarlyStopping
from tests import conformance
from tests.callbacks.helpers import drive, losses, tiny_model, weight_epoch

pytestmark = pytest.mark.cross_backend


def test_conformance():
    conformance.run_callback_test(
        EarlyStopping,
        {"monitor": "val_loss", "patience": 1, "min_delta": 1e-3, "min_delta_mode": "relative",
         "divergence_threshold": 1e6},
        epochs=3,
    )


@settings(max_examples=60, deadline=None)
@given(
    values=st.lists(st.integers(0, 6), min_size=1, max_size=12),
    patience=st.integers(0, 4),
    min_delta=st.sampled_from([0.0, 0.5, 1.0]),
    mode=st.sampled_from(["min", "max"]),
    baseline=st.sampled_from([None, 1.5, 3.0, 4.5]),
    start_from_epoch=st.integers(0, 3),
)
def test_matches_keras_early_stopping(values, patience, min_delta, mode, baseline,
                                      start_from_epoch):
    """Without the new options it stops, and restores, exactly where Keras' callback does."""
    sequence = losses(values)
    ours = EarlyStopping(patience=patience, min_delta=min_delta, mode=mode, baseline=baseline,
                         start_from_epoch=start_from_epoch)
    model, epochs_run, _ = drive(ours, sequence)
    reference = keras.callbacks.EarlyStopping(
        patience=patience, min_delta=min_delta, mode=mode, baseline=baseline,
        restore_best_weights=True, start_from_epoch=start_from_epoch,
    )
    reference_model, reference_epochs, _ = drive(reference, sequence)
    assert epochs_run == reference_epochs
    assert (ours.best_epoch, ours.stopped_epoch, ours.wait) == (
        reference.best_epoch, reference.stopped_epoch, reference.wait)
    if reference.best is None:
        assert ours.best is None
    else:
        assert ours.best == pytest.approx(float(reference.best))
    assert weight_epoch(model) == weight_epoch(reference_model)
    assert ours.stop_reason == ("patience" if reference.stopped_epoch else "not_stopped")


def test_positional_arguments_mean_what_they_mean_in_keras():
    import inspect

    keras_names = list(inspect.signature(keras.callbacks.EarlyStopping).parameters)
    ours = inspect.signature(EarlyStopping).parameters
    assert list(ours)[: len(keras_names)] == keras_names
    for name in keras_names:  # Keras' defaults, except the documented restore_best_weights
        if name != "restore_best_weights":
            assert ours[name].default == inspect.signature(
                keras.callbacks.EarlyStopping).parameters[name].default
    args = ("val_acc", 0.5, 3, 1, "max", 0.7, False, 2)
    reference, stopper = keras.callbacks.EarlyStopping(*args), EarlyStopping(*args)
    for name in keras_names:
        assert getattr(stopper, name) == getattr(reference, name), name


def test_not_stopped_has_keras_zero_epochs():
    stopper = EarlyStopping(patience=5)
    drive(stopper, losses([3, 2, 1]))
    assert (stopper.stopped_epoch, stopper.stop_reason, stopper.best_epoch) == (
        0, "not_stopped", 2)
    if stopper.stopped_epoch > 0:  # Keras' idiom must not raise
        raise AssertionError("did not stop")
    never = EarlyStopping(monitor="val_loss")
    with pytest.warns(UserWarning, match="never appeared"):
        drive(never, [{"loss": 1.0}])
    assert (never.stopped_epoch, never.best_epoch, never.best) == (0, 0, None)


def test_one_element_array_log_is_read_as_its_value():
    """`keras.metrics.F1Score()` logs a one-element array on a single-output model."""
    sequence = [{"val_f1_score": np.array([v], dtype="float32")} for v in (0.2, 0.5, 0.4, 0.3)]
    stopper = EarlyStopping(monitor="val_f1_score", patience=2)
    model, epochs_run, _ = drive(stopper, sequence)
    reference = keras.callbacks.EarlyStopping(monitor="val_f1_score", mode="max", patience=2,
                                              restore_best_weights=True)
    reference_model, reference_epochs, _ = drive(reference, sequence)
    assert (epochs_run, stopper.stopped_epoch, stopper.best_epoch) == (
        reference_epochs, reference.stopped_epoch, reference.best_epoch)
    assert stopper.best == pytest.approx(0.5) and isinstance(stopper.best, float)
    assert weight_epoch(model) == weight_epoch(reference_model) == 1
    per_class = [{"val_f1_score": np.array([0.2, 0.4], dtype="float32")}]
    with pytest.raises(ValueError, match=r"array of shape \(2,\).*average='macro'"):
        drive(EarlyStopping(monitor="val_f1_score"), per_class)


def test_f1_score_metric_in_fit():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 3)).astype("float32")
    y = (x[:, :1] > 0).astype("float32")
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="sgd", loss="binary_crossentropy",
                  metrics=[keras.metrics.F1Score(threshold=0.5, name="f1_score")])
    stopper = EarlyStopping(monitor="val_f1_score", patience=5)
    history = model.fit(x, y, validation_data=(x, y), epochs=2, verbose=0, callbacks=[stopper])
    assert np.shape(history.history["val_f1_score"][0]) == (1,)
    assert stopper.monitor_op is keras.ops.greater  # F1Score's _direction is "up"
    assert stopper.best == pytest.approx(float(np.max(history.history["val_f1_score"])))


@pytest.mark.parametrize(
    "kwargs, values, reason, stopped, best_epoch",
    [
        # best 3.0 at epoch 2, then two epochs without improvement
        ({"patience": 2}, [5, 4, 3, 3.5, 3.2, 3.1, 1], "patience", 4, 2),
        # 0.9 < 1.0 stops at once; its weights are the best
        ({"patience": 9, "stopping_threshold": 1.0}, [3, 2, 0.9, 0.5], "stopping_threshold", 2, 2),
        # 8 > 6 is past the limit
        ({"patience": 9, "divergence_threshold": 6.0}, [5, 4, 8, 1], "divergence_threshold", 2, 1),
        ({"patience": 9}, [5, 4, float("nan"), 1], "non_finite", 2, 1),
        ({"patience": 9}, [5, 4, float("inf"), 1], "non_finite", 2, 1),
        ({"patience": 3}, [5, 4, 4.5, 3.9], "not_stopped", 0, 3),
    ],
)
def test_each_stop_reason_and_restored_weights(kwargs, values, reason, stopped, best_epoch):
    stopper = EarlyStopping(**kwargs)
    model, epochs_run, _ = drive(stopper, losses(values))
    assert stopper.stop_reason == reason
    assert stopper.stopped_epoch == stopped
    assert epochs_run == (len(values) if reason == "not_stopped" else stopped + 1)
    assert stopper.best_epoch == best_epoch
    assert stopper.best == values[best_epoch]
    assert weight_epoch(model) == best_epoch  # the best weights are restored in every case


def test_max_mode_thresholds():
    stopper = EarlyStopping(monitor="val_acc", mode="max", patience=9, stopping_threshold=0.95)
    drive(stopper, losses([0.5, 0.9, 0.96, 0.99], key="val_acc"))
    assert (stopper.stop_reason, stopper.stopped_epoch, stopper.best) == ("stopping_threshold", 2,
                                                                           0.96)
    stopper = EarlyStopping(monitor="val_acc", mode="max", patience=9, divergence_threshold=0.2)
    drive(stopper, losses([0.5, 0.6, 0.1, 0.99], key="val_acc"))
    assert (stopper.stop_reason, stopper.best_epoch) == ("divergence_threshold", 1)


def test_check_finite_off_counts_nan_as_no_improvement():
    stopper = EarlyStopping(patience=2, check_finite=False)
    model, _, _ = drive(stopper, losses([3, float("nan"), float("nan"), 1]))
    assert (stopper.stop_reason, stopper.stopped_epoch, weight_epoch(model)) == ("patience", 2, 0)


def test_relative_min_delta():
    # relative: an improvement must beat 10 by more than 10% -> 9.5 does not, 8.9 does
    stopper = EarlyStopping(patience=5, min_delta=0.1, min_delta_mode="relative")
    drive(stopper, losses([10, 9.5, 8.9, 8.5]))
    assert stopper.best_epoch == 2 and stopper.wait == 1
    absolute = EarlyStopping(patience=5, min_delta=0.1)
    drive(absolute, losses([10, 9.5, 8.9, 8.5]))
    assert absolute.best_epoch == 3


def test_baseline_follows_keras():
    stopper = EarlyStopping(patience=5, baseline=0.85)
    model, _, _ = drive(stopper, losses([1.0, 0.9, 0.8, 0.82]))
    # 1.0 and 0.9 are tracked as best but do not beat the baseline: wait 1, 2, then 0.8 resets
    assert (stopper.best_epoch, stopper.best, stopper.wait) == (2, 0.8, 1)
    assert weight_epoch(model) == 2
    # nothing beats the baseline: patience runs out, the best epoch is still restored (Keras)
    sequence = losses([1.0, 0.9, 0.8, 0.85, 0.7])
    ours = EarlyStopping(patience=2, baseline=0.5)
    model, epochs_run, _ = drive(ours, sequence)
    reference = keras.callbacks.EarlyStopping(patience=2, baseline=0.5, restore_best_weights=True)
    reference_model, reference_epochs, _ = drive(reference, sequence)
    assert (epochs_run, ours.stopped_epoch, ours.best_epoch) == (
        reference_epochs, reference.stopped_epoch, reference.best_epoch) == (4, 3, 2)
    assert (ours.stop_reason, ours.best) == ("patience", 0.8)
    assert weight_epoch(model) == weight_epoch(reference_model) == 2


def test_start_from_epoch_ignores_warm_up():
    stopper = EarlyStopping(patience=1, start_from_epoch=2)
    drive(stopper, losses([1.0, 2.0, 3.0, 2.5, 2.7]))
    assert (stopper.best_epoch, stopper.stopped_epoch) == (3, 4)


def test_patience_counts_only_epochs_with_the_monitored_value():
    sequence = [{"loss": 1.0}, {"loss": 1.0, "val_loss": 2.0}, {"loss": 1.0},
                {"loss": 1.0, "val_loss": 2.5}, {"loss": 1.0}, {"loss": 1.0, "val_loss": 2.6},
                {"loss": 1.0}]
    stopper = EarlyStopping(patience=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        # Keras 3.15's JAX and torch variables warn in `get_weights()` (NumPy 2's `copy=`).
        warnings.filterwarnings("ignore", "__array__ implementation", DeprecationWarning)
        drive(stopper, sequence)
    assert (stopper.best_epoch, stopper.stopped_epoch) == (1, 5)


def test_validation_freq_fit_runs_without_warnings():
    x = np.random.default_rng(0).normal(size=(32, 2)).astype("float32")
    y = x[:, :1]
    model = tiny_model_2d()
    stopper = EarlyStopping(patience=1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = model.fit(x, y, validation_data=(x, y), validation_freq=2, epochs=4,
                            callbacks=[stopper], verbose=0)
    assert len(history.history["val_loss"]) == 2
    assert not [w for w in caught if "EarlyStopping" in str(w.message)]
    assert stopper.best_epoch in (1, 3)


def tiny_model_2d():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    return model


def test_missing_monitor_key_lists_available_keys():
    stopper = EarlyStopping(monitor="val_acuracy")
    with pytest.raises(ValueError, match=r"val_acuracy.*Available keys: loss, val_accuracy"):
        drive(stopper, [{"loss": 1.0, "val_accuracy": 0.5}])
    never = EarlyStopping(monitor="val_loss")
    with pytest.warns(UserWarning, match="never appeared.*keys seen: loss"):
        drive(never, [{"loss": 1.0}, {"loss": 0.5}])


class Goodness(keras.metrics.Mean):
    """A metric whose name says nothing about its direction; `_direction` does."""

    def __init__(self, name="goodness", **kwargs):
        super().__init__(name=name, **kwargs)
        self._direction = "up"

    def update_state(self, y_true, y_pred, sample_weight=None):
        return super().update_state(-keras.ops.abs(y_true - y_pred), sample_weight)


def test_auto_mode_uses_metric_direction_then_names():
    x = np.random.default_rng(0).normal(size=(16, 1)).astype("float32")
    model = tiny_model(metrics=[Goodness()])
    model.fit(x, x, epochs=1, verbose=0)
    stopper = EarlyStopping(monitor="val_goodness", patience=0)
    drive(stopper, losses([-3.0, -1.0, -2.0], key="val_goodness"), model=model)
    assert (stopper.best_epoch, stopper.stopped_epoch) == (1, 2)  # maximized
    by_name = EarlyStopping(monitor="val_my_auc", patience=0)
    drive(by_name, losses([0.5, 0.7, 0.6], key="val_my_auc"))
    assert by_name.best_epoch == 1
    by_name = EarlyStopping(monitor="val_mean_error", patience=0)
    drive(by_name, losses([0.5, 0.7, 0.6], key="val_mean_error"))
    assert by_name.best_epoch == 0
    with pytest.raises(ValueError, match="mode='min' or mode='max'"):
        drive(EarlyStopping(monitor="val_zebra"), losses([1.0], key="val_zebra"))


def test_restores_when_another_callback_stops_training():
    class StopAtTwo(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 2:
                self.model.stop_training = True

    class Recorder(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.weights = []

        def on_epoch_end(self, epoch, logs=None):
            self.weights.append(self.model.get_weights())

    rng = np.random.default_rng(0)
    x = rng.normal(size=(24, 2)).astype("float32")
    y = rng.normal(size=(24, 1)).astype("float32")
    model = tiny_model_2d()
    recorder, stopper = Recorder(), EarlyStopping(patience=50)
    history = model.fit(x, y, validation_data=(x[:8], y[:8]), epochs=10, verbose=0,
                        callbacks=[recorder, stopper, StopAtTwo()])
    best = int(np.argmin(history.history["val_loss"]))
    assert len(history.history["loss"]) == 3 and stopper.stop_reason == "not_stopped"
    assert stopper.best_epoch == best
    for got, want in zip(model.get_weights(), recorder.weights[best]):
        np.testing.assert_array_equal(got, want)


def test_nan_loss_in_fit_stops_and_restores_best_finite_weights():
    class Recorder(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.weights = []

        def on_epoch_end(self, epoch, logs=None):
            self.weights.append(self.model.get_weights())

    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 4)).astype("float32") * 10.0
    y = x.sum(axis=1, keepdims=True)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse")  # diverges to inf / nan
    recorder, stopper = Recorder(), EarlyStopping(patience=100)
    history = model.fit(x, y, validation_split=0.25, epochs=200, batch_size=8, verbose=0,
                        callbacks=[recorder, stopper])
    val = history.history["val_loss"]
    assert stopper.stop_reason == "non_finite"
    assert not math.isfinite(val[-1]) and all(math.isfinite(v) for v in val[:-1])
    assert stopper.stopped_epoch == len(val) - 1
    assert stopper.best_epoch == int(np.argmin(val[:-1]))
    restored = model.get_weights()
    assert all(np.all(np.isfinite(w)) for w in restored)
    for got, want in zip(restored, recorder.weights[stopper.best_epoch]):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"mode": "maximum"}, "Invalid `mode` argument value"),
        ({"min_delta_mode": "percent"}, "Invalid `min_delta_mode`"),
        ({"patience": -1}, "Invalid `patience`"),
        ({"patience": 1.5}, "Invalid `patience`"),
        ({"min_delta": -0.1}, "Invalid `min_delta`"),
        ({"start_from_epoch": -2}, "Invalid `start_from_epoch`"),
        ({"baseline": "low"}, "Invalid `baseline`"),
        ({"stopping_threshold": float("nan")}, "Invalid `stopping_threshold`"),
        ({"monitor": ""}, "Invalid `monitor`"),
    ],
)
def test_invalid_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        EarlyStopping(**kwargs)


def test_deep_copy_after_fit_does_not_copy_the_model():
    import copy

    stopper = EarlyStopping(patience=1)
    model, _, _ = drive(stopper, losses([3, 2, 4]))
    clone = copy.deepcopy(stopper)
    assert clone.model is None and clone.best_epoch == 1
    assert clone.best_weights is not stopper.best_weights
    drive(clone, losses([1, 2]), model=tiny_model())
    assert clone.best_epoch == 0 and stopper.best_epoch == 1
