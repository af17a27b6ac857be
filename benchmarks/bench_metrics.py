"""What a metric costs in `fit`: epoch time with no metric, Keras' F1Score and kerasext's.

A small MLP (64-64-10) on scikit-learn's digits (1,797 samples, batch 32, 57
steps an epoch), one-hot labels so that `keras.metrics.F1Score` can read them.
Every setup is its own compiled model; one call is one epoch of `fit` and
reports the epoch's wall time (read by a callback, so tracing in the warm-up
epoch is not counted); the process CPU time of the same epochs is reported
too, as it is steadier than wall time on a shared machine. Setups alternate in
one process (benchmarks.timing).
Targets: kerasext's F1Score (macro) no slower than Keras' F1Score, and at most
5% over no metric.
"""

import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402

import kerasext as kx  # noqa: E402
from benchmarks.timing import Comparison, compare, machine_description  # noqa: E402


class _EpochTimer(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()
        self.cpu_start = time.process_time()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds = time.perf_counter() - self.start
        self.cpu_seconds = time.process_time() - self.cpu_start


def _data():
    digits = load_digits()
    x = (digits.data / 16.0).astype("float32")
    y = np.eye(10, dtype="float32")[digits.target]
    return x, y


def _setup(metrics, x, y, *, jit_compile, cpu_times):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((64,)),
        keras.layers.Dense(64, activation="relu"),
        keras.layers.Dense(10, activation="softmax"),
    ])
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=metrics,
                  jit_compile=jit_compile)
    timer = _EpochTimer()

    def epoch():
        model.fit(x, y, batch_size=32, epochs=1, verbose=0, shuffle=False, callbacks=[timer])
        cpu_times.append(timer.cpu_seconds)
        return float(timer.seconds)

    return epoch


def run(quick=False):
    x, y = _data()
    repeats = 5 if quick else 21
    results = [f"Machine: {machine_description()}\n"]
    for jit_compile in (False, True):
        candidates = {
            "no metric": [],
            "keras.metrics.F1Score(average='macro')": [keras.metrics.F1Score(average="macro")],
            "kx.metrics.F1Score(num_classes=10)": [kx.metrics.F1Score(num_classes=10)],
            "kx.metrics.ClassificationReport(num_classes=10)": [
                kx.metrics.ClassificationReport(num_classes=10)],
        }
        cpu_times = {name: [] for name in candidates}
        setups = {name: _setup(metrics, x, y, jit_compile=jit_compile, cpu_times=cpu_times[name])
                  for name, metrics in candidates.items()}
        title = f"MLP on digits (57 steps), jit_compile={jit_compile}"
        results.append(compare(f"Epoch wall time of fit, {title}", setups, repeats=repeats,
                               warmup=2))
        timed = {name: times[2:] for name, times in cpu_times.items()}  # after the warm-up
        results.append(Comparison(f"Epoch process CPU time of fit, {title}", list(candidates),
                                  timed))
    return results


if __name__ == "__main__":
    import sys

    for item in run(quick="--quick" in sys.argv):
        print(item if isinstance(item, str) else item.to_markdown())
