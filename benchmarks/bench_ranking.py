"""What exact AUROC costs in `fit`, and how far each AUROC is from scikit-learn's.

Cost: a small MLP (64-64-1) on scikit-learn's digits with a binary target
(odd digit), 1,797 samples, batch 32, 57 steps an epoch; epoch time of `fit`
with no metric, `keras.metrics.AUC()` (200 interpolated thresholds),
`kx.metrics.AUROC(capacity=1797)` (exact: every score kept, sorted by the
compiled result at each step and in float64 NumPy at epoch end) and
`kx.metrics.AUROC(thresholds=200)` (binned). Setups alternate in one process
(benchmarks.timing); wall time and process CPU time of the same epochs.

Accuracy: 20,000 skewed scores (10% positives, most scores near 0), the
absolute difference from `sklearn.metrics.roc_auc_score` of Keras' AUC and of
kerasext's exact and binned AUROC (with the binned mode's stated bound).
"""

import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402

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
    y = (digits.target % 2).astype("float32")
    return x, y


def _setup(metrics, x, y, *, jit_compile, cpu_times):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((64,)),
        keras.layers.Dense(64, activation="relu"),
        keras.layers.Dense(1, activation="sigmoid"),
    ])
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=metrics,
                  jit_compile=jit_compile)
    timer = _EpochTimer()

    def epoch():
        model.fit(x, y, batch_size=32, epochs=1, verbose=0, shuffle=False, callbacks=[timer])
        cpu_times.append(timer.cpu_seconds)
        return float(timer.seconds)

    return epoch


def _skewed_scores(size=20_000, seed=0):
    rng = np.random.default_rng(seed)
    y = (rng.random(size) < 0.1).astype("int32")
    logits = rng.normal(-4.0 + 2.0 * y, 1.5)
    return y, (1.0 / (1.0 + np.exp(-logits))).astype("float32")


def accuracy_table():
    y, scores = _skewed_scores()
    reference = roc_auc_score(y, scores)
    rows = []
    keras_auc = keras.metrics.AUC()
    keras_auc.update_state(y, scores)
    rows.append(("keras.metrics.AUC() (200 thresholds)", float(keras_auc.result()), ""))
    exact = kx.metrics.AUROC(capacity=len(y))
    exact.update_state(y, scores)
    rows.append(("kx.metrics.AUROC(capacity=20000), result()", float(exact.result()), ""))
    rows.append(("kx.metrics.ranking.roc_auc_score (float64)",
                 kx.metrics.ranking.roc_auc_score(y, scores), ""))
    for thresholds in (200, 1000):
        binned = kx.metrics.AUROC(thresholds=thresholds)
        binned.update_state(y, scores)
        rows.append((f"kx.metrics.AUROC(thresholds={thresholds})", float(binned.result()),
                     f"{binned.error_bound():.2e}"))
    lines = [f"AUROC of 20,000 skewed scores; scikit-learn: {reference:.12f}", "",
             "| metric | AUROC | abs. difference from scikit-learn | stated bound |",
             "|---|---|---|---|"]
    for name, value, bound in rows:
        lines.append(f"| {name} | {value:.12f} | {abs(value - reference):.2e} | {bound} |")
    return "\n".join(lines) + "\n"


def run(quick=False):
    x, y = _data()
    repeats = 5 if quick else 21
    results = [f"Machine: {machine_description()}, backend {keras.backend.backend()}\n"]
    for jit_compile in (False, True):
        candidates = {
            "no metric": [],
            "keras.metrics.AUC()": [keras.metrics.AUC()],
            "kx.metrics.AUROC(capacity=1797)": [kx.metrics.AUROC(capacity=1797)],
            "kx.metrics.AUROC(thresholds=200)": [kx.metrics.AUROC(thresholds=200)],
        }
        cpu_times = {name: [] for name in candidates}
        setups = {name: _setup(metrics, x, y, jit_compile=jit_compile, cpu_times=cpu_times[name])
                  for name, metrics in candidates.items()}
        title = f"MLP on digits, binary (57 steps), jit_compile={jit_compile}"
        results.append(compare(f"Epoch wall time of fit, {title}", setups, repeats=repeats,
                               warmup=2))
        timed = {name: times[2:] for name, times in cpu_times.items()}  # after the warm-up
        results.append(Comparison(f"Epoch process CPU time of fit, {title}", list(candidates),
                                  timed))
    results.append(accuracy_table())
    return results


if __name__ == "__main__":
    import sys

    for item in run(quick="--quick" in sys.argv):
        print(item if isinstance(item, str) else item.to_markdown())
