"""Drives a callback through `on_epoch_end` with a fixed sequence of logs (no training).

The model's single weight is set to the epoch index before each epoch end, so
the weights a callback restores name the epoch they come from.
"""

import keras
import numpy as np


def tiny_model(metrics=None):
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1, use_bias=False)])
    model.compile(optimizer="sgd", loss="mse", metrics=metrics)
    return model


def weight_epoch(model):
    """The epoch whose weights the model holds (see `drive`)."""
    return float(model.get_weights()[0].item())


def drive(callback, logs_sequence, model=None):
    """Runs `callback` over the epochs of `logs_sequence` as `fit` would.

    Returns `(model, epochs_run, logs_seen)`: the epochs whose end was reached
    (training stops when `model.stop_training` is set) and the logs after
    every epoch end (with the keys the callback wrote).
    """
    model = model or tiny_model()
    callback.set_model(model)
    callback.set_params({"epochs": len(logs_sequence), "verbose": 0, "steps": 1})
    model.stop_training = False
    callback.on_train_begin()
    seen = []
    for epoch, logs in enumerate(logs_sequence):
        model.set_weights([np.full((1, 1), float(epoch), dtype="float32")])
        logs = dict(logs)
        callback.on_epoch_end(epoch, logs)
        seen.append(logs)
        if model.stop_training:
            break
    callback.on_train_end()
    return model, len(seen), seen


def losses(values, key="val_loss"):
    return [{key: float(v)} for v in values]


def drive_list(callbacks, logs_sequence, model=None):
    """Like `drive`, for several callbacks in a `keras.callbacks.CallbackList` built as a
    custom training loop builds it: with the model, without `params`."""
    model = model or tiny_model()
    callback_list = keras.callbacks.CallbackList(callbacks, model=model)
    model.stop_training = False
    callback_list.on_train_begin()
    seen = []
    for epoch, logs in enumerate(logs_sequence):
        callback_list.on_epoch_begin(epoch)
        model.set_weights([np.full((1, 1), float(epoch), dtype="float32")])
        logs = dict(logs)
        callback_list.on_epoch_end(epoch, logs)
        seen.append(logs)
        if model.stop_training:
            break
    callback_list.on_train_end()
    return model, len(seen), seen
