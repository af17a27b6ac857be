"""RNNs with `kx.models.RecurrentNet`: digits read row by row, and the adding problem.

1. scikit-learn's 8x8 digits read as sequences of 8 rows of 8 pixels by the
   tutorial's RNN (`RecurrentNet(10)`: two SimpleRNN(32) layers, softmax). The
   tutorial's listing feeds it arrays of the wrong rank; here they are
   (batch, 8 steps, 8 features).
2. The adding problem (Hochreiter & Schmidhuber 1997) at length 50: each step
   carries a value in U(0, 1) and a marker; two steps are marked (one in each
   half) and the target is the sum of their values. Predicting the mean
   scores an MSE of 1/6; an LSTM learns the task after a plateau.

Usage:
    python examples/rnn.py [--quick] [--out out/]
"""

import argparse
import os
import pathlib

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

import kerasext as kx  # noqa: E402


def adding_problem(num_samples, length, rng):
    values = rng.uniform(size=(num_samples, length))
    markers = np.zeros((num_samples, length))
    rows = np.arange(num_samples)
    markers[rows, rng.integers(0, length // 2, size=num_samples)] = 1.0
    markers[rows, rng.integers(length // 2, length, size=num_samples)] = 1.0
    x = np.stack([values, markers], axis=-1).astype("float32")
    return x, (values * markers).sum(axis=1, keepdims=True).astype("float32")


def digits_row_by_row(epochs, out):
    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype("float32").reshape(-1, 8, 8)  # 8 steps (rows) of 8 features
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=0.2, stratify=y, random_state=0
    )
    model = kx.models.RecurrentNet(10)
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy", kx.metrics.F1Score(num_classes=10, name="f1")])
    history = model.fit(x_train, y_train, validation_data=(x_test, y_test), epochs=epochs,
                        batch_size=32, verbose=0)
    model.summary()
    logs = model.evaluate(x_test, y_test, verbose=0, return_dict=True)
    print(f"1. digits row by row, {len(x_train)} train / {len(x_test)} validation, "
          f"{epochs} epochs: validation accuracy {logs['accuracy']:.4f}, macro F1 "
          f"{logs['f1']:.4f}")
    kx.plot.plot_history(history, metrics=["loss", "accuracy"],
                         title="RecurrentNet(10) on digits, row by row").savefig(
        out / "rnn_digits_history.png")


def adding(num_samples, epochs, out, length=50):
    rng = np.random.default_rng(0)
    x_train, y_train = adding_problem(num_samples, length, rng)
    x_test, y_test = adding_problem(1000, length, rng)
    model = kx.models.RecurrentNet(None, units=(16,), cell="lstm")
    # A large step with gradient clipping shortens the plateau before the LSTM finds the markers.
    model.compile(optimizer=keras.optimizers.Adam(0.05, clipnorm=1.0), loss="mse")
    history = model.fit(x_train, y_train, validation_data=(x_test, y_test), epochs=epochs,
                        batch_size=32, verbose=0)
    mse = model.evaluate(x_test, y_test, verbose=0)
    print(f"2. adding problem, length {length}, LSTM(16), {num_samples} sequences, "
          f"{epochs} epochs")
    print("   validation MSE per epoch: "
          + " ".join(f"{v:.3f}" for v in history.history["val_loss"]))
    print(f"   test MSE {mse:.4f} (predicting the mean: "
          f"{np.mean((y_test - y_train.mean()) ** 2):.4f})")
    kx.plot.plot_history(history, title=f"LSTM on the adding problem, T={length}").savefig(
        out / "rnn_adding_history.png")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer samples and epochs")
    parser.add_argument("--out", default="out", help="folder for the figures")
    args = parser.parse_args(argv)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(0)
    digits_row_by_row(epochs=5 if args.quick else 20, out=out)
    if args.quick:
        adding(num_samples=1000, epochs=12, out=out)
    else:
        adding(num_samples=4000, epochs=10, out=out)
    print(f"figures in {out}/")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
