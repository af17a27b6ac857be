"""Epoch time of kerasext's training steps against Keras' built-in step, on the active backend.

Runs on `KERAS_BACKEND` = tensorflow, jax or torch (`KERAS_BACKEND=jax python
-m benchmarks.run_all --only training`, or every backend side by side with
`python -m benchmarks.backends --only training`); each backend's steps are
compared with that backend's built-in `fit` (`compile`'s default
`jit_compile="auto"`: XLA on TensorFlow and JAX, eager on torch).

The same MLP on the same synthetic data (64 features, 10 classes) is trained by
`model.fit` (the built-in step), `TrainStep`, `SAM` and `AdversarialTraining`
(FGSM); each setup is compiled and traced once, then timed for one epoch at a
time, alternately, and the epoch time is read from a callback (so `fit`'s
set-up is left out). Both the wall-clock and the CPU time (all threads of the
process) of each epoch are reported: on a shared machine the CPU time is the
steadier of the two. Targets: `TrainStep` <= 1.02x (it is the same step),
`SAM` <= 2.1x and FGSM <= 2.1x (both take two forward-backward passes).
"""

import time

import keras
import numpy as np

from benchmarks.timing import Comparison, compare
from kerasext._compat import set_random_seed


class _EpochTimer(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()
        self.start_cpu = time.process_time()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds = time.perf_counter() - self.start
        self.cpu_seconds = time.process_time() - self.start_cpu


def _data(samples, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(size=(samples, 64)).astype("float32")
    y = (x @ rng.normal(size=(64, 10))).argmax(axis=1).astype("int32")
    return x, y


def _model(width):
    set_random_seed(0)
    return keras.Sequential(
        [
            keras.Input((64,)),
            keras.layers.Dense(width, activation="relu"),
            keras.layers.Dense(width, activation="relu"),
            keras.layers.Dense(10),
        ]
    )


def _setup(wrap, x, y, batch_size, width, wall_times):
    """A zero-argument callable that trains one epoch and returns its CPU seconds.

    Its wall-clock seconds are appended to `wall_times`.
    """
    trainer = wrap(_model(width))
    trainer.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    timer = _EpochTimer()

    def one_epoch():
        trainer.fit(x, y, batch_size=batch_size, epochs=1, verbose=0, callbacks=[timer])
        wall_times.append(float(timer.seconds))
        return float(timer.cpu_seconds)

    return one_epoch


_HEAVY_OPS = ("MatMul", "BiasAdd", "BiasAddGrad", "Relu", "ReluGrad")


def _traced_op_counts(wrappers, width, batch_size):
    """Markdown: the ops in each setup's traced `train_step` (machine-independent; TensorFlow)."""
    if keras.backend.backend() != "tensorflow":
        return ""
    import tensorflow as tf

    x, y = _data(2 * batch_size)
    lines = [
        f"### Ops in one traced train step (MLP 64-{width}-{width}-10)",
        "",
        "| setup | all ops | " + " | ".join(_HEAVY_OPS) + " |",
        "|---|---|" + "---|" * len(_HEAVY_OPS),
    ]
    for name, wrap in wrappers.items():
        trainer = wrap(_model(width))
        trainer.compile(
            optimizer=keras.optimizers.Adam(1e-3),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=["accuracy"],
        )
        trainer.fit(x, y, batch_size=batch_size, epochs=1, verbose=0)  # builds the optimizer
        signature = (tf.TensorSpec([batch_size, 64]), tf.TensorSpec([batch_size], tf.int32))
        graph = tf.function(trainer.train_step).get_concrete_function(signature).graph
        types = [op.type for op in graph.get_operations()]
        counts = " | ".join(str(types.count(op)) for op in _HEAVY_OPS)
        lines.append(f"| {name} | {len(types)} | {counts} |")
    return "\n".join(lines) + "\n"


def run(quick=False):
    import kerasext as kx

    samples, width, batch_size = (2048, 256, 128) if quick else (16384, 512, 128)
    repeats = 3 if quick else 7
    x, y = _data(samples)
    wrappers = {
        "built-in step (model.fit)": lambda m: m,
        "TrainStep": kx.training.TrainStep,
        "SAM(rho=0.05)": lambda m: kx.training.SAM(m, rho=0.05),
        "AdversarialTraining(fgsm)": lambda m: kx.training.AdversarialTraining(m, epsilon=0.05),
    }
    wall = {name: [] for name in wrappers}
    setups = {
        name: _setup(wrap, x, y, batch_size, width, wall[name]) for name, wrap in wrappers.items()
    }
    title = f"MLP 64-{width}-{width}-10, {samples} samples, batch {batch_size}"
    comparison = compare(f"Epoch CPU time, {title}", setups, repeats=repeats, warmup=1)
    wall_comparison = Comparison(
        f"Epoch wall-clock time, {title}",
        list(wrappers),
        {name: times[1:] for name, times in wall.items()},  # without the warm-up epoch
    )
    ratios = comparison.ratios
    wall_ratios = wall_comparison.ratios
    targets = {"TrainStep": 1.02, "SAM(rho=0.05)": 2.1, "AdversarialTraining(fgsm)": 2.1}
    verdict = f"Backend: {keras.backend.backend()}\n\n" + "\n".join(
        f"- {name}: {ratios[name]:.3f}x CPU time, {wall_ratios[name]:.3f}x wall-clock "
        f"(target <= {target}: {'met' if ratios[name] <= target else 'NOT met'})"
        for name, target in targets.items()
    )
    op_counts = _traced_op_counts(wrappers, width, batch_size)
    return [comparison, wall_comparison, verdict + "\n", op_counts]
