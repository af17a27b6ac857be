"""kerasext.distribute: Keras 3 under MultiWorkerMirroredStrategy.

Keras 3 (up to at least 3.15.1, with TensorFlow 2.16 to 2.21) cannot `fit` or
`evaluate` a model under `tf.distribute.MultiWorkerMirroredStrategy` once more
than one worker takes part: every call fails with "Attempt to convert a value
(PerReplica...) with an unsupported type" (keras-team/keras#20585,
tensorflow/tensorflow#72388). Two spots of Keras' TensorFlow trainer
(`keras/src/backend/tensorflow/trainer.py`) cause it, and only on the
multi-worker path:

1. `TensorFlowTrainer._maybe_symbolic_build` builds the model from the first
   batch and hands the whole `(x, y, ...)` structure of `PerReplica` values to
   one `strategy.reduce` call, which the collective implementation cannot
   convert to a tensor.
2. `reduce_per_replica` reduces the step's logs with
   `strategy.reduce("MEAN", v, axis=0)`, which fails on the scalar losses and
   metric results (there is no axis 0) and would average a per-class vector
   over its classes.

The fix reduces the first batch element by element, and reduces each log
value across replicas only (`axis=None`), as the single-worker path of the
same function already does. It changes nothing for any other strategy, and
nothing for a single-worker `MultiWorkerMirroredStrategy`: every other call
goes to the original Keras function. It is applied only when asked for
(`apply_keras_multi_worker_fix()` or `multi_worker_strategy()`), never on
import, and only on the Keras releases that have the bug (by version: 3.0.0
on, checked up to 3.15.1; a newer release is patched too, with a warning).
"""

import json
import os
import re
import threading
import warnings

from kerasext import _compat

__all__ = ["apply_keras_multi_worker_fix", "is_chief", "multi_worker_strategy"]

#: What to use instead of tf.distribute on each other backend (Keras 3.15.1).
_ALTERNATIVES = {
    "jax": (
        "On JAX, use Keras' own engine, keras.distribution: "
        "keras.distribution.set_distribution(keras.distribution.DataParallel()) for data "
        "parallelism, keras.distribution.ModelParallel(layout_map=...) for model parallelism, "
        "and keras.distribution.initialize(...) for several processes (docs/distributed.md)."
    ),
    "torch": (
        "On torch, the installed Keras has no keras.distribution support; train on one "
        "device, or switch to KERAS_BACKEND=tensorflow (tf.distribute) or "
        "KERAS_BACKEND=jax (keras.distribution)."
    ),
}


def _require_tensorflow(what):
    """Raises a clear error naming what to use instead when the backend is not TensorFlow."""
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        return
    alternative = _ALTERNATIVES.get(
        backend, "Use keras.distribution where the installed Keras supports the backend."
    )
    raise RuntimeError(
        f"kerasext.distribute.{what} works with tf.distribute, which exists on the TensorFlow "
        f"backend only; the Keras backend is {backend!r} (KERAS_BACKEND). {alternative}"
    )

UPSTREAM_ISSUE = "keras-team/keras#20585"

# Which Keras releases need the fix is decided by version, not by reading Keras' source:
# every release from 3.0.0 on has the bug, checked up to _LAST_CHECKED by running plain
# Keras on two workers (tests/test_distribute.py::test_plain_keras_fails_where_the_fix_succeeds,
# which fails once a release runs without the fix: then record that release here).
_FIRST_AFFECTED = (3, 0, 0)
_LAST_CHECKED = (3, 15, 1)
#: The first Keras release that no longer has the bug at each spot (None: none known).
_FIXED_IN = {"maybe_symbolic_build": None, "reduce_per_replica": None}

_lock = threading.Lock()
# spot name -> the original Keras function it replaced (empty: nothing applied).
_originals = {}


def _keras_version():
    import keras

    return keras.version()


def _keras_release():
    import keras

    return tuple(int(part) for part in re.findall(r"\d+", keras.version())[:3])


def _version_needs_fix(spot, release=None):
    """Whether Keras `release` (default: the installed one) has the bug at `spot`."""
    release = _keras_release() if release is None else release
    fixed = _FIXED_IN[spot]
    return release >= _FIRST_AFFECTED and (fixed is None or release < fixed)


