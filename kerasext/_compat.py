"""Every private name of Keras, TensorFlow and keras-tuner that kerasext touches, in one place.

Nothing outside this module reaches into `keras.src`, `tensorflow.python`,
`keras_tuner.src` or a private attribute of an upstream object. Each item
below says why no public API does the job, the upstream issue where there is
one, and the versions it was checked on: Keras 3.11.3, 3.14.0 and 3.15.1,
keras-tuner 1.4.7 and 1.4.8, TensorFlow 2.20 and 2.21, jax 0.10, torch 2.13
(`make test` runs the newest, `make test-min` the declared minimums).

If an item is gone or has changed shape in the installed version, kerasext
does not quietly do without it: it emits a `CompatWarning` naming the item,
the reason and the installed versions (or raises where it cannot go on), and
`tests/test_compat.py`, which has one tripwire test per item, fails.
"""

import functools
import inspect
import logging
import random
import re
import sys
import warnings

import keras
import numpy as np

#: The versions every item was checked on (see the module docstring).
CHECKED_ON = ("Keras 3.14.0-3.15.1 (tripwires also pass on 3.11.3), keras-tuner 1.4.7-1.4.8, "
              "TensorFlow 2.20-2.21, jax 0.10, torch 2.13")


class CompatWarning(UserWarning):
    """A private upstream name kerasext relies on is gone or has changed shape."""


def installed_versions():
    """`"keras X, keras-tuner Y, tensorflow Z"` for the messages (what is importable)."""
    parts = [f"keras {keras.version()}"]
    for name, module in (("keras-tuner", "keras_tuner"), ("tensorflow", "tensorflow")):
        loaded = sys.modules.get(module)
        version = getattr(loaded, "__version__", None)
        if version is None:
            try:
                from importlib.metadata import version as dist_version

                version = dist_version(name)
            except Exception:  # noqa: BLE001 - not installed
                version = "not installed"
        parts.append(f"{name} {version}")
    return ", ".join(parts)


def incompatible(item, reason):
    """The message for an item that is gone or changed: what, why it matters, which versions."""
    return (f"kerasext: {item} is missing or has changed in the installed versions "
            f"({installed_versions()}; checked on {CHECKED_ON}). {reason} Please report it "
            "to kerasext with this message.")


@functools.cache
def _warn_once(item, reason):
    warnings.warn(incompatible(item, reason), CompatWarning, stacklevel=4)


def parameters_of(function):
    """The parameter names of `function` (a list), for the shape checks."""
    return list(inspect.signature(function).parameters)


# --------------------------------------------------------------------------- seeding

def set_random_seed(seed):
    """Seeds Python, NumPy, Keras' global seed generator and the active backend.

    Equivalent to `keras.utils.set_random_seed(seed)` for everything Keras
    draws, except that TensorFlow is seeded only when it is the backend:
    Keras 3.15.1's version imports TensorFlow whenever it is installed,
    whatever the backend, which on a JAX or torch machine costs seconds and
    grabs GPU memory.

    Args:
        seed: an integer.
    """
    state = seed_state()
    if keras.backend.backend() == "tensorflow" or state is None:
        if state is None:
            _warn_once("keras.src.backend.common.global_state / keras.src.random.seed_generator",
                       "Seeding with keras.utils.set_random_seed, which imports TensorFlow "
                       "when it is installed and (Keras 3.11) does not restart unseeded "
                       "keras.random draws.")
        keras.utils.set_random_seed(seed)
    else:
        if not isinstance(seed, int) or isinstance(seed, bool):
            raise ValueError(
                f"Expected `seed` argument to be an integer. Received: seed={seed!r} "
                f"(of type {type(seed)})"
            )
        random.seed(seed)
        np.random.seed(seed)
        if keras.backend.backend() == "torch":
            import torch

            torch.manual_seed(seed)
    if state is not None:
        global_state, generator_attribute = state
        global_state.set_global_attribute("global_random_seed", seed)
        # Keras 3.11 keeps the generator it made before: unseeded draws would not restart.
        global_state.set_global_attribute(generator_attribute, None)


def seed_state():
    """Private (Keras 3.11.3-3.15.1): the global seed and generator that
    `keras.random` and unseeded initializers draw from, which
    `keras.utils.set_random_seed` sets (keras/src/utils/rng_utils.py) after
    importing TensorFlow if it is installed. Returns `(global_state,
    GLOBAL_SEED_GENERATOR)`, or None where they moved. Keras 3.11's
    `set_random_seed` does not reset the generator (3.15.1 does), and names
    its key with the literal "global_seed_generator"."""
    try:
        from keras.src.backend.common import global_state
        from keras.src.random import seed_generator
    except ImportError:
        return None
    attribute = getattr(seed_generator, "GLOBAL_SEED_GENERATOR", "global_seed_generator")
    needed = [(global_state, "set_global_attribute"), (global_state, "get_global_attribute"),
              (seed_generator, "global_seed_generator")]
    if not isinstance(attribute, str) or not all(
            callable(getattr(module, name, None)) for module, name in needed):
        return None
    return global_state, attribute


