"""Logistic regression with `kx.models.LogisticRegression`, scored by kerasext's metrics.

Two experiments from the tutorial, offline:

1. The toy problem "is x > 0?": the learned decision boundary -b / w.
2. scikit-learn's breast cancer data (30 standardized features): test
   accuracy, precision, recall and F1 (`kx.metrics`, streamed during `fit`),
   `kx.metrics.ClassificationReport` and the confusion matrix.

Usage:
    python examples/logistic_regression.py [--quick] [--out out/]
"""

import argparse
import os
import pathlib

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.datasets import load_breast_cancer  # noqa: E402
from sklearn.metrics import classification_report  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

import kerasext as kx  # noqa: E402


def toy(epochs):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 1)).astype("float32")
    y = (x[:, 0] > 0).astype("float32")
    model = kx.models.LogisticRegression()
    model.compile(optimizer=keras.optimizers.Adam(0.1), loss="binary_crossentropy",
                  metrics=["accuracy"])
    model.fit(x, y, epochs=epochs, batch_size=32, verbose=0)
    _, accuracy = model.evaluate(x, y, verbose=0)
    boundary = -model.intercept_[0] / model.coef_[0, 0]
    print("1. toy: is x > 0? (400 points)")
    print(f"   accuracy {accuracy:.3f}, decision boundary x = {boundary:+.3f} (true: 0), "
          f"p(y=1 | x=1) = {float(model.predict(np.ones((1, 1)), verbose=0)[0, 0]):.3f}")


def breast_cancer(epochs, out):
    data = load_breast_cancer()
    x_train, x_test, y_train, y_test = train_test_split(
        data.data, data.target, test_size=0.25, stratify=data.target, random_state=0
    )
    scaler = StandardScaler().fit(x_train)
    x_train = scaler.transform(x_train).astype("float32")
    x_test = scaler.transform(x_test).astype("float32")
    model = kx.models.LogisticRegression(l2=1e-3)
    model.compile(
        optimizer=keras.optimizers.Adam(0.01),
        loss="binary_crossentropy",
        metrics=["accuracy", kx.metrics.Precision(name="precision"),
                 kx.metrics.Recall(name="recall"), kx.metrics.F1Score(name="f1")],
    )
    history = model.fit(x_train, y_train, validation_data=(x_test, y_test), epochs=epochs,
                        batch_size=32, verbose=0)
    logs = model.evaluate(x_test, y_test, verbose=0, return_dict=True)
    print(f"2. breast cancer, {len(x_train)} train / {len(x_test)} test, {epochs} epochs")
    print("   test " + ", ".join(f"{k} {logs[k]:.3f}" for k in
                                  ("accuracy", "precision", "recall", "f1")))
    probabilities = model.predict(x_test, verbose=0)
    names = list(data.target_names)
    report = kx.metrics.ClassificationReport(target_names=names)
    report.update_state(y_test, probabilities)
    print("   kx.metrics.ClassificationReport:")
    print("   " + report.to_string().replace("\n", "\n   "))
    sklearn_report = classification_report(y_test, (probabilities[:, 0] > 0.5).astype(int),
                                           target_names=names, output_dict=True)
    ours = report.to_dict()
    agree = all(
        abs(ours[name][stat] - sklearn_report[name][stat]) < 1e-6
        for name in names for stat in ("precision", "recall", "f1-score")
    )
    print(f"   same as sklearn.metrics.classification_report: {agree}")
    matrix = kx.metrics.ConfusionMatrix()
    matrix.update_state(y_test, probabilities)
    counts = keras.ops.convert_to_numpy(matrix.result())
    kx.plot.plot_confusion_matrix(counts, class_names=names,
                                  title="LogisticRegression, breast cancer (test)").savefig(
        out / "logistic_regression_confusion.png")
    kx.plot.plot_history(history, metrics=["loss", "accuracy", "f1"],
                         title="LogisticRegression, breast cancer").savefig(
        out / "logistic_regression_history.png")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer epochs")
    parser.add_argument("--out", default="out", help="folder for the figures")
    args = parser.parse_args(argv)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(0)
    toy(epochs=5 if args.quick else 20)
    breast_cancer(epochs=10 if args.quick else 20, out=out)
    print(f"figures in {out}/")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
