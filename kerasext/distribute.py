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

On JAX, Keras' own engine is `keras.distribution` (`DataParallel`,
`ModelParallel`, `keras.distribution.initialize`), and kerasext's components
are correct under it. This module adds only what a user would otherwise write
by hand around it: `initialize_processes()` (the process group from arguments,
`KERAS_DISTRIBUTION_*` or `TF_CONFIG`, with JAX's CPU collectives switched on),
`jax_distribution()` (the mesh and the `DataParallel` or `ModelParallel` over
every device of every process, the layout map from a kerasext model's
`get_layout_map`) and `process_slice()` (this process's part of every global
batch, for `auto_shard_dataset=False`).
"""

import json
import os
import re
import threading
import warnings

from kerasext import _compat

__all__ = [
    "apply_keras_multi_worker_fix",
    "initialize_processes",
    "is_chief",
    "jax_distribution",
    "multi_worker_strategy",
    "process_slice",
]

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


# ------------------------------------------------------------------ JAX: keras.distribution


def _require_keras_distribution(what):
    """Raises a clear error unless the backend has `keras.distribution` (JAX in Keras 3.15.1)."""
    import keras

    backend = keras.backend.backend()
    if backend == "jax":
        return
    if backend == "tensorflow":
        instead = (
            "On TensorFlow, use tf.distribute: kx.distribute.multi_worker_strategy() for "
            "several workers, tf.distribute.MirroredStrategy() for several local devices."
        )
    else:
        instead = _ALTERNATIVES.get(backend, "Train on one device.")
    raise RuntimeError(
        f"kerasext.distribute.{what} builds on keras.distribution, which the installed Keras "
        f"({keras.version()}) supports on the JAX backend only; the Keras backend is "
        f"{backend!r} (KERAS_BACKEND). {instead}"
    )


def _from_tf_config():
    """`(job_addresses, num_processes, process_id)` from `TF_CONFIG`, or `None` without one."""
    config = json.loads(os.environ.get("TF_CONFIG") or "{}")
    cluster = config.get("cluster") or {}
    task = config.get("task") or {}
    # The chief, when there is one, is process 0 (it coordinates), then the workers.
    addresses = list(cluster.get("chief", [])) + list(cluster.get("worker", []))
    if not addresses or task.get("type") not in ("chief", "worker"):
        return None
    index = int(task.get("index", 0))
    process_id = index if task["type"] == "chief" else len(cluster.get("chief", [])) + index
    return ",".join(addresses), len(addresses), process_id


def initialize_processes(job_addresses=None, num_processes=None, process_id=None):
    """Joins this process to the others of a JAX job (`keras.distribution.initialize`).

    The same script runs once per process. Each argument left `None` is read
    from Keras' own environment variables (`KERAS_DISTRIBUTION_JOB_ADDRESSES`,
    `KERAS_DISTRIBUTION_NUM_PROCESSES`, `KERAS_DISTRIBUTION_PROCESS_ID`), and
    when those are absent from `TF_CONFIG` (the `"chief"` then `"worker"`
    addresses of its cluster, this task's position among them), so that one
    launcher serves TensorFlow and JAX. On CPU, JAX's cross-process
    collectives (gloo) are switched on where the installed JAX has them off.
    Without any of these (one process) it does nothing, on every backend.
    Call it at the start of the program, before any JAX computation.

    Args:
        job_addresses: comma-separated `host:port` of every process, or only
            process 0's (the coordinator). Defaults to `None` (environment).
        num_processes: the number of processes. Defaults to `None`.
        process_id: this process's index, `0` to `num_processes - 1`; process
            0 coordinates and writes the shared files (`is_chief()`).
            Defaults to `None`.

    Returns:
        `(process_id, num_processes)` of this process: `(0, 1)` when it runs
        alone.

    Raises:
        RuntimeError: on another backend than JAX when there are processes to
            join (the error says what to use instead).
        ValueError: when only some of the three values are known.

    Example:

    ```python
    # One process here (no environment): nothing to join.
    print(kx.distribute.initialize_processes())  # (0, 1)
    ```

    On each of two machines (or two processes on one):

    ```python
    kx.distribute.initialize_processes("10.0.0.1:1234", 2, process_id=0)  # 1 on the other
    ```
    """
    env = os.environ
    job_addresses = job_addresses or env.get("KERAS_DISTRIBUTION_JOB_ADDRESSES")
    if num_processes is None and env.get("KERAS_DISTRIBUTION_NUM_PROCESSES"):
        num_processes = int(env["KERAS_DISTRIBUTION_NUM_PROCESSES"])
    if process_id is None and env.get("KERAS_DISTRIBUTION_PROCESS_ID"):
        process_id = int(env["KERAS_DISTRIBUTION_PROCESS_ID"])
    if job_addresses is None and num_processes is None and process_id is None:
        from_tf_config = _from_tf_config()
        if from_tf_config is None or from_tf_config[1] == 1:
            return 0, 1
        job_addresses, num_processes, process_id = from_tf_config
    _require_keras_distribution("initialize_processes()")
    import jax
    import keras

    known = {"job_addresses": job_addresses, "num_processes": num_processes,
             "process_id": process_id}
    if any(value is None for value in known.values()):
        raise ValueError(
            "kerasext.distribute.initialize_processes() needs job_addresses, num_processes and "
            "process_id (as arguments, KERAS_DISTRIBUTION_* variables or TF_CONFIG). Received: "
            + ", ".join(f"{key}={value!r}" for key, value in known.items())
        )
    is_initialized = getattr(jax.distributed, "is_initialized", lambda: False)
    if is_initialized():  # already joined (a second call)
        return jax.process_index(), jax.process_count()
    if getattr(jax.config, "jax_cpu_collectives_implementation", "gloo") in (None, "", "none"):
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
    keras.distribution.initialize(job_addresses, int(num_processes), int(process_id))
    return jax.process_index(), jax.process_count()


def jax_distribution(model=None, model_parallel=1, batch_dim_name="batch",
                     model_dim_name="model", auto_shard_dataset=True):
    """The `DataParallel` or `ModelParallel` over every device of every process.

    A thin builder over `keras.distribution`: the devices are
    `keras.distribution.list_devices()` (all processes' devices once
    `initialize_processes()` has run), arranged in a `DeviceMesh` of shape
    `(devices // model_parallel, model_parallel)` with axes
    `(batch_dim_name, model_dim_name)`. With `model_parallel=1` it returns
    `DataParallel` on a one-axis mesh; otherwise `ModelParallel` with the
    layout map of `model.get_layout_map(mesh)` (kerasext's
    `TransformerClassifier`, `EncoderDecoder`, `InceptionNet` and `TextCNN`
    have one). Pass the result to `keras.distribution.set_distribution`
    before the model's variables are created (before it is built).

    Args:
        model: a model with `get_layout_map(device_mesh, model_dim_name)`,
            unbuilt; needed when `model_parallel > 1`.
            Defaults to `None`.
        model_parallel: devices per model replica (the size of the "model"
            axis); must divide the number of devices. Defaults to `1`.
        batch_dim_name: the mesh axis the batch is split along. Defaults to
            `"batch"`.
        model_dim_name: the mesh axis the large kernels are split along.
            Defaults to `"model"`.
        auto_shard_dataset: Keras' argument: with several processes, `True`
            shards a `tf.data.Dataset` of the global data; `False` means each
            process feeds its own part of every global batch (see
            `process_slice()`). Defaults to `True`.

    Returns:
        A `keras.distribution.DataParallel` or `keras.distribution.ModelParallel`.

    Raises:
        RuntimeError: on another backend than JAX.
        ValueError: for a `model_parallel` that does not divide the devices,
            or a model without `get_layout_map`.

    Example:

    ```python
    import keras

    if keras.backend.backend() == "jax":  # elsewhere: a RuntimeError naming what to use
        distribution = kx.distribute.jax_distribution()  # DataParallel, all devices
        keras.distribution.set_distribution(distribution)
        print(distribution.device_mesh.shape)  # (number of devices,)
        keras.distribution.set_distribution(None)
    ```
    """
    _require_keras_distribution("jax_distribution()")
    import keras

    dist = keras.distribution
    devices = dist.list_devices()
    if (not isinstance(model_parallel, int) or isinstance(model_parallel, bool)
            or model_parallel < 1 or len(devices) % model_parallel):
        raise ValueError(
            "Invalid `model_parallel` argument value. Expected a positive integer dividing the "
            f"{len(devices)} devices ({devices}). Received: model_parallel={model_parallel!r}"
        )
    if model_parallel == 1 and model is None:
        mesh = dist.DeviceMesh((len(devices),), [batch_dim_name], devices)
        return dist.DataParallel(device_mesh=mesh, auto_shard_dataset=auto_shard_dataset)
    if not callable(getattr(model, "get_layout_map", None)):
        raise ValueError(
            "jax_distribution(model_parallel > 1) needs a model with a "
            "`get_layout_map(device_mesh)` method (kerasext's TransformerClassifier, "
            f"EncoderDecoder, InceptionNet, TextCNN). Received: model={model!r}"
        )
    mesh = dist.DeviceMesh((len(devices) // model_parallel, model_parallel),
                           [batch_dim_name, model_dim_name], devices)
    layout_map = model.get_layout_map(mesh, model_dim_name=model_dim_name)
    return dist.ModelParallel(layout_map=layout_map, batch_dim_name=batch_dim_name,
                              auto_shard_dataset=auto_shard_dataset)


def process_slice(arrays, global_batch_size, process_id=None, num_processes=None):
    """This process's part of every global batch, for `auto_shard_dataset=False`.

    With several JAX processes and `auto_shard_dataset=False`, Keras joins
    the batches the processes feed, in process order, into one global batch.
    Given the whole data (the same on every process), this returns the rows
    this process must feed so that the global batches are the consecutive
    `global_batch_size` rows of the data, as on one process: fit on the result
    with `batch_size=global_batch_size // num_processes` and `shuffle=False`
    (shuffle the whole data beforehand, with the same seed everywhere).

    Args:
        arrays: a NumPy array, or a list / tuple / dict of arrays of the same
            length (`x`, `y`, sample weights).
        global_batch_size: the batch size of one step across all processes;
            a multiple of `num_processes`.
        process_id: defaults to `None`, JAX's `jax.process_index()`.
        num_processes: defaults to `None`, JAX's `jax.process_count()`.

    Returns:
        The same structure, holding this process's rows.

    Raises:
        ValueError: when a batch (the last one included) does not split evenly
            among the processes, or the arrays differ in length.

    Example:

    ```python
    import numpy as np

    x = np.arange(8)
    print(kx.distribute.process_slice(x, 4, process_id=1, num_processes=2))  # [2 3 6 7]
    ```
    """
    import keras
    import numpy as np

    if process_id is None or num_processes is None:
        if keras.backend.backend() == "jax":
            import jax

            process_id = jax.process_index() if process_id is None else process_id
            num_processes = jax.process_count() if num_processes is None else num_processes
        else:
            process_id, num_processes = process_id or 0, num_processes or 1
    if global_batch_size < 1 or global_batch_size % num_processes:
        raise ValueError(
            f"Invalid `global_batch_size` argument value. Expected a positive multiple of the "
            f"{num_processes} processes. Received: global_batch_size={global_batch_size!r}"
        )
    leaves = keras.tree.flatten(arrays)
    lengths = {len(leaf) for leaf in leaves}
    if len(lengths) != 1:
        raise ValueError(f"process_slice() needs arrays of one length. Received lengths "
                         f"{sorted(lengths)}")
    (length,) = lengths
    rows = []
    for start in range(0, length, global_batch_size):
        size = min(global_batch_size, length - start)
        if size % num_processes:
            raise ValueError(
                f"The batch of rows {start}:{start + size} does not split evenly among "
                f"{num_processes} processes; use a number of samples that is a multiple of "
                f"{num_processes} (received {length} samples, global_batch_size="
                f"{global_batch_size})."
            )
        share = size // num_processes
        rows.append(np.arange(start + process_id * share, start + (process_id + 1) * share))
    index = np.concatenate(rows) if rows else np.zeros((0,), "int64")
    return keras.tree.map_structure(lambda leaf: np.asarray(leaf)[index], arrays)


def _model_layout_map(device_mesh, shards, model_dim_name="model"):
    """A `LayoutMap` splitting each listed kernel along `model_dim_name` where it divides evenly.

    `shards` maps a variable-path regex (matched with `re.fullmatch`, so it
    starts with `.*`) to one entry per dimension of the variable: `None`
    (replicated) or that dimension's size, split along the model axis when
    the axis size divides it (JAX shards evenly only) and replicated
    otherwise. Unlisted variables (biases, norms) are replicated.
    """
    import keras

    if model_dim_name not in device_mesh.axis_names:
        raise ValueError(
            f"The device mesh has no {model_dim_name!r} axis to split kernels along. "
            f"Received: device_mesh with axes {list(device_mesh.axis_names)}"
        )
    parts = device_mesh.shape[list(device_mesh.axis_names).index(model_dim_name)]
    layout_map = keras.distribution.LayoutMap(device_mesh)
    for pattern, sizes in shards.items():
        layout_map[pattern] = tuple(
            model_dim_name if size is not None and size % parts == 0 else None for size in sizes
        )
    return layout_map


def _named_sublayers(layer, prefix=""):
    """`(path, layer)` for every nested sublayer, `path` its names joined by "/" (as in
    variable paths), through `_compat.direct_sublayers`."""
    for child in _compat.direct_sublayers(layer):
        path = f"{prefix}/{child.name}" if prefix else child.name
        yield path, child
        yield from _named_sublayers(child, path)


def _variable_pattern(path):
    """The regex matching the variable `path` below any model name (`re.fullmatch`)."""
    return "(.*/)?" + re.escape(path)
