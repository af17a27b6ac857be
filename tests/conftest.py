"""Shared test set-up.

The backend is `KERAS_BACKEND` (read once, when Keras is first imported), so
each backend runs in its own pytest process: `make test` runs the whole suite
on TensorFlow and the cross-backend suite (tests marked `cross_backend`) on
JAX and torch. On another backend than TensorFlow only `cross_backend` tests
are collected, and within them `tensorflow_only` tests are skipped, saying so.

On TensorFlow, two logical CPU devices are configured here, before TensorFlow
initialises its runtime, so that every test (and the conformance harness) can
run a fit step under `tf.distribute.MirroredStrategy` on one physical CPU.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

BACKEND = keras.backend.backend()

if BACKEND == "tensorflow":
    import tensorflow as tf

    _cpus = tf.config.list_physical_devices("CPU")
    try:
        tf.config.set_logical_device_configuration(
            _cpus[0], [tf.config.LogicalDeviceConfiguration()] * 2
        )
    except RuntimeError:  # pragma: no cover - the runtime was initialised by a plugin first
        pass

import kerasext  # noqa: E402,F401  (registers every public class)
from kerasext._compat import set_random_seed  # noqa: E402

#: Set in the interpreter that tests/test_own_process.py starts for the `own_process` tests.
OWN_PROCESS_ENV = "KERASEXT_OWN_PROCESS"


def pytest_collection_modifyitems(config, items):
    """Leaves `own_process` tests to tests/test_own_process.py, which runs them in a new interpreter.

    They create process-wide TensorFlow state (a MultiWorkerMirroredStrategy, a second
    MirroredStrategy whose collective instance keys collide with the harness' one, Keras'
    trainer patched by kerasext.distribute) that would break every later
    MirroredStrategy test in the same process.
    """
    if BACKEND != "tensorflow":
        other = [item for item in items if not item.get_closest_marker("cross_backend")]
        if other:
            config.hook.pytest_deselected(items=other)
            items[:] = [item for item in items if item.get_closest_marker("cross_backend")]
    for item in items:
        marker = item.get_closest_marker("tensorflow_only")
        if marker is not None and BACKEND != "tensorflow":
            reason = marker.args[0] if marker.args else "TensorFlow-only feature"
            item.add_marker(pytest.mark.skip(reason=f"{reason} (backend: {BACKEND})"))
    if os.environ.get(OWN_PROCESS_ENV):
        return
    own = [item for item in items if item.get_closest_marker("own_process")]
    if own:
        config.hook.pytest_deselected(items=own)
        items[:] = [item for item in items if not item.get_closest_marker("own_process")]


@pytest.fixture(autouse=True)
def _isolate_keras_state():
    """Each test starts from float32, a fixed seed and a clean Keras session."""
    keras.config.set_dtype_policy("float32")
    set_random_seed(1337)
    yield
    keras.config.set_dtype_policy("float32")
    # free_memory=False skips a full gc.collect() per test (0.5-2 s each with TensorFlow
    # loaded); the graph state is still reset, and Python frees most objects by refcount.
    keras.backend.clear_session(free_memory=False)


@pytest.fixture
def rng():
    return np.random.default_rng(1337)
