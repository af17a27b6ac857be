"""What kerasext.distribute's Keras fix costs where it is not needed.

The fix changes only the multi-worker path of Keras' trainer; every other call
goes through a wrapper that checks the strategy and hands over to Keras. This
times one epoch of `fit` (digits, a kerasext MLP, global batch 64) under a
one-worker `MultiWorkerMirroredStrategy` and under the default strategy, with
Keras unpatched and with the fix applied (each model traced once during the
warm-up, in its own state). Expected ratio: 1 within timing noise.

The two-worker run itself is timed by `examples/distributed_training.py`
(it spawns the workers and prints both its time and one process's).
"""

import os
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402

import kerasext as kx  # noqa: E402
from benchmarks.timing import compare  # noqa: E402
from kerasext import distribute  # noqa: E402


def _model(strategy):
    keras.utils.set_random_seed(0)
    with strategy.scope():
        model = keras.Sequential([keras.Input((64,)), kx.layers.DenseBlock(64),
                                  kx.models.LogisticRegression(num_classes=10)])
        model.compile("sgd", "sparse_categorical_crossentropy",
                      metrics=["accuracy", kx.metrics.F1Score(num_classes=10)])
    return model


def _set_fix(enabled):
    if enabled:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            distribute.apply_keras_multi_worker_fix()
    else:
        distribute._remove_keras_multi_worker_fix()


def run(quick=False):
    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype("float32")
    count = 512 if quick else len(x) // 64 * 64
    x, y = x[:count], y[:count]
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
    return results
