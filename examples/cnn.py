"""A CNN on scikit-learn's 8x8 digits with `kx.models.ConvNet` (the tutorial's CNN, running).

The tutorial's CNN listing feeds flat vectors to Conv2D; here the images keep
their shape (batch, 8, 8, 1). `ConvNet(10)` is the tutorial's architecture:
Conv2D(32, 3) + max pooling, Conv2D(64, 3) + max pooling, Dense(128), softmax.
Prints the summary, the validation accuracy per epoch, the test accuracy and
macro F1 (kx.metrics), and saves the training curves and confusion matrix.

Usage:
    python examples/cnn.py [--quick] [--out out/]
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


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer epochs")
    parser.add_argument("--out", default="out", help="folder for the figures")
    args = parser.parse_args(argv)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(0)

    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype("float32").reshape(-1, 8, 8, 1)
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=0.2, stratify=y, random_state=0
    )
    epochs = 5 if args.quick else 20
    model = kx.models.ConvNet(10, dropout=0.0 if args.quick else 0.2)
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy", kx.metrics.F1Score(num_classes=10, name="f1")],
    )
    model.build((None, 8, 8, 1))
    model.summary()
    history = model.fit(x_train, y_train, validation_data=(x_test, y_test), epochs=epochs,
                        batch_size=32, verbose=0)
    print(f"digits 8x8x1, {len(x_train)} train / {len(x_test)} validation, {epochs} epochs")
    print("validation accuracy per epoch: "
          + " ".join(f"{a:.3f}" for a in history.history["val_accuracy"]))
    logs = model.evaluate(x_test, y_test, verbose=0, return_dict=True)
    print(f"validation accuracy {logs['accuracy']:.4f}, macro F1 {logs['f1']:.4f}")

    matrix = kx.metrics.ConfusionMatrix(num_classes=10)
    matrix.update_state(y_test, model.predict(x_test, verbose=0))
    counts = keras.ops.convert_to_numpy(matrix.result())
    print(f"misclassified: {int(counts.sum() - np.trace(counts))} of {int(counts.sum())}")
    kx.plot.plot_history(history, metrics=["loss", "accuracy"],
                         title="ConvNet(10) on digits").savefig(out / "cnn_history.png")
    kx.plot.plot_confusion_matrix(counts, title="ConvNet(10), digits validation").savefig(
        out / "cnn_confusion.png")
    print(f"figures in {out}/")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
