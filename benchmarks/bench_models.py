"""Epoch time of kerasext's seed models against the same stack written as `keras.Sequential`.

Each kerasext model (LinearRegression, LogisticRegression, ConvNet, RecurrentNet)
and the equivalent hand-written `keras.Sequential` (same layers, same sizes,
same optimizer, loss and batch size) are compiled and traced once, then
trained one epoch at a time, alternately; the epoch time is read from a
callback, so `fit`'s set-up is left out. Data: scikit-learn's diabetes, breast
cancer and digits (8x8 images; rows as 8 steps of 8 features) and the adding
problem (length 50) for the LSTM. Target: every ratio <= 1.02 (the subclassed
model runs the same ops; only the Python call structure differs, and that is
traced away).
"""

import time

import keras
import numpy as np
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits

from benchmarks.timing import compare


class _EpochTimer(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds = time.perf_counter() - self.start


def _setup(model, x, y, loss, batch_size):
    """A zero-argument callable that trains `model` one epoch and returns its seconds."""
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=loss)
    timer = _EpochTimer()

    def one_epoch():
        model.fit(x, y, batch_size=batch_size, epochs=1, verbose=0, callbacks=[timer])
        return float(timer.seconds)

    return one_epoch


def _seeded(build):
    keras.utils.set_random_seed(0)
    return build()


def _cases(quick):
    import kerasext as kx

    layers = keras.layers
    tile = 4 if quick else 16  # repeat the small data sets so an epoch is long enough to time
    x_diabetes, y_diabetes = load_diabetes(return_X_y=True)
    x_diabetes = np.tile(x_diabetes, (tile, 1)).astype("float32")
    y_diabetes = np.tile(y_diabetes, tile).astype("float32")
    x_cancer, y_cancer = load_breast_cancer(return_X_y=True)
    x_cancer = np.tile((x_cancer - x_cancer.mean(0)) / x_cancer.std(0), (tile, 1)).astype("float32")
    y_cancer = np.tile(y_cancer, tile).astype("float32")
    x_digits, y_digits = load_digits(return_X_y=True)
    x_digits = (x_digits / 16.0).astype("float32").reshape(-1, 8, 8)
    if not quick:
        x_digits, y_digits = np.tile(x_digits, (2, 1, 1)), np.tile(y_digits, 2)
    rng = np.random.default_rng(0)
    length, samples = 50, (256 if quick else 1024)
    values = rng.uniform(size=(samples, length))
    markers = np.zeros((samples, length))
    markers[np.arange(samples), rng.integers(0, length // 2, samples)] = 1.0
    markers[np.arange(samples), rng.integers(length // 2, length, samples)] = 1.0
    x_adding = np.stack([values, markers], -1).astype("float32")
    y_adding = (values * markers).sum(1, keepdims=True).astype("float32")

    def conv_stack():
        return keras.Sequential([
            keras.Input((8, 8, 1)),
            layers.Conv2D(32, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(2, padding="same"),
            layers.Conv2D(64, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(2, padding="same"),
            layers.Flatten(),
            layers.Dense(128, activation="relu"),
            layers.Dense(10, activation="softmax"),
        ])

    return [
        ("LinearRegression, diabetes", "mse", 32, x_diabetes, y_diabetes,
         lambda: kx.models.LinearRegression(),
         lambda: keras.Sequential([keras.Input((10,)), layers.Dense(1)])),
        ("LogisticRegression, breast cancer", "binary_crossentropy", 32, x_cancer, y_cancer,
         lambda: kx.models.LogisticRegression(),
         lambda: keras.Sequential([keras.Input((30,)), layers.Dense(1, activation="sigmoid")])),
        ("ConvNet(10) (tutorial CNN), digits 8x8x1", "sparse_categorical_crossentropy", 32,
         x_digits[..., None], y_digits, lambda: kx.models.ConvNet(10), conv_stack),
        ("RecurrentNet(10) (tutorial RNN: SimpleRNN 32-32), digits row by row",
         "sparse_categorical_crossentropy", 32, x_digits, y_digits,
         lambda: kx.models.RecurrentNet(10),
         lambda: keras.Sequential([
             keras.Input((8, 8)), layers.SimpleRNN(32, return_sequences=True),
             layers.SimpleRNN(32), layers.Dense(10, activation="softmax")])),
        ("RecurrentNet(None, units=(16,), cell='lstm'), adding problem T=50", "mse", 32,
         x_adding, y_adding,
         lambda: kx.models.RecurrentNet(None, units=(16,), cell="lstm"),
         lambda: keras.Sequential([keras.Input((length, 2)), layers.LSTM(16), layers.Dense(1)])),
    ]


def run(quick=False):
    repeats = 3 if quick else 9
    results = []
    for title, loss, batch_size, x, y, ours, reference in _cases(quick):
        setups = {
            "keras.Sequential": _setup(_seeded(reference), x, y, loss, batch_size),
            "kerasext": _setup(_seeded(ours), x, y, loss, batch_size),
        }
        results.append(compare(f"Epoch time, {title}, {len(x)} samples, batch {batch_size}",
                               setups, repeats=repeats))
    return results
