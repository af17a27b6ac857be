"""Linear regression by gradient descent with `kx.models.LinearRegression`.

Two experiments from the tutorial, offline:

1. y = 2x + 0.5 + noise: the fitted slope and intercept against NumPy's
   least-squares line.
2. scikit-learn's diabetes data (10 standardized features): the coefficients
   against `sklearn.linear_model.LinearRegression` and the test R^2.

Usage:
    python examples/linear_regression.py [--quick] [--out out/]
"""

import argparse
import os
import pathlib

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from sklearn.datasets import load_diabetes  # noqa: E402
from sklearn.linear_model import LinearRegression as SklearnLinearRegression  # noqa: E402
from sklearn.metrics import r2_score  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

import kerasext as kx  # noqa: E402


def noisy_line(epochs, out):
    rng = np.random.default_rng(0)
    x = rng.uniform(-1.0, 1.0, size=(200, 1)).astype("float32")
    y = (2.0 * x[:, 0] + 0.5 + rng.normal(scale=0.3, size=200)).astype("float32")
    model = kx.models.LinearRegression()
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    history = model.fit(x, y, epochs=epochs, batch_size=32, verbose=0)
    slope, intercept = np.polyfit(x[:, 0], y, deg=1)
    print("1. y = 2x + 0.5 + noise (200 points, noise sd 0.3)")
    print(f"   kerasext  slope {model.coef_[0]:.4f}  intercept {model.intercept_:.4f}"
          f"  (after {epochs} epochs of SGD, final mse {history.history['loss'][-1]:.4f})")
    print(f"   numpy     slope {slope:.4f}  intercept {intercept:.4f}  (least squares)")
    figure = kx.plot.plot_history(history, title="LinearRegression on y = 2x + 0.5 + noise")
    figure.savefig(out / "linear_regression_line.png")
    return model


def diabetes(epochs, out):
    x, y = load_diabetes(return_X_y=True)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.2, random_state=0)
    scaler = StandardScaler().fit(x_train)
    x_train = scaler.transform(x_train).astype("float32")
    x_test = scaler.transform(x_test).astype("float32")
    # Centering and scaling the target too keeps one learning rate right for all weights.
    y_mean, y_std = y_train.mean(), y_train.std()
    model = kx.models.LinearRegression()
    model.compile(optimizer=keras.optimizers.SGD(0.1, momentum=0.9, nesterov=True), loss="mse")
    # Full-batch gradient descent: every step sees the whole training set; an "epoch" here is
    # 50 such steps, so that Keras' per-epoch overhead does not dominate.
    full_batch = tf.data.Dataset.from_tensors(
        (x_train, ((y_train - y_mean) / y_std).astype("float32"))
    ).repeat()
    history = model.fit(full_batch, steps_per_epoch=50, epochs=epochs, shuffle=False,
                        validation_data=(x_test, ((y_test - y_mean) / y_std).astype("float32")),
                        verbose=0)
    reference = SklearnLinearRegression().fit(x_train, y_train)
    coef = model.coef_ * y_std
    predicted = model.predict(x_test, verbose=0)[:, 0] * y_std + y_mean
    print("2. diabetes, 10 standardized features, 353 train / 89 test")
    print("   feature   kerasext    sklearn")
    for name, ours, theirs in zip(load_diabetes().feature_names, coef, reference.coef_):
        print(f"   {name:<8} {ours:9.2f}  {theirs:9.2f}")
    print(f"   intercept {model.intercept_ * y_std + y_mean:8.2f}  {reference.intercept_:9.2f}")
    print(f"   max |coef difference| {np.abs(coef - reference.coef_).max():.3f}  "
          f"(largest coefficient {np.abs(reference.coef_).max():.1f})")
    print(f"   test R^2: kerasext {r2_score(y_test, predicted):.4f}, "
          f"sklearn {r2_score(y_test, reference.predict(x_test)):.4f}")
    figure = kx.plot.plot_history(history, title="LinearRegression on diabetes (standardized)")
    figure.savefig(out / "linear_regression_diabetes.png")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer epochs")
    parser.add_argument("--out", default="out", help="folder for the figures")
    args = parser.parse_args(argv)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(0)
    noisy_line(epochs=20 if args.quick else 60, out=out)
    diabetes(epochs=6 if args.quick else 20, out=out)
    print(f"figures in {out}/")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
