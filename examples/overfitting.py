"""A deliberately overfitting model, watched by Prechelt's criteria and kerasext's EarlyStopping.

Few noisy samples (scikit-learn's digits, 30% of the training and validation
labels replaced at random) and a large network (two hidden layers of 512
units): the validation loss bottoms out within a few epochs and then climbs
while the training loss keeps falling. The script trains for a fixed number
of epochs with

- three `kx.callbacks.OverfitDetector`s (criteria GL_5, PQ_0.5 and UP_3,
  `action="log"`), which record the epoch at which each criterion fires and
  write `overfit_gl`, `overfit_pq`, `overfit_up` and `overfit_gap` into the
  history;
- a `kx.callbacks.EarlyStopping` with a patience longer than the run, which
  never stops it but restores the weights of the best validation epoch at the
  end;

then prints each criterion's onset, the best epoch, and the clean test loss
and accuracy of the last and of the restored weights, and draws the curves
with the best epoch and the GL onset marked (`out/overfitting.png`).

Usage:
    python examples/overfitting.py [--quick] [--out out/]
"""

import argparse
import os
import pathlib

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

import kerasext as kx  # noqa: E402


def noisy_digits(train_size, noise, seed=0):
    x, y = load_digits(return_X_y=True)
    x_rest, x_test, y_rest, y_test = train_test_split(x, y, test_size=0.4, stratify=y,
                                                      random_state=seed)
    x_train, x_val, y_train, y_val = train_test_split(x_rest, y_rest, train_size=train_size,
                                                      stratify=y_rest, random_state=seed)
    scaler = StandardScaler().fit(x_train)
    x_train, x_val, x_test = (scaler.transform(a).astype("float32")
                              for a in (x_train, x_val, x_test))
    rng = np.random.default_rng(seed)

    def corrupt(labels):
        labels = labels.copy()
        flip = rng.random(len(labels)) < noise
        labels[flip] = rng.integers(0, 10, size=flip.sum())
        return labels

    return (x_train, corrupt(y_train)), (x_val, corrupt(y_val)), (x_test, y_test)


class TestScores(keras.callbacks.Callback):
    """Clean test loss and accuracy after every epoch (for the report only)."""

    def __init__(self, x, y):
        super().__init__()
        self.x, self.y = x, y

    def on_train_begin(self, logs=None):
        self.scores = []

    def on_epoch_end(self, epoch, logs=None):
        self.scores.append(self.model.evaluate(self.x, self.y, verbose=0))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer samples and epochs")
    parser.add_argument("--out", default="out", help="folder for the figure")
    args = parser.parse_args(argv)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(0)

    epochs = 25 if args.quick else 80
    (x_train, y_train), (x_val, y_val), (x_test, y_test) = noisy_digits(
        train_size=300 if args.quick else 500, noise=0.3
    )
    model = keras.Sequential([
        keras.Input((64,)),
        keras.layers.Dense(512, activation="relu"),
        keras.layers.Dense(512, activation="relu"),
        keras.layers.Dense(10, activation="softmax"),
    ])
    model.compile(optimizer=keras.optimizers.Adam(3e-4), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    detectors = {
        name: kx.callbacks.OverfitDetector(criterion=criterion, threshold=threshold,
                                           action="log")
        for name, criterion, threshold in (("GL_5", "gl", 5.0), ("PQ_0.5", "pq", 0.5),
                                           ("UP_3", "up", 3))
    }
    stopper = kx.callbacks.EarlyStopping(patience=epochs)  # never stops; restores the best
    test_scores = TestScores(x_test, y_test)
    history = model.fit(
        x_train, y_train, validation_data=(x_val, y_val), epochs=epochs, batch_size=32,
        verbose=0, callbacks=[*detectors.values(), test_scores, stopper],
    )
    restored_loss, restored_accuracy = model.evaluate(x_test, y_test, verbose=0)
    last_loss, last_accuracy = test_scores.scores[-1]

    logs = history.history
    print(f"digits: {len(x_train)} training samples, 30% label noise, MLP 2x512, {epochs} epochs")
    print(f"training loss {logs['loss'][0]:.3f} -> {logs['loss'][-1]:.3f}; validation loss "
          f"{logs['val_loss'][0]:.3f} -> min {min(logs['val_loss']):.3f} -> "
          f"{logs['val_loss'][-1]:.3f}; final gap {logs['overfit_gap'][-1]:.3f}")
    print(f"best validation epoch (0-based, as on the figure): {stopper.best_epoch}")
    for name, detector in detectors.items():
        onset = "never" if detector.onset_epoch is None else f"after epoch {detector.onset_epoch}"
        print(f"  {name} fired: {onset}")
    print(f"clean test loss / accuracy, last weights:     {last_loss:.3f} / {last_accuracy:.3f}")
    print(f"clean test loss / accuracy, restored weights: {restored_loss:.3f} / "
          f"{restored_accuracy:.3f}")

    figure = kx.plot.plot_history(
        history, metrics=["loss", "accuracy", "overfit_gl"],
        callbacks=[stopper, detectors["GL_5"]],
        title="Overfitting on noisy digits: best epoch and GL_5 onset",
    )
    path = out / "overfitting.png"
    figure.savefig(path, dpi=100)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
