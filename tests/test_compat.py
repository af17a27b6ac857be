"""Tripwires: one test per private upstream name kerasext uses (kerasext/_compat.py).

Each fails, naming the installed versions, when the internal is gone or has
changed shape, so that a new Keras, TensorFlow or keras-tuner release is caught
here rather than by a fix that stops working. References are Keras' own
behaviour (a fit's epoch count, an Embedding's mask, a seeded draw).
"""

import inspect
import os
import warnings

import keras
import numpy as np
import pytest

from kerasext import _compat

pytestmark = pytest.mark.cross_backend

VERSIONS = _compat.installed_versions()


def _tripwire(condition, item):
    assert condition, f"{item} is gone or changed in {VERSIONS}; update kerasext/_compat.py"


def _tiny_model():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse", metrics=["mae"])
    return model


DATA = (np.ones((8, 3), "float32"), np.ones((8, 1), "float32"))


def test_seed_state_draws_repeat_after_reseeding():
    _tripwire(_compat.seed_state() is not None, "keras.src global seed state")
    with warnings.catch_warnings():
        warnings.simplefilter("error", _compat.CompatWarning)
        _compat.set_random_seed(7)
        first = keras.ops.convert_to_numpy(keras.random.uniform((5,)))
        initializer = keras.ops.convert_to_numpy(keras.initializers.GlorotUniform()((3, 2)))
        _compat.set_random_seed(7)
        again = keras.ops.convert_to_numpy(keras.random.uniform((5,)))
        initializer_again = keras.ops.convert_to_numpy(keras.initializers.GlorotUniform()((3, 2)))
        _compat.set_random_seed(8)
        other = keras.ops.convert_to_numpy(keras.random.uniform((5,)))
    np.testing.assert_array_equal(first, again)
    np.testing.assert_array_equal(initializer, initializer_again)
    assert not np.array_equal(first, other)


def test_get_keras_mask_reads_an_embedding_mask():
    _tripwire(_compat._keras_mask_getter() is not None,
              "keras.src.backend.common.masking.get_keras_mask")
    ids = np.array([[1, 2, 0, 0], [3, 0, 0, 0]], "int32")
    layer = keras.layers.Embedding(5, 2, mask_zero=True)
    outputs = layer(ids)
    mask = _compat.get_keras_mask(outputs)
    _tripwire(mask is not None, "the mask Keras attaches to a layer's output")
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(mask), ids != 0)
    assert _compat.get_keras_mask(keras.ops.ones((2, 2))) is None


def test_metric_direction_of_keras_metrics():
    for metric, expected in [(keras.metrics.Accuracy(), "up"), (keras.metrics.AUC(), "up"),
                             (keras.metrics.MeanSquaredError(), "down")]:
        _tripwire(_compat.metric_direction(metric) == expected,
                  f"{type(metric).__name__}.{_compat.METRIC_DIRECTION_ATTRIBUTE}")
    # Keras' own monitor callbacks read the same attribute in mode="auto".
    source = inspect.getsource(keras.callbacks.EarlyStopping.__mro__[1])
    _tripwire(_compat.METRIC_DIRECTION_ATTRIBUTE in source,
              "Keras' MonitorCallback reading metric._direction")


def test_direct_sublayers_are_the_layers_a_variable_path_names():
    inner = keras.layers.Dense(2, name="inner")

    class Outer(keras.layers.Layer):
        def __init__(self):
            super().__init__(name="outer")
            self.inner = inner

        def build(self, shape):
            self.inner.build(shape)

        def call(self, x):
            return self.inner(x)

    outer = Outer()
    outer.build((None, 3))
    children = _compat.direct_sublayers(outer)
    _tripwire([c.name for c in children] == ["inner"], "keras Layer._flatten_layers")
    # Keras' own variable path goes through the same child names.
    _tripwire(inner.kernel.path == "outer/inner/kernel", "keras variable paths")


def test_compiled_metric_containers_hold_the_compiled_metrics():
    containers = _compat.compiled_metric_containers()
    _tripwire(len(containers) == 2, "keras.src.trainers.compile_utils.CompileMetrics")
    model = _tiny_model()
    model.fit(*DATA, epochs=1, verbose=0)
    wrapped = [m for m in model.metrics if isinstance(m, containers)]
    _tripwire(len(wrapped) == 1, "CompileMetrics in model.metrics")
    names = [m.name for m in wrapped[0].metrics]
    _tripwire(names == ["mae"], f"CompileMetrics.metrics (found {names})")


def test_initial_epoch_moves_the_start_of_fit():
    model = _tiny_model()
    _tripwire(hasattr(model, _compat.INITIAL_EPOCH_ATTRIBUTE), "keras.Model._initial_epoch")
    _compat.set_initial_epoch(model, 2)
    history = model.fit(*DATA, epochs=3, verbose=0)
    _tripwire(len(history.history["loss"]) == 1, "fit reading model._initial_epoch")
    _compat.set_initial_epoch(model, None)
    history = model.fit(*DATA, epochs=3, verbose=0)
    assert len(history.history["loss"]) == 3