def _spots_needing_fix():
    """The names of the spots that the installed Keras still gets wrong (by version).

    Empty off the TensorFlow backend. Raises RuntimeError (naming the installed
    versions) when a spot that needs the fix is no longer where, or of the shape
    that, the fix replaces (`kerasext._compat.trainer_spot`).
    """
    import keras

    if keras.backend.backend() != "tensorflow":
        return set()
    needed = {spot for spot in _FIXED_IN if _version_needs_fix(spot)}
    for spot in needed - set(_originals):
        _compat.trainer_spot(spot)
    return needed


def _in_multi_worker_mode(strategy):
    """A MultiWorkerMirroredStrategy whose cluster has more than one worker (public API)."""
    import tensorflow as tf

    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return False
    resolver = strategy.cluster_resolver
    cluster = resolver.cluster_spec().as_dict() if resolver is not None else {}
    return len(cluster.get("chief", [])) + len(cluster.get("worker", [])) > 1


def _make_maybe_symbolic_build(original):
    import tensorflow as tf
    from keras import tree

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        strategy = self.distribute_strategy
        if iterator is None or strategy is None or not _in_multi_worker_mode(strategy):
            return original(self, iterator=iterator, data_batch=data_batch)
        # Same as Keras, but one `strategy.reduce` per tensor of the batch.
        for _, _, it in iterator:
            batch = next(it)
            if all(isinstance(v, tf.distribute.DistributedValues) for v in tree.flatten(batch)):
                batch = tree.map_structure(
                    lambda v: strategy.reduce("MEAN", v, axis=None), batch
                )
            data_batch = batch
            break
        return original(self, iterator=None, data_batch=data_batch)

    _maybe_symbolic_build.__wrapped__ = original
    _maybe_symbolic_build.__doc__ = original.__doc__
    return _maybe_symbolic_build


def _make_reduce_per_replica(original):
    from keras import tree

    def reduce_per_replica(values, strategy, reduction):
        if reduction not in ("auto", "mean") or not _in_multi_worker_mode(strategy):
            return original(values, strategy, reduction)
        # Across replicas only (axis=None), like the single-worker "mean" path.
        return tree.map_structure(lambda v: strategy.reduce("MEAN", v, axis=None), values)

    reduce_per_replica.__wrapped__ = original
    reduce_per_replica.__doc__ = original.__doc__
    return reduce_per_replica


def apply_keras_multi_worker_fix():
    """Lets Keras 3 `fit`, `evaluate` and `predict` under MultiWorkerMirroredStrategy.

    Patches the two spots of Keras' TensorFlow trainer that fail with more than
    one worker ("Attempt to convert a value (PerReplica...)",
    keras-team/keras#20585): the first batch is reduced element by element,
    and step logs are reduced across replicas only (`axis=None`). Only calls
    made under a `MultiWorkerMirroredStrategy` in multi-worker mode take the
    new path; every other call runs the original Keras code. Each spot is
    patched on the Keras releases known to have the bug (3.0.0 on, checked
    up to 3.15.1; a newer release is patched too, with a second warning that
    it is unchecked), and not on a release recorded as fixing it.
    Idempotent; emits one `UserWarning` naming the upstream issue when it
    patches something. Nothing happens on `import kerasext`.

    Call it before the first `fit`/`evaluate`/`predict` of the process, in
    every worker.

    Returns:
        A sorted list of the names of the spots patched in this process
        (`[]` when the installed Keras does not need the fix).

    Raises:
        RuntimeError: when the Keras backend is not TensorFlow (the error says
            what to use instead: `keras.distribution` on JAX), or when the
            installed Keras needs the fix but its trainer no longer has the
            functions it replaces (the error names the installed versions).

    Example:

    ```python
    from kerasext.distribute import apply_keras_multi_worker_fix

    patched = apply_keras_multi_worker_fix()
    assert apply_keras_multi_worker_fix() == patched  # idempotent
    print(patched)  # ['maybe_symbolic_build', 'reduce_per_replica'] on Keras 3.15
    ```
    """
    _require_tensorflow("apply_keras_multi_worker_fix()")
    with _lock:
        new_spots = sorted(_spots_needing_fix() - set(_originals))
        for spot in new_spots:
            owner, attribute = _compat.trainer_spot(spot)
            original = getattr(owner, attribute)
            _originals[spot] = original
            make = (_make_maybe_symbolic_build if spot == "maybe_symbolic_build"
                    else _make_reduce_per_replica)
            setattr(owner, attribute, make(original))
        if new_spots and _keras_release() > _LAST_CHECKED:
            warnings.warn(
                f"kerasext.distribute: Keras {_keras_version()} is newer than the newest release "
                f"checked for {UPSTREAM_ISSUE} ({'.'.join(map(str, _LAST_CHECKED))}); the fix is "
                "applied (it reduces as Keras' single-worker path does, with or without the bug).",
                UserWarning,
                stacklevel=2,
            )
        if new_spots:
            warnings.warn(
                "kerasext.distribute patched Keras' TensorFlow trainer "
                f"({', '.join(new_spots)}) so that fit/evaluate/predict run under "
                f"MultiWorkerMirroredStrategy; upstream bug {UPSTREAM_ISSUE} "
                "(tensorflow/tensorflow#72388). Only the multi-worker path changes.",
                UserWarning,
                stacklevel=2,
            )
        return sorted(_originals)


