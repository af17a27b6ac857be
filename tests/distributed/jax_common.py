"""The runs the JAX keras.distribution tests compare (imported by the JAX subprocesses only).

Each function trains on one device when no distribution is set, and under
whatever `keras.distribution` distribution the caller has set otherwise, with
the same global batch, so the two results can be compared value for value.
"""

import json
import tempfile
from pathlib import Path

import keras
import numpy as np

import kerasext as kx

GLOBAL_BATCH = 16
NUM_CLASSES = 3
FEATURES = 6
SEED = 7
KINDS = ["plain", "train_step", "sam", "adversarial"]


def data():
    """64 training and 32 validation samples of a 3-class linear problem."""
    rng = np.random.default_rng(SEED)
    x = rng.normal(size=(96, FEATURES)).astype("float32")
    w = rng.normal(size=(FEATURES, NUM_CLASSES))
    y = np.argmax(x @ w + 0.5 * rng.normal(size=(96, NUM_CLASSES)), axis=1).astype("int32")
    return (x[:64], y[:64]), (x[64:], y[64:])


def build(kind):
    """An MLP of kerasext parts, wrapped in the training step `kind`, with kerasext metrics."""
    keras.utils.set_random_seed(SEED)
    inner = keras.Sequential([
        keras.Input((FEATURES,)),
        kx.layers.DenseBlock(8, l2=1e-3),
        kx.models.LogisticRegression(num_classes=NUM_CLASSES),
    ])
    model = {
        "plain": lambda: inner,
        "train_step": lambda: kx.training.TrainStep(inner),
        "sam": lambda: kx.training.SAM(inner, rho=0.1),
        "adversarial": lambda: kx.training.AdversarialTraining(inner, epsilon=0.05),
    }[kind]()
    model.compile(
        optimizer=keras.optimizers.SGD(0.2, momentum=0.5),
        loss="sparse_categorical_crossentropy",
        metrics=[
            kx.metrics.F1Score(num_classes=NUM_CLASSES, average="macro", name="f1"),
            kx.metrics.ConfusionMatrix(num_classes=NUM_CLASSES, name="confusion"),
        ],
    )
    model(np.zeros((1, FEATURES), "float32"))  # built: BackupAndRestore saves its weights
    return model


class StopAt(keras.callbacks.Callback):
    """Raises at the start of epoch `epoch`: a crash for BackupAndRestore to recover from."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            raise KeyboardInterrupt(f"stopped at epoch {epoch}")


def fit(kind, epochs=2, crash_at=None, batch_size=GLOBAL_BATCH, backup_dir=None, split=None,
        callbacks=()):
    """Trains `build(kind)`; with `crash_at`, first a run that crashes there, then the resumed one.

    `split(arrays)` (several processes) gives this process's part of the data.
    """
    (x, y), (x_val, y_val) = data()
    if split is not None:
        (x, y), (x_val, y_val) = split((x, y)), split((x_val, y_val))
    with tempfile.TemporaryDirectory() as scratch:
        backup_dir = backup_dir or str(Path(scratch) / "backup")

        def run(extra):
            model = build(kind)
            stop = kx.callbacks.EarlyStopping(monitor="val_f1", patience=1)
            backup = kx.callbacks.BackupAndRestore(backup_dir)
            history = model.fit(x, y, batch_size=batch_size, epochs=epochs, shuffle=False,
                                verbose=0, validation_data=(x_val, y_val),
                                callbacks=[stop, backup, *callbacks, *extra])
            return model, stop, history

        if crash_at is not None:
            try:
                run([StopAt(crash_at)])
            except KeyboardInterrupt:
                pass
        model, stop, history = run([])
        evaluation = model.evaluate(x_val, y_val, batch_size=batch_size, verbose=0,
                                    return_dict=True)
    result = {
        "history": plain(history.history),
        "evaluate": plain(evaluation),
        "best_epoch": stop.best_epoch,
        "stopped_epoch": stop.stopped_epoch,
        "weights": [np.asarray(w).tolist() for w in model.get_weights()],
    }
    if keras.distribution.distribution() is None or jax_process_count() == 1:
        result["predict"] = np.asarray(model.predict(x_val, batch_size=GLOBAL_BATCH,
                                                     verbose=0)).tolist()
    return result


def jax_process_count():
    import jax

    return jax.process_count()


def plain(logs):
    return {key: np.asarray(value).tolist() for key, value in logs.items()}


def save(result, path):
    Path(path).write_text(json.dumps(result))
