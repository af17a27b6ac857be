"""What kerasext.distribute's Keras fix costs where it is not needed.

The fix changes only the multi-worker path of Keras' trainer; every other call
goes through a wrapper that checks the strategy and hands over to Keras. This
times one epoch of `fit` (digits, a kerasext MLP, global batch 64) under a
one-worker `MultiWorkerMirroredStrategy` and under the default strategy, with
Keras unpatched and with the fix applied (each model traced once during the
warm-up, in its own state). Expected ratio: 1 within timing noise.

The two-worker run itself is timed by `examples/distributed_training.py`
(it spawns the workers and prints both its time and one process's).

On JAX (a process of its own, `XLA_FLAGS=--xla_force_host_platform_device_count=2`):
one epoch of the same model and data on one device against `keras.distribution.DataParallel`
over two host CPU devices, global batch 64. Both "devices" share the same CPU cores, so this is
what splitting every batch (and gathering the gradients) costs, not a speed-up; the line under
the table says how far the two runs' weights are apart after the timed epochs (float32
rounding: the runs are the same computation).
"""

import json
import os
import subprocess
import sys
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402

import kerasext as kx  # noqa: E402
from benchmarks.timing import Comparison, compare  # noqa: E402
from kerasext import distribute  # noqa: E402


def _model(strategy=None):
    keras.utils.set_random_seed(0)
    with strategy.scope() if strategy is not None else _no_scope():
        model = keras.Sequential([keras.Input((64,)), kx.layers.DenseBlock(64),
                                  kx.models.LogisticRegression(num_classes=10)])
        model.compile("sgd", "sparse_categorical_crossentropy",
                      metrics=["accuracy", kx.metrics.F1Score(num_classes=10)])
    return model


class _no_scope:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


def _digits(quick):
    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype("float32")
    count = 512 if quick else len(x) // 64 * 64
    return x[:count], y[:count], count


def _set_fix(enabled):
    if enabled:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            distribute.apply_keras_multi_worker_fix()
    else:
        distribute._remove_keras_multi_worker_fix()


def run(quick=False):
    import tensorflow as tf

    x, y, count = _digits(quick)
    was_applied = bool(distribute._originals)
    results = []
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            strategies = {
                "default strategy": tf.distribute.get_strategy(),
                "one-worker MultiWorkerMirroredStrategy": tf.distribute.MultiWorkerMirroredStrategy(),
            }
        for label, strategy in strategies.items():
            models = {False: _model(strategy), True: _model(strategy)}

            def epoch(enabled, models=models):
                _set_fix(enabled)
                models[enabled].fit(x, y, batch_size=64, epochs=1, shuffle=False, verbose=0)

            results.append(compare(
                f"fit, one epoch of {count} digits, {label}: Keras as installed vs with the fix",
                {"Keras as installed": lambda epoch=epoch: epoch(False),
                 "with kerasext.distribute fix": lambda epoch=epoch: epoch(True)},
                repeats=3 if quick else 9,
            ))
    finally:
        _set_fix(was_applied)
    return results + _run_jax(quick)


def _run_jax(quick):
    """The JAX part, in a child process with two host CPU devices."""
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu",
           "XLA_FLAGS": "--xla_force_host_platform_device_count=2"}
    completed = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_distribute", "--jax-child",
         "--quick" if quick else "--full"],
        env=env, capture_output=True, text=True, timeout=900,
    )
    lines = [line for line in completed.stdout.splitlines() if line.startswith("{")]
    if completed.returncode != 0 or not lines:
        return [f"JAX part failed ({completed.returncode}):\n```\n{completed.stderr[-2000:]}\n```\n"]
    out = json.loads(lines[-1])
    table = Comparison(out["title"], out["names"], out["times"])
    note = (f"max |weight difference| between the two runs after {out['epochs']} epochs each: "
            f"{out['max_weight_difference']:.2e}\n")
    return [table, note]


def _jax_child(quick):
    import jax

    assert keras.backend.backend() == "jax" and jax.device_count() == 2, jax.devices()
    x, y, count = _digits(quick)
    data_parallel = keras.distribution.DataParallel()
    models = {"one device": _model()}
    keras.distribution.set_distribution(data_parallel)
    models["DataParallel, 2 host devices"] = _model()
    keras.distribution.set_distribution(None)
    epochs = {name: 0 for name in models}

    def epoch(name):
        keras.distribution.set_distribution(data_parallel if name != "one device" else None)
        try:
            models[name].fit(x, y, batch_size=64, epochs=1, shuffle=False, verbose=0)
        finally:
            keras.distribution.set_distribution(None)
        epochs[name] += 1

    result = compare(
        f"JAX: fit, one epoch of {count} digits, one device vs DataParallel on 2 host CPU devices",
        {name: (lambda name=name: epoch(name)) for name in models},
        repeats=3 if quick else 9,
    )
    weights = [m.get_weights() for m in models.values()]
    assert len(set(epochs.values())) == 1, epochs
    print(json.dumps({
        "title": result.title, "names": result.names, "times": result.times,
        "epochs": epochs["one device"],
        "max_weight_difference": max(float(np.abs(a - b).max()) for a, b in zip(*weights)),
    }))


if __name__ == "__main__" and "--jax-child" in sys.argv:
    _jax_child("--quick" in sys.argv)