def _remove_keras_multi_worker_fix():
    """Restores the original Keras functions (for tests)."""
    with _lock:
        for spot, original in _originals.items():
            owner, attribute = _compat.trainer_spot(spot)
            setattr(owner, attribute, original)
        _originals.clear()


def multi_worker_strategy(**kwargs):
    """Builds a `tf.distribute.MultiWorkerMirroredStrategy` that Keras 3 can train under.

    Applies `apply_keras_multi_worker_fix()` and then creates the strategy.
    The cluster comes from the `TF_CONFIG` environment variable (one per worker
    process, see `docs/distributed.md`); without `TF_CONFIG` the strategy runs
    on the local devices of one process. Create it at the start of the
    program, before other TensorFlow work: in multi-worker mode TensorFlow
    configures its collective runtime once, when the strategy is created.

    Args:
        **kwargs: passed to `tf.distribute.MultiWorkerMirroredStrategy`
            (`cluster_resolver`, `communication_options`).

    Returns:
        The `tf.distribute.MultiWorkerMirroredStrategy`.

    Raises:
        RuntimeError: when the Keras backend is not TensorFlow (the error says
            what to use instead: `keras.distribution` on JAX).

    Example:

    ```python
    import keras
    import numpy as np

    strategy = kx.distribute.multi_worker_strategy()  # no TF_CONFIG: one worker
    with strategy.scope():
        model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
        model.compile("sgd", "mse")
    x = np.ones((8, 3), "float32")
    model.fit(x, x[:, :1], batch_size=4, epochs=1, verbose=0)
    print(strategy.num_replicas_in_sync)
    ```
    """
    _require_tensorflow("multi_worker_strategy()")
    import tensorflow as tf

    apply_keras_multi_worker_fix()
    return tf.distribute.MultiWorkerMirroredStrategy(**kwargs)


def is_chief(strategy=None):
    """Whether this process is the one that writes checkpoints, backups, logs and plots.

    Under multi-worker training every worker runs the same script; only one of
    them (the chief) should write files that describe the shared run, or the
    workers overwrite each other's files. The chief is the task of type
    `"chief"` in `TF_CONFIG`, or worker 0 when the cluster has no `"chief"`
    task: the same rule as TensorFlow's (`strategy.extended.should_checkpoint`).
    On JAX, once `keras.distribution.initialize` has started several
    processes, the chief is process 0 (`jax.process_index() == 0`). It works
    on every backend.

    Args:
        strategy: a `tf.distribute.Strategy`; its `extended.should_checkpoint`
            answers. Defaults to `None`: on JAX with several processes, ask
            JAX; otherwise read `TF_CONFIG` (no `TF_CONFIG`, or a cluster of
            one task, means this process is the chief).

    Returns:
        A Python bool.

    Example:

    ```python
    import keras

    callbacks = [keras.callbacks.TerminateOnNaN()]
    if kx.distribute.is_chief():  # True here: no TF_CONFIG, one process
        callbacks.append(keras.callbacks.CSVLogger("log.csv"))
    assert len(callbacks) == 2
    ```
    """
    if strategy is not None:
        return bool(strategy.extended.should_checkpoint)
    import keras

    if keras.backend.backend() == "jax":
        import jax

        if jax.process_count() > 1:
            return jax.process_index() == 0
    config = json.loads(os.environ.get("TF_CONFIG") or "{}")
    task = config.get("task") or {}
    cluster = config.get("cluster") or {}
    task_type = task.get("type")
    if task_type is None or task_type == "chief":
        return True
    if task_type == "worker" and "chief" not in cluster:
        return int(task.get("index", 0)) == 0
    return False
