"""The harness must pass a sound component and fail each deliberately broken one."""

import keras
import numpy as np
import pytest
from keras import ops

from tests import conformance

PACKAGE = "kerasext_harness_tests"


@keras.saving.register_keras_serializable(package=PACKAGE)
class ScaledDense(keras.layers.Layer):
    """A sound layer: Dense times a constant scale."""

    def __init__(self, units, scale=1.0, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.scale = scale
        self.dense = keras.layers.Dense(units, dtype=self.dtype_policy)

    def build(self, input_shape):
        self.dense.build(input_shape)

    def call(self, inputs):
        return self.dense(inputs) * ops.cast(self.scale, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)

    def get_config(self):
        return {**super().get_config(), "units": self.units, "scale": self.scale}


@keras.saving.register_keras_serializable(package=PACKAGE)
class DropsScale(ScaledDense):
    """Broken: get_config drops `scale`, so a reloaded layer silently uses 1.0."""

    def get_config(self):
        config = super().get_config()
        del config["scale"]
        return config


@keras.saving.register_keras_serializable(package=PACKAGE)
class UsesLambda(ScaledDense):
    """Broken: a Lambda layer inside, which safe_mode refuses to load."""

    def __init__(self, units, scale=1.0, **kwargs):
        super().__init__(units, scale, **kwargs)
        self.double = keras.layers.Lambda(lambda x: x * 2.0)

    def call(self, inputs):
        return self.double(super().call(inputs))


@keras.saving.register_keras_serializable(package=PACKAGE)
class HardCodesFloat32(ScaledDense):
    """Broken: casts to float32 inside call, so mixed precision is silently lost."""

    def call(self, inputs):
        return ops.cast(self.dense(inputs), "float32") * self.scale


@keras.saving.register_keras_serializable(package=PACKAGE)
class IgnoresPolicy(ScaledDense):
    """Broken: its sublayer is made without dtype=self.dtype_policy, so it stays float32."""

    def __init__(self, units, scale=1.0, **kwargs):
        super().__init__(units, scale, **kwargs)
        self.dense = keras.layers.Dense(units)

    def call(self, inputs):
        return ops.cast(self.dense(inputs), self.compute_dtype) * ops.cast(
            self.scale, self.compute_dtype)


@keras.saving.register_keras_serializable(package=PACKAGE)
class BuildsInCall(ScaledDense):
    """Broken: `build` creates nothing; the weights appear at the first call."""

    def build(self, input_shape):
        pass


@keras.saving.register_keras_serializable(package=PACKAGE)
class BatchCentered(ScaledDense):
    """Broken: subtracts the batch mean, so each replica of a MirroredStrategy sees another mean."""

    def call(self, inputs):
        outputs = super().call(inputs)
        return outputs - ops.mean(outputs, axis=0, keepdims=True)


@keras.saving.register_keras_serializable(package=PACKAGE)
class NeverResets(keras.metrics.Metric):
    """Broken metric: reset_state does nothing, so a second epoch counts the first."""

    def __init__(self, name="never_resets", **kwargs):
        super().__init__(name=name, **kwargs)
        self.total = self.add_variable(shape=(), initializer="zeros", name="total")

    def update_state(self, y_true, y_pred, sample_weight=None):
        self.total.assign_add(ops.cast(ops.sum(y_pred), self.dtype))

    def result(self):
        return self.total

    def reset_state(self):
        pass


class CountsForever(keras.callbacks.Callback):
    """Broken callback: its epoch counter is never reset between fits."""

    def __init__(self):
        super().__init__()
        self.epochs_seen = 0

    def on_epoch_end(self, epoch, logs=None):
        self.epochs_seen += 1


@keras.saving.register_keras_serializable(package=PACKAGE)
class SumOverReplicasStep(keras.Model):
    """Broken step: sums the per-replica mean losses, so N replicas take an N-times step."""

    def __init__(self, model, **kwargs):
        super().__init__(**kwargs)
        self.model = model

    def call(self, inputs, training=False):
        return self.model(inputs, training=training)

    def train_step(self, data):
        import tensorflow as tf

        x, y = data
        with tf.GradientTape() as tape:
            loss = ops.mean(ops.square(self(x, training=True) - y))
        gradients = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply(gradients, self.trainable_variables)
        return {"loss": loss}

    def get_config(self):
        return {**super().get_config(), "model": keras.saving.serialize_keras_object(self.model)}

    @classmethod
    def from_config(cls, config):
        config["model"] = keras.saving.deserialize_keras_object(config["model"])
        return cls(**config)


X = np.random.default_rng(0).normal(size=(8, 5)).astype("float32")


def test_sound_layer_passes():
    conformance.run_layer_test(
        ScaledDense, {"units": 3, "scale": 2.0}, X, expected_output_shape=(8, 3)
    )


def test_dropped_config_argument_fails():
    with pytest.raises(AssertionError, match="drops the constructor argument `scale`"):
        conformance.run_layer_test(DropsScale, {"units": 3, "scale": 2.0}, X)


def test_lambda_layer_fails():
    with pytest.raises(AssertionError, match="Lambda"):
        conformance.run_layer_test(UsesLambda, {"units": 3}, X, run_config=False)


def test_hard_coded_float32_fails():
    with pytest.raises(AssertionError, match="mixed_float16.*float32"):
        conformance.run_layer_test(
            HardCodesFloat32, {"units": 3, "scale": 2.0}, X, run_saving=False
        )


def test_metric_that_never_resets_fails():
    y_pred = np.abs(X)
    with pytest.raises(AssertionError, match="after reset_state"):
        conformance.run_metric_test(NeverResets, {}, y_pred, y_pred)


def test_sound_metric_passes_against_numpy():
    y_true = np.array([0, 1, 1, 0, 1, 2, 2, 0])
    y_pred = np.eye(3)[[0, 1, 0, 0, 1, 2, 1, 0]].astype("float32")
    conformance.run_metric_test(
        keras.metrics.SparseCategoricalAccuracy,
        {},
        y_true,
        y_pred,
        expected=np.mean(y_true == y_pred.argmax(-1)),
    )


def test_callback_with_state_leaking_across_fits_fails():
    with pytest.raises(AssertionError, match="reuse"):
        conformance.run_callback_test(CountsForever, {}, epochs=2, run_config=False)


def test_training_step_without_replica_scaling_fails():
    def model_fn():
        return keras.Sequential([keras.Input((5,)), keras.layers.Dense(1)])

    y = X[:, :1] * 3.0
    with pytest.raises(AssertionError, match="weights after one step differ"):
        conformance.run_training_step_test(
            SumOverReplicasStep, {}, model_fn, X, y, run_mixed_precision=False, run_jit=False,
            run_saving=False, run_config=False, run_deepcopy=False,
        )


def test_sublayer_ignoring_the_dtype_policy_fails():
    with pytest.raises(AssertionError, match=r"mixed_float16.*sublayer 'dense(_\d+)?'.*float32"):
        conformance.run_layer_test(IgnoresPolicy, {"units": 3, "scale": 2.0}, X,
                                   run_saving=False, run_jit=False, run_distributed=False)


def test_weights_created_outside_build_fail():
    with pytest.raises(AssertionError, match="build\\(\\) creates 0 weights, calling the layer 2"):
        conformance.run_layer_test(BuildsInCall, {"units": 3}, X, run_saving=False)


def test_weight_counts_are_checked():
    conformance.run_layer_test(ScaledDense, {"units": 3}, X, run_saving=False,
                               run_jit=False, run_distributed=False, run_mixed_precision=False,
                               expected_num_trainable_weights=2,
                               expected_num_non_trainable_weights=0)
    with pytest.raises(AssertionError, match="2 trainable weights, expected 3"):
        conformance.run_layer_test(ScaledDense, {"units": 3}, X, run_saving=False,
                                   expected_num_trainable_weights=3)


@pytest.mark.tensorflow_only("tf.distribute is TensorFlow-only")
def test_distributed_step_differing_from_one_device_fails():
    with pytest.raises(AssertionError, match="MirroredStrategy check failed: predictions differ"):
        conformance.run_layer_test(BatchCentered, {"units": 3, "scale": 2.0}, X,
                                   run_saving=False, run_mixed_precision=False, run_jit=False)
