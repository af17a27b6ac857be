"""Custom training steps that are correct: TrainStep, SAM and adversarial training on digits.

Three experiments on scikit-learn's bundled 8x8 digits (no download):

1. Under `mixed_float16`, the `train_step` of keras.io's guide (copied below)
   never scales the loss, yet the `LossScaleOptimizer` unscales its gradients
   by 2**15: it barely learns. `kx.training.TrainStep` follows Keras' built-in
   step and matches its loss curve.
2. `kx.training.SAM` against plain training: validation accuracy and the
   sharpness SAM reports (loss at the perturbed weights minus the loss).
3. `kx.training.AdversarialTraining` (FGSM) against plain training: accuracy
   on clean and on FGSM-perturbed validation images.

Usage:
    python examples/custom_training.py [--quick] [--out out/]
"""

import argparse
import os
import pathlib

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402

import kerasext as kx  # noqa: E402


class KerasIoGuideStep(keras.Model):
    """The keras.io guide's `train_step` ("Customizing what happens in fit()
    with TensorFlow"), as written there, in a wrapper like kerasext's."""

    def __init__(self, model, **kwargs):
        super().__init__(**kwargs)
        self.model = model

    def call(self, inputs, training=False):
        return self.model(inputs, training=training)

    def train_step(self, data):
        x, y = data
        with tf.GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = self.compute_loss(y=y, y_pred=y_pred)
        gradients = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply(gradients, self.trainable_variables)
        for metric in self.metrics:
            if metric.name == "loss":
                metric.update_state(loss)
            else:
                metric.update_state(y, y_pred)
        return {m.name: m.result() for m in self.metrics}


def digits():
    data = load_digits()
    x = (data.data / 16.0).astype("float32")
    y = data.target.astype("int32")
    order = np.random.default_rng(0).permutation(len(x))
    x, y = x[order], y[order]
    return (x[:1400], y[:1400]), (x[1400:], y[1400:])


def mlp(width=64):
    keras.utils.set_random_seed(0)
    return keras.Sequential(
        [keras.Input((64,)), keras.layers.Dense(width, activation="relu"), keras.layers.Dense(10)]
    )


def compile_for_digits(trainer, optimizer):
    trainer.compile(
        optimizer=optimizer,
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return trainer


def fgsm_images(model, x, y, epsilon):
    """FGSM images against `model`, clipped to the pixel range [0, 1]."""
    x = tf.convert_to_tensor(x)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    with tf.GradientTape() as tape:
        tape.watch(x)
        loss = loss_fn(y, model(x, training=False))
    return np.clip(x.numpy() + epsilon * np.sign(tape.gradient(loss, x).numpy()), 0.0, 1.0)


def accuracy(model, x, y):
    return float(np.mean(np.argmax(model.predict(x, verbose=0), axis=-1) == y))


def save_history(history, title, out, filename):
    try:
        from kerasext.plot import plot_history
    except ImportError:  # pragma: no cover - kerasext.plot needs matplotlib
        return
    figure = plot_history(history, title=title)
    figure.savefig(out / filename)
    print(f"  figure: {out / filename}")


def mixed_precision_experiment(train, epochs, out):
    print("1. mixed_float16: keras.io guide step vs TrainStep vs built-in (SGD, lr=0.1)")
    x, y = train
    curves = {}
    keras.config.set_dtype_policy("mixed_float16")
    try:
        for name, wrap in (("built-in", lambda m: m), ("TrainStep", kx.training.TrainStep),
                           ("keras.io guide", KerasIoGuideStep)):
            trainer = compile_for_digits(wrap(mlp()), keras.optimizers.SGD(0.1))
            history = trainer.fit(x, y, batch_size=64, epochs=epochs, shuffle=False, verbose=0)
            curves[name] = history.history["loss"]
            print(f"  {name:15s} loss per epoch: " + " ".join(f"{v:.3f}" for v in curves[name]))
    finally:
        keras.config.set_dtype_policy("float32")
    gap = max(abs(a - b) / b for a, b in zip(curves["TrainStep"], curves["built-in"]))
    print(f"  TrainStep vs built-in: largest relative loss difference {gap:.2e}")
    return curves


def sam_experiment(train, val, epochs, out):
    print("2. SAM vs plain training (Adam)")
    (x, y), (x_val, y_val) = train, val
    for name, wrap in (("plain", kx.training.TrainStep),
                       ("SAM rho=0.05", lambda m: kx.training.SAM(m, rho=0.05)),
                       ("ASAM rho=0.5", lambda m: kx.training.SAM(m, rho=0.5, adaptive=True))):
        model = mlp()
        trainer = compile_for_digits(wrap(model), keras.optimizers.Adam(0.005))
        history = trainer.fit(x, y, batch_size=64, epochs=epochs, verbose=0,
                              validation_data=(x_val, y_val))
        extra = ""
        if "sharpness" in history.history:
            extra = f", last-epoch sharpness {history.history['sharpness'][-1]:.4f}"
        print(f"  {name:13s} validation accuracy {accuracy(model, x_val, y_val):.3f}{extra}")
        if name.startswith("SAM"):
            save_history(history, "SAM on digits", out, "sam_history.png")


def adversarial_experiment(train, val, epochs, out, epsilon=0.1):
    print(f"3. FGSM adversarial training vs plain (epsilon={epsilon} on [0, 1] pixels)")
    (x, y), (x_val, y_val) = train, val
    results = {}
    for name, wrap in (
        ("plain", kx.training.TrainStep),
        ("adversarial", lambda m: kx.training.AdversarialTraining(
            m, epsilon=epsilon, clip_min=0.0, clip_max=1.0)),
    ):
        model = mlp()
        trainer = compile_for_digits(wrap(model), keras.optimizers.Adam(0.005))
        history = trainer.fit(x, y, batch_size=64, epochs=epochs, verbose=0,
                              validation_data=(x_val, y_val))
        clean = accuracy(model, x_val, y_val)
        robust = accuracy(model, fgsm_images(model, x_val, y_val, epsilon), y_val)
        results[name] = (clean, robust)
        print(f"  {name:12s} clean accuracy {clean:.3f}, FGSM accuracy {robust:.3f}")
        if name == "adversarial":
            save_history(history, "FGSM adversarial training on digits", out,
                         "adversarial_history.png")
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer epochs (< 30 s)")
    parser.add_argument("--out", default="out/", help="folder for figures")
    args = parser.parse_args(argv)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    train, val = digits()
    epochs = 3 if args.quick else 15
    mixed_precision_experiment(train, epochs, out)
    sam_experiment(train, val, epochs, out)
    adversarial_experiment(train, val, 4 if args.quick else 15, out)


if __name__ == "__main__":
    main()
