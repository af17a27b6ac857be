"""kerasext._memory: models trained one after another leave nothing behind once released."""

import gc
import sys

import keras
import numpy as np
import pytest

import kerasext as kx
from kerasext import _memory

#: The leak and its fix concern TensorFlow's gradient registry; the module imports
#: TensorFlow only inside these tests, so that collecting it on JAX or torch does not.
tensorflow_only = pytest.mark.tensorflow_only("TensorFlow's gradient registry")


def _live_graphs():
    from tensorflow.python.framework import func_graph

    gc.collect()
    return sum(isinstance(o, func_graph.FuncGraph) for o in gc.get_objects())


def _train_one(x, y):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4), keras.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    model.fit(x, y, batch_size=4, epochs=1, verbose=0)


DATA = (np.zeros((8, 3), "float32"), np.zeros((8, 1), "float32"))


@tensorflow_only
def test_the_leak_exists_without_the_release():
    """What the release fixes: a deleted model's train graph stays in the gradient registry."""
    before_names, before_graphs = _memory.custom_gradient_names(), _live_graphs()
    for _ in range(3):
        keras.backend.clear_session()
        _train_one(*DATA)
    gc.collect()
    new = _memory.custom_gradient_names() - before_names
    # One custom gradient (the optimizer's all_reduce) and at least one graph per trained model.
    assert len(new) >= 3, new
    assert _live_graphs() - before_graphs >= 3
    # Forgetting them frees the graphs: nothing else held them.
    assert _memory.forget_custom_gradients(new) == len(new)
    assert _live_graphs() <= before_graphs
    assert not (_memory.custom_gradient_names() & new)


@tensorflow_only
def test_session_releaser_frees_the_models_trained_between_calls():
    release = _memory.SessionReleaser()
    release()
    baseline_graphs, mark = _live_graphs(), release.mark
    for _ in range(4):
        release()
        _train_one(*DATA)
    release()
    assert not (_memory.custom_gradient_names() - mark)
    assert _live_graphs() <= baseline_graphs


@tensorflow_only
def test_session_releaser_keeps_registrations_made_before_its_first_call():
    import tensorflow as tf

    @tf.custom_gradient
    def doubled(x):
        return 2.0 * x, lambda dy: 2.0 * dy

    @tf.function
    def grad(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = doubled(x)
        return tape.gradient(y, x)

    before = _memory.custom_gradient_names()
    assert float(grad(tf.constant(3.0))) == 2.0
    users = _memory.custom_gradient_names() - before
    assert len(users) == 1
    release = _memory.SessionReleaser()
    release()  # first call: only marks
    _train_one(*DATA)
    release()
    assert users <= _memory.custom_gradient_names()


@pytest.mark.cross_backend
def test_session_releaser_keeps_the_dtype_policy():
    keras.config.set_dtype_policy("mixed_float16")
    try:
        _memory.SessionReleaser()()
        assert keras.config.dtype_policy().name == "mixed_float16"
    finally:
        keras.config.set_dtype_policy("float32")


@tensorflow_only
def test_forget_ignores_names_that_are_not_custom_gradients():
    from tensorflow.python.framework import ops

    assert "MatMul" in ops._gradient_registry.list()
    assert _memory.forget_custom_gradients(["MatMul", "CustomGradient-no-such"]) == 0
    assert "MatMul" in ops._gradient_registry.list()


@tensorflow_only
@pytest.mark.slow
def test_cross_validate_leaves_no_fold_graph_behind():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 3)).astype("float32")
    y = (x[:, 0] > 0).astype("int32")
    before_names, before_graphs = _memory.custom_gradient_names(), _live_graphs()

    def build():
        model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, activation="softmax")])
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        return model

    result = kx.model_selection.cross_validate(build, x, y, cv=4, fit_kwargs={"epochs": 1}, seed=0)
    assert len(result.fold_scores) == 4
    assert not (_memory.custom_gradient_names() - before_names)
    assert _live_graphs() <= before_graphs


@pytest.mark.cross_backend
def test_session_releaser_clears_the_session_without_tensorflow_off_its_backend(monkeypatch):
    """Off TensorFlow the release is `clear_session` and garbage collection, nothing imported."""
    if keras.backend.backend() == "tensorflow":
        pytest.skip("TensorFlow is the backend")
    imported = []

    class Recorder:  # a meta-path finder that records, and refuses, TensorFlow imports
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("tensorflow", "tensorboard"):
                imported.append(name)
                raise ImportError(f"test: {name} may not be imported on {keras.backend.backend()}")
            return None

    for name in [m for m in sys.modules if m.split(".")[0] == "tensorflow"]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setattr(sys, "meta_path", [Recorder(), *sys.meta_path])
    cleared = []
    real_clear = keras.backend.clear_session
    monkeypatch.setattr(keras.backend, "clear_session",
                        lambda **kwargs: (cleared.append(kwargs), real_clear(**kwargs)))
    release = _memory.SessionReleaser()
    for _ in range(2):
        release()
        _train_one(*DATA)
    release()
    assert len(cleared) == 3 and not imported
    assert _memory.custom_gradient_names() == frozenset() and release.mark == frozenset()