# --------------------------------------------------------------------------- masks

def _keras_mask_getter():
    """Private (Keras 3.6-3.15.1): no public function reads the mask Keras attaches to a
    layer's output (`keras.src.backend.common.masking.get_keras_mask`; the
    `_keras_mask` attribute it reads is not set on every backend's tensors)."""
    try:
        from keras.src.backend.common.masking import get_keras_mask
    except ImportError:
        return None
    return get_keras_mask


def get_keras_mask(x):
    """The Keras mask attached to tensor `x` (e.g. by `Embedding(mask_zero=True)`), or None."""
    getter = _KERAS_MASK_GETTER  # resolved once: this runs inside traced metric updates
    if getter is None:
        _warn_once("keras.src.backend.common.masking.get_keras_mask",
                   "kerasext metrics read masks from the `_keras_mask` attribute instead, "
                   "which may miss them: pass the mask as sample_weight to be sure.")
        return getattr(x, "_keras_mask", None)
    return getter(x)


_KERAS_MASK_GETTER = _keras_mask_getter()


# --------------------------------------------------------------------------- metrics

#: Private (Keras 3.0-3.15.1): Keras' metrics say whether higher is better only
#: through the attribute `_direction` ("up" or "down"), which Keras' own
#: EarlyStopping and ModelCheckpoint read in `mode="auto"`
#: (keras/src/callbacks/monitor_callback.py); no public API exposes it.
METRIC_DIRECTION_ATTRIBUTE = "_direction"


def metric_direction(metric):
    """`"up"`, `"down"` or None: what `metric` (a Keras metric) says of its direction."""
    if not hasattr(keras.metrics.Accuracy(), METRIC_DIRECTION_ATTRIBUTE):
        _warn_once("keras.metrics.Metric._direction",
                   "The direction of monitored metrics falls back to name heuristics.")
    return getattr(metric, METRIC_DIRECTION_ATTRIBUTE, None)


def direct_sublayers(layer):
    """Private (Keras 3.0-3.15.1): the layers tracked directly by `layer`.

    Keras has no public walk of a plain Layer's children (only a Model's
    `layers`); `Layer._flatten_layers(include_self=False, recursive=False)` is
    what Keras itself uses to build variable paths. kerasext's layout maps
    (`kerasext.distribute`) name variables by these paths.
    """
    flatten = getattr(layer, "_flatten_layers", None)
    if flatten is None:
        _warn_once("keras.layers.Layer._flatten_layers",
                   "Layout maps cannot name the variables of nested sublayers.")
        return []
    return list(flatten(include_self=False, recursive=False))


@functools.cache
def compiled_metric_containers():
    """Private (Keras 3.0-3.15.1): the classes that wrap the metrics given to `compile`
    in `model.metrics` (`CompileMetrics`, `MetricsList` of
    keras/src/trainers/compile_utils.py); `model.metrics` lists the wrapper,
    not the user's metrics. A tuple of classes (empty where they moved: the
    containers are then recognised by duck typing, with a warning)."""
    try:
        from keras.src.trainers.compile_utils import CompileMetrics, MetricsList
    except ImportError:
        _warn_once("keras.src.trainers.compile_utils.CompileMetrics",
                   "Compiled metrics are found by duck typing (a `metrics` list).")
        return ()
    return (CompileMetrics, MetricsList)


# --------------------------------------------------------------------------- torch variables

@functools.cache
def _torch_variable_internals():
    """Private (Keras 3.0-3.15.1): what a torch `keras.Variable`'s `value` consults before it
    returns the tensor it holds (keras/src/backend/torch/core.py): the stateless scope
    (`keras.src.backend.common.stateless_scope.in_stateless_scope`), the autocast scope
    (`keras.src.backend.common.variables.get_autocast_scope`) and Keras' device
    (`keras.src.backend.torch.core.get_device`, "meta" in its symbolic pass); the tensor itself
    is the variable's `_value`. No public API reads or writes that tensor without the generic
    path: measured ~4 us a read through `keras.ops.convert_to_tensor` and ~9 us an `assign`,
    against ~1 us, and a metric reads and writes its state every step. None where an item
    moved (reads and writes then go through Keras, with a warning)."""
    try:
        from keras.src.backend.common.stateless_scope import in_stateless_scope
        from keras.src.backend.common.variables import get_autocast_scope
        from keras.src.backend.torch.core import get_device
    except ImportError:
        return None
    return in_stateless_scope, get_autocast_scope, get_device