def test_print_msg_and_remote_paths(capsys):
    _compat.print_msg("hello")
    assert capsys.readouterr().out == "hello\n"
    assert _compat.is_remote_path("gs://bucket/x") and _compat.is_remote_path("/gcs/x")
    assert not _compat.is_remote_path("/tmp/backup")


def _tiny_tuner(tmp_path):
    import keras_tuner

    def build(hp):
        model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(hp.Int("units", 1, 2))])
        model.compile(optimizer="sgd", loss="mse")
        return model

    return keras_tuner.RandomSearch(build, objective="loss", max_trials=1,
                                    directory=str(tmp_path), project_name="p")


def test_tuner_build_hook_is_called_by_try_build(tmp_path):
    tuner = _tiny_tuner(tmp_path)
    calls = []
    original = getattr(tuner, _compat.BUILD_HYPERMODEL)

    def recording(hp):
        calls.append(hp)
        return original(hp)

    setattr(tuner, _compat.BUILD_HYPERMODEL, recording)
    hp = tuner.oracle.get_space()
    model = _compat.try_build(tuner, hp)
    assert isinstance(model, keras.Model)
    _tripwire(calls == [hp], "keras_tuner.Tuner._try_build calling _build_hypermodel")


def test_tuner_files_and_callback(tmp_path):
    import keras_tuner

    tuner = _tiny_tuner(tmp_path)
    trial = tuner.oracle.create_trial("tuner0")
    trial_dir = tuner.get_trial_dir(trial.trial_id)
    for path in (_compat.checkpoint_fname(tuner, trial.trial_id),
                 _compat.build_config_fname(tuner, trial.trial_id)):
        _tripwire(os.path.dirname(path) == trial_dir, f"keras-tuner file {path}")
    # load_model reads the weights where checkpoint_fname says.
    model = _compat.try_build(tuner, trial.hyperparameters)
    model.set_weights([np.full(w.shape, 0.5, "float32") for w in model.get_weights()])
    model.save_weights(_compat.checkpoint_fname(tuner, trial.trial_id))
    loaded = tuner.load_model(trial)
    np.testing.assert_array_equal(loaded.get_weights()[0], model.get_weights()[0])

    callbacks = [keras.callbacks.TensorBoard(str(tmp_path / "logs"))]
    _compat.configure_tensorboard_dir(tuner, callbacks, trial, 1)
    _tripwire(trial.trial_id in callbacks[0].log_dir, "Tuner._configure_tensorboard_dir")

    callback_class = _compat.tuner_callback_class()
    _tripwire(issubclass(callback_class, keras.callbacks.Callback)
              and _compat.parameters_of(callback_class.__init__)[1:3] == ["tuner", "trial"],
              "keras_tuner.src.engine.tuner_utils.TunerCallback(tuner, trial)")
    assert keras_tuner.Objective  # the public API the rest uses


@pytest.mark.tensorflow_only("TensorFlow's gradient registry")
def test_gradient_registry_records_traced_custom_gradients():
    import tensorflow as tf

    registry = _compat.gradient_registry()
    _tripwire(isinstance(registry, dict), _compat.GRADIENT_REGISTRY)
    before = set(registry)

    @tf.custom_gradient
    def identity(x):
        return tf.identity(x), lambda dy: dy

    @tf.function
    def traced(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = identity(x)
        return tape.gradient(y, x)

    traced(tf.constant(1.0))
    new = set(registry) - before
    _tripwire(any(name.startswith("CustomGradient-") for name in new),
              f"custom gradients registered in {_compat.GRADIENT_REGISTRY}")
    for name in new:
        registry.pop(name)


@pytest.mark.tensorflow_only("Keras' TensorFlow trainer")
@pytest.mark.parametrize("spot", sorted(_compat.MULTI_WORKER_SPOTS))
def test_multi_worker_spots_have_the_shape_the_fix_replaces(spot):
    owner, attribute = _compat.trainer_spot(spot)  # raises, naming the versions, if changed
    assert callable(getattr(owner, attribute))


@pytest.mark.skipif(keras.backend.backend() != "torch", reason="torch Variable internals")
def test_torch_variable_tensor_is_the_tensor_keras_reads():
    _tripwire(_compat._torch_variable_internals() is not None,
              "keras.src torch Variable internals (stateless, autocast, device)")
    variable = keras.metrics.Sum().variables[0]
    tensor = _compat.torch_variable_tensor(variable)
    _tripwire(tensor is not None and tensor is keras.ops.convert_to_tensor(variable),
              "keras.Variable._value (torch)")
    with keras.StatelessScope():
        assert _compat.torch_variable_tensor(variable) is None


def test_a_missing_item_warns_naming_the_versions(monkeypatch):
    _compat._warn_once.cache_clear()
    monkeypatch.setattr(_compat, "_KERAS_MASK_GETTER", None)
    with pytest.warns(_compat.CompatWarning, match=f"keras {keras.version()}"):
        _compat.get_keras_mask(keras.ops.ones((2,)))
    _compat._warn_once.cache_clear()
    tuner = object()
    with pytest.raises(RuntimeError, match="keras_tuner.Tuner._try_build"):
        _compat.try_build(tuner, None)
