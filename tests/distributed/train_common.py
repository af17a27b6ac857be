"""The training run the multi-worker tests compare with a single-process run.

Imported by the worker script (under MultiWorkerMirroredStrategy) and by the
tests (no strategy, the same global batch), so both sides run the same code.
"""

import json
from pathlib import Path

import keras
import numpy as np

import kerasext as kx

GLOBAL_BATCH = 16
EPOCHS = 4
NUM_CLASSES = 3
FEATURES = 6
SEED = 7


def data():
    """64 training and 32 validation samples of a 3-class linear problem."""
    rng = np.random.default_rng(SEED)
    x = rng.normal(size=(96, FEATURES)).astype("float32")
    w = rng.normal(size=(FEATURES, NUM_CLASSES))
    y = np.argmax(x @ w + 0.5 * rng.normal(size=(96, NUM_CLASSES)), axis=1).astype("int32")
    return (x[:64], y[:64]), (x[64:], y[64:])


def build_model(train_step=False):
    """An MLP made of kerasext parts, compiled with kerasext metrics."""
    keras.utils.set_random_seed(SEED)
    model = keras.Sequential(
        [
            keras.Input((FEATURES,)),
            kx.layers.DenseBlock(8, l2=1e-3),
            kx.models.LogisticRegression(num_classes=NUM_CLASSES),
        ]
    )
    if train_step:
        model = kx.training.TrainStep(model)
        model(np.zeros((1, FEATURES), "float32"))  # BackupAndRestore wants a built model
    model.compile(
        optimizer=keras.optimizers.SGD(0.2, momentum=0.5),
        loss="sparse_categorical_crossentropy",
        metrics=metrics(),
    )
    return model


def metrics():
    return [
        "accuracy",
        kx.metrics.F1Score(num_classes=NUM_CLASSES, name="f1"),
        # A per-class vector: the fix reduces it across replicas, keeping its shape.
        kx.metrics.Precision(num_classes=NUM_CLASSES, average=None, name="precision"),
    ]


def fit(model, backup_dir, callbacks=(), epochs=EPOCHS):
    (x, y), (x_val, y_val) = data()
    stop = kx.callbacks.EarlyStopping(monitor="val_loss", patience=EPOCHS)
    backup = kx.callbacks.BackupAndRestore(str(backup_dir))
    history = model.fit(
        x, y, batch_size=GLOBAL_BATCH, epochs=epochs, shuffle=False, verbose=0,
        validation_data=(x_val, y_val), callbacks=[stop, backup, *callbacks],
    )
    evaluation = model.evaluate(x_val, y_val, batch_size=GLOBAL_BATCH, verbose=0, return_dict=True)
    return {
        "history": _plain(history.history),
        "evaluate": _plain(evaluation),
        "best_epoch": stop.best_epoch,
        "weights": [w.tolist() for w in model.get_weights()],
    }


def _plain(logs):
    return {key: np.asarray(value).tolist() for key, value in logs.items()}


def save(result, path):
    Path(path).write_text(json.dumps(result))


class _NotChiefExtended:
    should_checkpoint = False
    should_save_summary = False


class _NotChiefStrategy:
    """Stands for the strategy of worker 1 of 2 (only what a callback may ask)."""

    extended = _NotChiefExtended()
    num_replicas_in_sync = 2


def backup_writes_only_on_chief():
    """Probes whether kx.callbacks.BackupAndRestore leaves writing to the chief.

    Runs the callback's epoch-end save for a model whose strategy says "not the
    chief" (`extended.should_checkpoint` False, TF_CONFIG naming worker 1) and
    looks whether anything was written.
    """
    import os
    import tempfile

    old = os.environ.get("TF_CONFIG")
    os.environ["TF_CONFIG"] = json.dumps(
        {"cluster": {"worker": ["127.0.0.1:1", "127.0.0.1:2"]}, "task": {"type": "worker", "index": 1}}
    )
    try:
        with tempfile.TemporaryDirectory() as root:
            model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
            model.compile("sgd", "mse")
            model._distribute_strategy = _NotChiefStrategy()
            backup_dir = os.path.join(root, "backup")
            callbacks = keras.callbacks.CallbackList(
                [kx.callbacks.BackupAndRestore(backup_dir)], model=model, epochs=2, steps=1
            )
            try:
                callbacks.on_train_begin()
                callbacks.on_epoch_begin(0)
                callbacks.on_epoch_end(0, {"loss": 1.0})
            except Exception:  # noqa: BLE001 - the probe only asks "was anything written?"
                pass
            return not (os.path.isdir(backup_dir) and os.listdir(backup_dir))
    finally:
        if old is None:
            os.environ.pop("TF_CONFIG", None)
        else:
            os.environ["TF_CONFIG"] = old