def torch_variable_tensor(variable):
    """The torch tensor that torch-backend `variable` holds, where its `value` is that tensor.

    That is: outside a `keras.StatelessScope`, outside an autocast scope (or the
    variable does not autocast), and not in Keras' symbolic pass (the "meta"
    device), with the tensor on Keras' current device. Else None: read the
    variable through `keras.ops` (or assign it through `variable.assign`) then.
    """
    internals = _torch_variable_internals()
    tensor = getattr(variable, "_value", None)
    if internals is None or tensor is None or not hasattr(tensor, "copy_"):
        if internals is None:
            _warn_once("keras.src torch Variable internals (stateless, autocast, device)",
                       "kerasext metrics read and write their torch state through Keras "
                       "(correct, a few microseconds slower a step).")
        return None
    in_stateless_scope, get_autocast_scope, get_device = internals
    if in_stateless_scope():
        return None
    if getattr(variable, "_autocast", True) and get_autocast_scope() is not None:
        return None
    device = str(get_device())
    if ":" in device:
        same = str(tensor.device) == device
    else:
        same = tensor.device.type == device
    return tensor if same else None


# --------------------------------------------------------------------------- training

#: Private (Keras 3.0-3.15.1): the epoch `fit` starts from when a backup is restored.
#: Keras' own BackupAndRestore sets `model._initial_epoch`, and every backend's
#: `fit` reads it (`initial_epoch = self._initial_epoch or initial_epoch`); a
#: callback has no public way to move `fit`'s start. Keras never resets it.
INITIAL_EPOCH_ATTRIBUTE = "_initial_epoch"


def set_initial_epoch(model, epoch):
    """Makes the running/next `fit` of `model` start at `epoch` (None: as asked)."""
    if not hasattr(model, INITIAL_EPOCH_ATTRIBUTE):
        _warn_once("keras.Model._initial_epoch",
                   "A restored backup cannot move fit's first epoch: the resumed run "
                   "trains every epoch again.")
    setattr(model, INITIAL_EPOCH_ATTRIBUTE, epoch)


def print_msg(message):
    """Prints like Keras' callbacks do (public API only: `keras.config`).

    To stdout with interactive logging on, to the `absl`/`logging` INFO log
    otherwise, as `keras.src.utils.io_utils.print_msg` does.
    """
    if keras.config.is_interactive_logging_enabled():
        sys.stdout.write(message + "\n")
        sys.stdout.flush()
    else:
        logging.getLogger("absl").info(message)


def is_remote_path(path):
    """Whether `path` names a remote file system (as Keras' `file_utils.is_remote_path`)."""
    return re.match(r"^(/cns|/cfs|/gcs|/hdfs|/readahead|.*://).*$", str(path)) is not None


# --------------------------------------------------------------------------- keras-tuner

def _tuner_method(tuner, name, parameters):
    method = getattr(tuner, name, None)
    if not callable(method) or parameters_of(method)[:len(parameters)] != parameters:
        raise RuntimeError(incompatible(
            f"keras_tuner.Tuner.{name}({', '.join(parameters)})",
            "kerasext's CrossValidated tuner cannot run a trial without it."))
    return method


# Private (keras-tuner 1.4.7-1.4.8): a tuner that trains several models per trial
# (one per cross-validation fold) must build each as the tuner does (clear the
# session, build under the tuner's distribution strategy, refuse oversized
# models), log each to its own TensorBoard folder, and save the weights where
# `Tuner.load_model` and Hyperband read them. keras-tuner exposes these steps only
# through `Tuner.run_trial`, which trains one model (its `executions_per_trial`
# repeats the same data).

def try_build(tuner, hp):
    """`tuner._try_build(hp)`: clears the session and builds the trial's model."""
    check_build_hook()
    return _tuner_method(tuner, "_try_build", ["hp"])(hp)


#: The method `_try_build` calls to build (overridden to restore the dtype policy
#: that clearing the session resets).
BUILD_HYPERMODEL = "_build_hypermodel"


def check_build_hook():
    """Warns if `Tuner._try_build` no longer calls `Tuner._build_hypermodel`."""
    import keras_tuner

    if not callable(getattr(keras_tuner.Tuner, BUILD_HYPERMODEL, None)):
        _warn_once("keras_tuner.Tuner._build_hypermodel",
                   "Trials run under mixed precision build their models in float32.")


