"""kerasext on every backend: imports, TensorFlow-free environments, and the TF-only corners.

`import kerasext` must import TensorFlow only when the backend is TensorFlow,
and every component but `kerasext.distribute` must run where TensorFlow is not
importable at all. These checks start a fresh interpreter (the backend is
read when Keras is first imported) with the backend of this pytest process.
"""

import json
import os
import subprocess
import sys
import textwrap

import keras
import pytest

from kerasext import distribute

pytestmark = pytest.mark.cross_backend

BACKEND = keras.backend.backend()

# A finder that makes `import tensorflow` fail as it does where TensorFlow is not installed.
# As where TensorFlow is not installed: `import tensorflow` raises ModuleNotFoundError and
# `importlib.util.find_spec("tensorflow")` (which torch._dynamo and Keras probe) returns None.
BLOCK_TENSORFLOW = textwrap.dedent(
    """
    import sys

    sys.modules["tensorflow"] = None
    """
)


def run_python(code, *, timeout=600):
    env = {**os.environ, "KERAS_BACKEND": BACKEND, "TF_CPP_MIN_LOG_LEVEL": "3"}
    completed = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=timeout
    )
    assert completed.returncode == 0, (
        f"exit code {completed.returncode}\nstdout:\n{completed.stdout[-4000:]}\n"
        f"stderr:\n{completed.stderr[-6000:]}"
    )
    return completed.stdout


def test_import_kerasext_loads_tensorflow_only_on_the_tensorflow_backend():
    out = run_python(
        "import sys, json\n"
        "import kerasext as kx\n"
        "import kerasext.training, kerasext.metrics, kerasext.callbacks, kerasext.tuning\n"
        "print(json.dumps({'backend': __import__('keras').backend.backend(),\n"
        "                  'tensorflow': 'tensorflow' in sys.modules}))\n"
    )
    report = json.loads(out.strip().splitlines()[-1])
    assert report["backend"] == BACKEND
    assert report["tensorflow"] == (BACKEND == "tensorflow")


@pytest.mark.skipif(BACKEND == "tensorflow", reason="the TensorFlow backend needs TensorFlow")
def test_every_component_but_distribute_runs_without_tensorflow(tmp_path):
    code = BLOCK_TENSORFLOW + textwrap.dedent(
        f"""
        import os
        import numpy as np
        import keras
        import kerasext as kx
        from kerasext._compat import set_random_seed

        set_random_seed(0)
        rng = np.random.default_rng(0)
        x = rng.normal(size=(48, 4)).astype("float32")
        y = (x[:, 0] + x[:, 1] > 0).astype("int32")

        def build():
            return keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])

        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        # training steps, metrics and callbacks in one fit
        for trainer in (kx.training.TrainStep(build()), kx.training.SAM(build()),
                        kx.training.AdversarialTraining(build(), epsilon=0.05)):
            trainer.compile(optimizer="sgd", loss=loss,
                            metrics=[kx.metrics.F1Score(num_classes=2, from_logits=True)])
            trainer.fit(x, y, validation_split=0.25, epochs=2, batch_size=16, verbose=0,
                        callbacks=[kx.callbacks.EarlyStopping(patience=1),
                                   kx.callbacks.OverfitDetector(action="log"),
                                   kx.callbacks.BackupAndRestore({str(tmp_path / 'backup')!r})])
        # layers and models
        model = kx.models.LogisticRegression(num_classes=2)
        model.compile(optimizer="sgd", loss="binary_crossentropy")
        model.fit(x, y, epochs=1, verbose=0)
        path = os.path.join({str(tmp_path)!r}, "model.keras")
        model.save(path)
        keras.saving.load_model(path)
        kx.layers.DenseBlock(4)(x)
        # model selection and tuning
        def build_compiled():
            m = kx.models.LogisticRegression(num_classes=2)
            m.compile(optimizer="sgd", loss="binary_crossentropy")
            return m
        kx.model_selection.cross_validate(build_compiled, x, y, cv=2,
                                          fit_kwargs={{"epochs": 1}}, seed=0)
        print(kx.tuning.describe(kx.tuning.HyperLogisticRegression(input_dim=4, num_classes=2)))
        print(kx.distribute.is_chief())
        try:
            kx.distribute.multi_worker_strategy()
        except RuntimeError as error:
            assert "keras.distribution" in str(error) or "torch" in str(error), error
        else:
            raise AssertionError("multi_worker_strategy() did not raise without TensorFlow")
        import sys
        assert sys.modules.get("tensorflow") is None  # still blocked: never imported
        print("OK")
        """
    )
    assert run_python(code).strip().splitlines()[-1] == "OK"


@pytest.mark.skipif(BACKEND == "tensorflow", reason="tf.distribute is the TensorFlow engine")
@pytest.mark.parametrize("call", [distribute.multi_worker_strategy,
                                  distribute.apply_keras_multi_worker_fix])
def test_distribute_off_tensorflow_says_what_to_use_instead(call):
    with pytest.raises(RuntimeError) as raised:
        call()
    message = str(raised.value)
    assert "TensorFlow backend only" in message and repr(BACKEND) in message
    if BACKEND == "jax":
        assert "keras.distribution" in message
    else:
        assert "no keras.distribution" in message


@pytest.mark.parametrize(
    "config, chief",
    [
        (None, True),
        ({"cluster": {"worker": ["a:1", "b:2"]}, "task": {"type": "worker", "index": 0}}, True),
        ({"cluster": {"worker": ["a:1", "b:2"]}, "task": {"type": "worker", "index": 1}}, False),
        ({"cluster": {"chief": ["c:0"], "worker": ["a:1"]}, "task": {"type": "chief", "index": 0}}, True),
        ({"cluster": {"chief": ["c:0"], "worker": ["a:1"]}, "task": {"type": "worker", "index": 0}}, False),
        ({"cluster": {"worker": ["a:1"], "evaluator": ["e:1"]}, "task": {"type": "evaluator", "index": 0}}, False),
    ],
)
def test_is_chief_follows_tf_config_on_every_backend(monkeypatch, config, chief):
    if config is None:
        monkeypatch.delenv("TF_CONFIG", raising=False)
    else:
        monkeypatch.setenv("TF_CONFIG", json.dumps(config))
    assert distribute.is_chief() is chief
