"""The resumable-state protocol shared by the kerasext callbacks.

A Keras callback does not see its siblings: `fit` (or a user's own training
loop) wraps the callbacks in a `keras.callbacks.CallbackList`, which calls
`set_model(model)` on every callback in list order, before any of them sees
`set_params` or `on_train_begin`. kerasext builds its *fit groups* on that
public call, and on nothing else:

- every kerasext callback (a `StatefulCallback` or
  `kerasext.callbacks.BackupAndRestore`) joins, in `set_model(model)`, the
  open group of `model`, with a sequence number that records its position in
  the list; when `model` has no open group, it opens a new one;
- the group closes (no callback joins it any more) as soon as one of its
  members gets `set_params` or `on_train_begin`: the next `set_model` with
  that model (the next `fit`) opens a new group;
- `kerasext.callbacks.BackupAndRestore` reads, at `on_train_begin`, the
  `StatefulCallback`s of its group: exactly the kerasext callbacks of the same
  `fit` call (or `CallbackList`), in list order, whether or not `params` were
  given;
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

_SEQUENCE = itertools.count()
#: model -> its open `_FitGroup` (weak keys: a group never keeps a model alive).
_OPEN_GROUPS = weakref.WeakKeyDictionary()

#: Attributes a deep copy does not carry over: the model of an earlier fit and
#: that fit's params and group (keras-tuner deep-copies callbacks for every trial).
_NOT_COPIED = ("_model", "params", "_pending_state", "_began", "_fit_group")


def next_sequence():
    return next(_SEQUENCE)


class _FitGroup:
    """The kerasext callbacks given the same model by one `CallbackList` (weakly held)."""

    def __init__(self):
        self.members = []
        self.closed = False

    def add(self, callback):
        if not any(ref() is callback for ref in self.members):
            self.members.append(weakref.ref(callback))

    def alive(self):
        return [member for member in (ref() for ref in self.members) if member is not None]


def join_fit_group(callback, model):
    """Called from `set_model`: `callback` joins `model`'s open group (or opens one)."""
    callback._fit_sequence = next_sequence()
    if model is None:
        callback._fit_group = None
        return
    try:
        group = _OPEN_GROUPS.get(model)
    except TypeError:  # a model that cannot be weakly referenced: no group
        callback._fit_group = None
        return
    if group is None or group.closed:
        group = _FitGroup()
        _OPEN_GROUPS[model] = group
    group.add(callback)
    callback._fit_group = group


def close_fit_group(callback):
    """Called from `set_params` and `on_train_begin`: the group's list is complete."""
    group = getattr(callback, "_fit_group", None)
    if group is not None:
        group.closed = True


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

    def set_model(self, model):
        super().set_model(model)
        self._began = False
        self._pending_state = None
        join_fit_group(self, model)

    def set_params(self, params):
        super().set_params(params)
        close_fit_group(self)

    def on_train_begin(self, logs=None):
        close_fit_group(self)
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


def fit_group_of(callback):
    """The kerasext callbacks of the same `fit` call as `callback` (itself included), in order."""
    group = getattr(callback, "_fit_group", None)
    if group is None:
        return [callback]
    model = getattr(callback, "_model", None)
    members = [
        member for member in group.alive()
        if member is callback or getattr(member, "_model", None) is model
    ]
    return sorted(members, key=lambda member: member._fit_sequence)


def siblings_of(callback):
    """The `StatefulCallback`s of the same `fit` call as `callback`, in list order."""
    return [
        member for member in fit_group_of(callback)
        if member is not callback and isinstance(member, StatefulCallback)
    ]


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