def build_hypermodel(tuner_class, tuner, hp):
    """The keras-tuner `_build_hypermodel` of `tuner_class`'s parent (for an override)."""
    return getattr(super(tuner_class, tuner), BUILD_HYPERMODEL)(hp)


def configure_tensorboard_dir(tuner, callbacks, trial, execution=0):
    """`tuner._configure_tensorboard_dir`: a TensorBoard callback logs to the trial's folder."""
    method = _tuner_method(tuner, "_configure_tensorboard_dir",
                           ["callbacks", "trial", "execution"])
    return method(callbacks, trial, execution)


def checkpoint_fname(tuner, trial_id):
    """Where `Tuner.load_model` reads a trial's weights."""
    return _tuner_method(tuner, "_get_checkpoint_fname", ["trial_id"])(trial_id)


def build_config_fname(tuner, trial_id):
    """Where `Tuner.load_model` reads a trial's build config."""
    return _tuner_method(tuner, "_get_build_config_fname", ["trial_id"])(trial_id)


@functools.cache
def tuner_callback_class():
    """Private (keras-tuner 1.4.7-1.4.8): `keras_tuner.src.engine.tuner_utils.TunerCallback`,
    the callback through which `HyperModel.fit` finds its tuner and trial."""
    try:
        from keras_tuner.src.engine.tuner_utils import TunerCallback
    except ImportError:
        raise RuntimeError(incompatible(
            "keras_tuner.src.engine.tuner_utils.TunerCallback",
            "kerasext's tuners cannot hand the trial to HyperModel.fit.")) from None
    return TunerCallback


# --------------------------------------------------------------------------- TensorFlow

#: Why: `tf.custom_gradient` traced in graph mode registers its gradient function
#: under a new name in TensorFlow's process-wide gradient registry and never removes
#: it; the function holds the traced train graph, so each trained model leaks it
#: (kerasext issue 15; no public API unregisters a gradient). Checked on TensorFlow
#: 2.20-2.21.
GRADIENT_REGISTRY = "tensorflow.python.framework.ops._gradient_registry._registry"


def gradient_registry():
    """TensorFlow's gradient registry (a dict), or None off the TensorFlow backend.

    Warns (and returns None: memory is then released only by clearing the
    session) where TensorFlow moved it.
    """
    if keras.backend.backend() != "tensorflow":
        return None
    try:
        from tensorflow.python.framework import ops
    except ImportError:
        ops = None
    registry = getattr(getattr(ops, "_gradient_registry", None), "_registry", None)
    if not isinstance(registry, dict):
        _warn_once(GRADIENT_REGISTRY,
                   "Models trained one after another (tuner trials, cross-validation "
                   "folds) keep their traced train graphs: memory grows with each.")
        return None
    return registry


#: Private (Keras 3.0-3.15.1, TensorFlow 2.16-2.21): the two spots of Keras' TensorFlow
#: trainer that fail under a multi-worker MultiWorkerMirroredStrategy
#: (keras-team/keras#20585, tensorflow/tensorflow#72388), with the parameters
#: kerasext.distribute's replacements take.
TRAINER_MODULE = "keras.src.backend.tensorflow.trainer"
MULTI_WORKER_SPOTS = {
    "maybe_symbolic_build": ("TensorFlowTrainer", "_maybe_symbolic_build",
                             ["self", "iterator", "data_batch"]),
    "reduce_per_replica": (None, "reduce_per_replica", ["values", "strategy", "reduction"]),
}


def trainer_spot(spot):
    """`(owner, attribute)` of a multi-worker spot in Keras' TensorFlow trainer.

    Raises RuntimeError naming the installed versions if the module, the
    function or its parameters changed.
    """
    class_name, attribute, parameters = MULTI_WORKER_SPOTS[spot]
    try:
        import importlib

        owner = importlib.import_module(TRAINER_MODULE)
    except ImportError:
        owner = None
    if owner is not None and class_name is not None:
        owner = getattr(owner, class_name, None)
    function = getattr(owner, attribute, None)
    if not callable(function) or parameters_of(function) != parameters:
        raise RuntimeError(incompatible(
            f"{TRAINER_MODULE}.{class_name + '.' if class_name else ''}{attribute}"
            f"({', '.join(parameters)})",
            "kerasext.distribute cannot apply its fix for keras-team/keras#20585: "
            "fit/evaluate fail under a multi-worker MultiWorkerMirroredStrategy."))
    return owner, attribute
