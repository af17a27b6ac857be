"""The resumable-state protocol shared by the kerasext callbacks.

A Keras callback does not see its siblings: `fit` wraps the list it receives
in a `keras.callbacks.CallbackList`, which calls `set_model(model)` and then
`set_params(params)` on every callback in list order, passing all of them the
*same* `params` dict object. kerasext uses that identity as the token of one
`fit` call:

- a `StatefulCallback` registers itself (weakly) when `set_params` is called,
  with a sequence number that records its position in the list;
- `kerasext.callbacks.BackupAndRestore` finds, at `on_train_begin`, the
  registered callbacks whose `params` is its own `params` object and whose
  model is its model: exactly the stateful callbacks of the same `fit` call,
  in list order;
- each of them implements `get_state()` (a dict of JSON values and NumPy
  arrays), `set_state(state)` and `reset_state()`.

State restored before a callback's own `on_train_begin` has run (the backup
callback comes first in the list) is kept and applied right after that
`on_train_begin` resets the callback, so list order does not matter.
"""

import copy
import itertools
import weakref

import keras
import numpy as np

_LIVE = weakref.WeakSet()
_SEQUENCE = itertools.count()

#: Attributes a deep copy does not carry over: the model of an earlier fit and
#: that fit's params (keras-tuner deep-copies callbacks for every trial).
_NOT_COPIED = ("_model", "params", "_pending_state", "_began")


def next_sequence():
    return next(_SEQUENCE)


def deepcopy_without_fit(callback, memo):
    cls = type(callback)
    clone = cls.__new__(cls)
    memo[id(callback)] = clone
    for key, value in vars(callback).items():
        if key in _NOT_COPIED:
            value = None
        else:
            value = copy.deepcopy(value, memo)
        setattr(clone, key, value)
    return clone


class StatefulCallback(keras.callbacks.Callback):
    """Base of the kerasext callbacks whose state `BackupAndRestore` saves.

    Subclasses implement `reset_state()` (called at every `on_train_begin`, so
    an instance can be reused across `fit` calls), `get_state()` and
    `set_state(state)`; they call `super().on_train_begin(logs)` if they
    override it.
    """

    def set_params(self, params):
        super().set_params(params)
        self._fit_sequence = next_sequence()
        self._began = False
        self._pending_state = None
        _LIVE.add(self)

    def on_train_begin(self, logs=None):
        self.reset_state()
        self._began = True
        pending = getattr(self, "_pending_state", None)
        if pending is not None:
            self._pending_state = None
            self.set_state(pending)

    def resume_from(self, state):
        """Restores `state`, now or right after this callback's `on_train_begin`."""
        if getattr(self, "_began", False):
            self.set_state(state)
        else:
            self._pending_state = state

    def state_config(self):
        """The configuration a saved state belongs to (checked on resume)."""
        return self.get_config()

    def reset_state(self):
        raise NotImplementedError

    def get_state(self):
        raise NotImplementedError

    def set_state(self, state):
        raise NotImplementedError

    def __deepcopy__(self, memo):
        return deepcopy_without_fit(self, memo)

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def siblings_of(callback):
    """The `StatefulCallback`s of the same `fit` call as `callback`, in list order."""
    params = getattr(callback, "params", None)
    if params is None:
        return []
    found = [
        other for other in list(_LIVE)
        if other is not callback
        and getattr(other, "params", None) is params
        and getattr(other, "_model", None) is getattr(callback, "_model", None)
    ]
    return sorted(found, key=lambda other: other._fit_sequence)


def state_keys(callbacks):
    """Stable keys for callbacks: class name and rank among callbacks of that class."""
    counts = {}
    keys = []
    for callback in callbacks:
        name = type(callback).__name__
        keys.append(f"{name}_{counts.get(name, 0)}")
        counts[name] = counts.get(name, 0) + 1
    return keys


# ----------------------------------------------------------------- (de)serialization


def encode(value, arrays):
    """Splits `value` into a JSON-able structure and NumPy arrays (kept in `arrays`)."""
    if isinstance(value, np.ndarray):
        name = f"array_{len(arrays)}"
        arrays[name] = value
        return {"__ndarray__": name}
    if isinstance(value, dict):
        return {str(k): encode(v, arrays) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [encode(v, arrays) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def decode(value, arrays):
    if isinstance(value, dict):
        if set(value) == {"__ndarray__"}:
            return np.array(arrays[value["__ndarray__"]])
        return {k: decode(v, arrays) for k, v in value.items()}
    if isinstance(value, list):
        return [decode(v, arrays) for v in value]
    return value


def copy_weights(weights):
    return None if weights is None else [np.array(w, copy=True) for w in weights]
