"""Epoch time of kerasext's training steps against Keras' built-in step.

The same MLP on the same synthetic data (64 features, 10 classes) is trained by
`model.fit` (the built-in step), `TrainStep`, `SAM` and `AdversarialTraining`
(FGSM); each setup is compiled and traced once, then timed for one epoch at a
time, alternately, and the epoch time is read from a callback (so `fit`'s
set-up is left out). Targets: `TrainStep` <= 1.02x (it is the same step),
`SAM` <= 2.1x and FGSM <= 2.1x (both take two forward-backward passes).
"""

import time

import keras
import numpy as np

from benchmarks.timing import compare


class _EpochTimer(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds = time.perf_counter() - self.start


def _data(samples, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(size=(samples, 64)).astype("float32")
    y = (x @ rng.normal(size=(64, 10))).argmax(axis=1).astype("int32")
    return x, y


def _model(width):
    keras.utils.set_random_seed(0)
    return keras.Sequential(
        [
            keras.Input((64,)),
            keras.layers.Dense(width, activation="relu"),
            keras.layers.Dense(width, activation="relu"),
            keras.layers.Dense(10),
        ]
    )


def _setup(wrap, x, y, batch_size, width):
    """A zero-argument callable that trains one epoch and returns its seconds."""
    trainer = wrap(_model(width))
    trainer.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    timer = _EpochTimer()

    def one_epoch():
        trainer.fit(x, y, batch_size=batch_size, epochs=1, verbose=0, callbacks=[timer])
        return float(timer.seconds)

    return one_epoch


def run(quick=False):
    import kerasext as kx

    samples, width, batch_size = (2048, 256, 128) if quick else (16384, 512, 128)
    repeats = 3 if quick else 7
    x, y = _data(samples)
    setups = {
        "built-in step (model.fit)": _setup(lambda m: m, x, y, batch_size, width),
        "TrainStep": _setup(kx.training.TrainStep, x, y, batch_size, width),
        "SAM(rho=0.05)": _setup(lambda m: kx.training.SAM(m, rho=0.05), x, y, batch_size, width),
        "AdversarialTraining(fgsm)": _setup(
            lambda m: kx.training.AdversarialTraining(m, epsilon=0.05), x, y, batch_size, width
        ),
    }
    comparison = compare(
        f"Epoch time, MLP 64-{width}-{width}-10, {samples} samples, batch {batch_size}",
        setups,
        repeats=repeats,
        warmup=1,
    )
    ratios = comparison.ratios
    targets = {"TrainStep": 1.02, "SAM(rho=0.05)": 2.1, "AdversarialTraining(fgsm)": 2.1}
    verdict = "\n".join(
        f"- {name}: {ratios[name]:.3f}x (target <= {target}) "
        f"{'met' if ratios[name] <= target else 'NOT met'}"
        for name, target in targets.items()
    )
    return [comparison, verdict + "\n"]
