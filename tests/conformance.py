"""The conformance harness every public kerasext component runs through.

Modelled on keras-hub's `run_layer_test` / `run_model_saving_test` /
`run_precision_test`. One helper per kind of component:

- `run_layer_test(cls, init_kwargs, input_data, ...)`
- `run_model_test(cls, init_kwargs, input_data, ...)`
- `run_metric_test(cls, init_kwargs, y_true, y_pred, ...)`
- `run_callback_test(cls, init_kwargs, ...)`
- `run_training_step_test(cls, init_kwargs, model_fn, x, y, ...)`

Each checks, as far as the kind of component allows:

1. config: every constructor argument is kept under its own name in
   `get_config()` (and as an attribute), the config is JSON-serialisable, and
   `from_config(get_config())` gives an equal config;
2. saving: a `.keras` file written by `model.save` loads with
   `keras.saving.load_model(path)` (default `safe_mode=True`, no
   `custom_objects`) and gives identical outputs (or metric results); no
   `keras.layers.Lambda` anywhere;
3. mixed precision: under `mixed_float16` and `mixed_bfloat16` outputs come in
   the compute dtype (final model outputs float32), variables stay float32,
   every sublayer carries the policy (keras-hub's `run_precision_test`; a
   model's output layers may compute in float32), and the outputs equal the
   float32 outputs of the same weights within `MIXED_TOLERANCE`;
4. XLA: one fit step with `jit_compile=True` (on torch, where it means
   `torch.compile` at about 30 s per model on CPU, only training steps run it);
5. tf.distribute (TensorFlow only: skipped on JAX and torch): one fit step
   under `MirroredStrategy` over two logical CPU devices (configured in
   `conftest.py`);
6. `copy.deepcopy` (keras-tuner deep-copies callbacks every trial);
7. weights: `build()` creates every weight (a built layer has as many as a
   called one), from_config and `.keras` loading keep their number, and
   `expected_num_trainable_weights` / `expected_num_non_trainable_weights`
   when given (keras-hub's `run_layer_test`).

The XLA and MirroredStrategy steps start from the weights of the eager
reference and are compared with it, not only checked for finite losses:
predictions within `COMPILED_TOLERANCE`, and, when training draws no random
numbers (no dropout: no seed generator in the component), the loss and the
weights after the step too (under MirroredStrategy not for an output that
carries a mask, whose loss Keras normalises per replica). Callbacks compare the whole History and their
public state.

Failures raise `AssertionError` with a message naming the component and the
check, so a broken component cannot pass silently (see
`tests/test_conformance.py`).
"""

import contextlib
import copy
import functools
import json
import os
import tempfile

import keras
import numpy as np
from keras import ops

from kerasext._compat import direct_sublayers, set_random_seed

MIXED_POLICIES = ("mixed_float16", "mixed_bfloat16")
BACKEND = keras.backend.backend()
#: tf.distribute exists on TensorFlow only.
HAS_TF_DISTRIBUTE = BACKEND == "tensorflow"
#: On torch `jit_compile=True` is `torch.compile`: about 30 s per model on CPU, so only the
#: training steps (where the compiled step is the product) run the check there.
CHEAP_JIT = BACKEND != "torch"

#: XLA or MirroredStrategy against the eager float32 reference, same weights (float32
#: reassociation and XLA's fused kernels only).
COMPILED_TOLERANCE = {"rtol": 1e-4, "atol": 1e-5}
#: A mixed policy against float32 with the same weights: the bound on the difference,
#: relative to max(1, largest absolute float32 output). float16 keeps 11 significant bits,
#: bfloat16 8; a few layers of rounding stay well within.
MIXED_TOLERANCE = {"mixed_float16": 1e-2, "mixed_bfloat16": 5e-2}


# --------------------------------------------------------------------------- utilities


@keras.saving.register_keras_serializable(package="kerasext_tests")
class ZeroLoss(keras.losses.Loss):
    """A loss of zero, so that a model can be compiled only to evaluate metrics."""

    def call(self, y_true, y_pred):
        return ops.zeros(ops.shape(y_pred)[:1], dtype=self.dtype)


@functools.cache
def mirrored_strategy():
    """A MirroredStrategy over the two logical CPU devices made in conftest.py.

    One instance serves the whole process: two MirroredStrategy objects in one
    process can hand out the same collective instance keys, and their
    all-reduces then collide ("Shape mismatch in the collective instance").
    """
    import tensorflow as tf

    devices = tf.config.list_logical_devices("CPU")
    assert len(devices) >= 2, (
        "conftest.py must configure two logical CPU devices before TensorFlow "
        f"initialises; found {[d.name for d in devices]}"
    )
    return tf.distribute.MirroredStrategy([d.name for d in devices[:2]])


def _normalize(value):
    """Brings a value to the form it takes after a JSON round trip."""
    if isinstance(value, dict):
        return {k: _normalize(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_normalize(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if hasattr(value, "get_config") and not isinstance(value, type):
        return _normalize(keras.saving.serialize_keras_object(value))
    return value


def _to_numpy(structure):
    return keras.tree.map_structure(lambda t: np.asarray(ops.convert_to_numpy(t)), structure)


def assert_allclose_structure(actual, expected, *, rtol=1e-6, atol=1e-6, what="outputs"):
    actual = _to_numpy(actual)
    expected = _to_numpy(expected)
    keras.tree.assert_same_structure(actual, expected)
    for a, e in zip(keras.tree.flatten(actual), keras.tree.flatten(expected)):
        np.testing.assert_allclose(
            a.astype("float64") if a.dtype.kind in "fc" else a,
            e.astype("float64") if e.dtype.kind in "fc" else e,
            rtol=rtol,
            atol=atol,
            err_msg=f"{what} differ",
            equal_nan=True,
        )


def _is_stochastic(layer):
    """Whether training draws random numbers (dropout, noise): the layer owns a seed generator."""
    return any("seed_generator" in variable.path for variable in layer.variables)


def _emits_mask(layer, input_data):
    """Whether `layer`'s output carries a mask (e.g. padding tokens).

    Keras reduces a masked loss per replica (each replica divides by its own
    count of unmasked positions), so under MirroredStrategy the loss and the
    step of such a layer legitimately differ from one device's.
    """
    if not getattr(layer, "supports_masking", False):
        return False
    try:
        mask = layer.compute_mask(input_data)
    except Exception:  # noqa: BLE001 - a layer that cannot say: treat as masked
        return True
    return mask is not None and not bool(np.all(ops.convert_to_numpy(mask)))


def _assert_close(component, check, actual, expected, *, rtol, atol, what):
    try:
        assert_allclose_structure(actual, expected, rtol=rtol, atol=atol, what=what)
    except AssertionError as error:
        _fail(component, check, f"{what} differ from the eager float32 reference beyond "
                                f"rtol={rtol}, atol={atol}:\n{error}")


def _assert_close_to_float32(component, policy_name, actual, expected):
    expected = _to_numpy(expected)
    scale = max([1.0] + [float(np.max(np.abs(e))) for e in keras.tree.flatten(expected)
                         if e.dtype.kind == "f" and e.size])
    _assert_close(component, policy_name, _to_numpy(keras.tree.map_structure(
        lambda t: ops.cast(t, "float32"), actual)), expected, rtol=0,
        atol=MIXED_TOLERANCE[policy_name] * scale, what=f"{policy_name} outputs")


def _all_sublayers(layer):
    """Every nested sublayer of `layer` (through kerasext._compat, the one home of the private
    walk Keras itself uses)."""
    for child in direct_sublayers(layer):
        yield child
        yield from _all_sublayers(child)


def _check_sublayer_policies(component, check, root, policy, float32_sublayers=()):
    """keras-hub's run_precision_test: every sublayer computes and stores under `policy`."""
    for layer in _all_sublayers(root):
        if isinstance(layer, (keras.layers.InputLayer, keras.layers.Softmax)):
            continue  # MultiHeadAttention's softmax computes in float32 under mixed_float16
        if layer.name in float32_sublayers and layer.compute_dtype == "float32":
            continue
        if (layer.compute_dtype, layer.variable_dtype) != (policy.compute_dtype,
                                                           policy.variable_dtype):
            _fail(component, check,
                  f"sublayer {layer.name!r} ({type(layer).__name__}) has the dtype policy "
                  f"{layer.dtype_policy.name}, expected {policy.name} (create sublayers with "
                  "dtype=self.dtype_policy)")


def _check_weight_counts(component, layer, built, expected_trainable, expected_non_trainable):
    if built is not None and len(built.weights) != len(layer.weights):
        _fail(component, "weights",
              f"build() creates {len(built.weights)} weights, calling the layer "
              f"{len(layer.weights)} (create every weight in build())")
    for expected, weights, kind in ((expected_trainable, layer.trainable_weights, "trainable"),
                                    (expected_non_trainable, layer.non_trainable_weights,
                                     "non-trainable")):
        if expected is not None and len(weights) != expected:
            _fail(component, "weights",
                  f"{len(weights)} {kind} weights, expected {expected}: "
                  f"{[w.path for w in weights]}")


def _same_weight_count(component, check, actual, expected):
    if len(actual.weights) != len(expected.weights):
        _fail(component, check,
              f"{len(actual.weights)} weights after {check}, {len(expected.weights)} before")


def _fail(component, check, message):
    raise AssertionError(f"{component}: {check} check failed: {message}")


def _name(cls):
    return getattr(cls, "__name__", str(cls))


def _tmp_path(filename):
    return os.path.join(tempfile.mkdtemp(prefix="kerasext-conformance-"), filename)


def _assert_no_lambda(model, component):
    for layer in [model, *_all_sublayers(model)]:
        if isinstance(layer, keras.layers.Lambda):
            _fail(
                component,
                "saving",
                f"contains a keras.layers.Lambda ({layer.name}); Lambda layers do not load "
                "with safe_mode=True. Write a registered layer instead.",
            )


def _assert_keeps_arguments(component, instance, init_kwargs, config):
    for key, value in init_kwargs.items():
        if key in ("name", "dtype"):
            continue
        if key not in config:
            _fail(
                component,
                "config",
                f"get_config() drops the constructor argument `{key}` "
                f"(received keys: {sorted(config)})",
            )
        if _normalize(config[key]) != _normalize(value):
            _fail(
                component,
                "config",
                f"get_config()[{key!r}] is {config[key]!r}, but the constructor received {value!r}",
            )
        if not hasattr(instance, key):
            _fail(component, "config", f"the argument `{key}` is not kept as an attribute")


def check_config_round_trip(cls, instance, init_kwargs):
    """Arguments kept, JSON-safe, and `from_config(get_config())` equal."""
    component = _name(cls)
    config = instance.get_config()
    _assert_keeps_arguments(component, instance, init_kwargs, config)
    try:
        json.dumps(config)
    except TypeError as error:
        _fail(component, "config", f"get_config() is not JSON-serialisable: {error}")
    revived = cls.from_config(copy.deepcopy(config))
    revived_config = revived.get_config()
    if _normalize(revived_config) != _normalize(config):
        _fail(
            component,
            "config",
            f"from_config(get_config()) changes the config:\n{config}\n!=\n{revived_config}",
        )
    return revived


def _symbolic_inputs(input_data):
    return keras.tree.map_structure(
        lambda a: keras.Input(shape=np.shape(a)[1:], dtype=str(np.asarray(a).dtype)), input_data
    )


def _is_float(tensor):
    return "float" in str(keras.backend.standardize_dtype(tensor.dtype))


def _zeros_target(outputs):
    return keras.tree.map_structure(
        lambda t: np.zeros(np.shape(t), dtype="float32"), _to_numpy(outputs)
    )


def _fit_one_step(model, x, y, *, jit_compile=False, loss="mse", optimizer="sgd", **compile_kw):
    model.compile(optimizer=optimizer, loss=loss, jit_compile=jit_compile, **compile_kw)
    batch_size = len(keras.tree.flatten(x)[0])
    history = model.fit(x, y, epochs=1, batch_size=batch_size, verbose=0, shuffle=False)
    return history.history


def _step_from(make, weights, x, y, *, jit_compile=False, loss="mse", strategy=None):
    """A model from `make()` with `weights`: its predictions, then one SGD step.

    Returns (predictions before the step, History of the step, the model).
    """
    batch_size = len(keras.tree.flatten(x)[0])
    with strategy.scope() if strategy is not None else contextlib.nullcontext():
        model = make()
        model(x, training=False)
        model.set_weights(weights)
        model.compile(optimizer="sgd", loss=loss, jit_compile=jit_compile)
    predictions = model.predict(x, batch_size=batch_size, verbose=0)
    history = model.fit(x, y, epochs=1, batch_size=batch_size, verbose=0, shuffle=False)
    return predictions, history.history, model


def _compare_step(component, check, got, reference, *, deterministic, rtol=None, atol=None):
    """`got` and `reference` from `_step_from`: predictions, and loss and weights if deterministic."""
    tolerance = {"rtol": rtol if rtol is not None else COMPILED_TOLERANCE["rtol"],
                 "atol": atol if atol is not None else COMPILED_TOLERANCE["atol"]}
    predictions, history, model = got
    reference_predictions, reference_history, reference_model = reference
    _assert_finite_history(component, check, history)
    _assert_close(component, check, predictions, reference_predictions, **tolerance,
                  what="predictions")
    if deterministic:
        _assert_close(component, check, history["loss"], reference_history["loss"],
                      **tolerance, what="the loss of one step")
        _assert_close(component, check, model.get_weights(), reference_model.get_weights(),
                      **tolerance, what="the weights after one step")


def _assert_finite_history(component, check, history):
    for key, values in history.items():
        if not np.all(np.isfinite(values)):
            _fail(component, check, f"{key} is not finite: {values}")


def _assert_float32_variables(component, check, variables):
    for variable in variables:
        dtype = keras.backend.standardize_dtype(variable.dtype)
        if "float" in dtype and dtype != "float32":
            _fail(component, check, f"variable {variable.path} is {dtype}, expected float32")


def _check_saving(component, model, input_data, *, rtol, atol):
    _assert_no_lambda(model, component)
    expected = model(input_data, training=False)
    path = _tmp_path("model.keras")
    model.save(path)
    try:
        loaded = keras.saving.load_model(path)  # safe_mode=True, no custom_objects
    except Exception as error:  # noqa: BLE001 - the message is what matters here
        _fail(component, "saving", f"load_model(safe_mode=True) failed: {error!r}")
    actual = loaded(input_data, training=False)
    assert_allclose_structure(actual, expected, rtol=rtol, atol=atol, what=f"{component} reloaded")
    return loaded


# --------------------------------------------------------------------------- layers


def run_layer_test(
    layer_cls,
    init_kwargs,
    input_data,
    *,
    expected_output_shape=None,
    call_kwargs=None,
    run_config=True,
    run_saving=True,
    run_mixed_precision=True,
    mixed_precision_output_dtype=None,
    run_jit=True,
    run_distributed=True,
    run_deepcopy=True,
    expected_num_trainable_weights=None,
    expected_num_non_trainable_weights=None,
    rtol=1e-5,
    atol=1e-5,
):
    """Runs a layer through every conformance check.

    Args:
        layer_cls: the layer class.
        init_kwargs: constructor arguments.
        input_data: a NumPy array (or list / dict of arrays) with a batch axis.
        expected_output_shape: the shape (or structure of shapes) of the output.
        call_kwargs: extra keyword arguments for `call`.
        mixed_precision_output_dtype: the output dtype expected under a mixed
            policy; `None` means the policy's compute dtype.
        expected_num_trainable_weights, expected_num_non_trainable_weights:
            the weight counts, checked when given.
    """
    component = _name(layer_cls)
    call_kwargs = call_kwargs or {}

    def functional(layer):
        inputs = _symbolic_inputs(input_data)
        return keras.Model(inputs, layer(inputs, **call_kwargs))

    layer = layer_cls(**init_kwargs)
    model = functional(layer)
    outputs = model(input_data, training=False)
    if not layer.built:
        _fail(component, "build", "the layer is not built after being called")
    if expected_output_shape is not None:
        shapes = keras.tree.map_structure(lambda t: tuple(t.shape), outputs)
        if _normalize(shapes) != _normalize(expected_output_shape):
            _fail(component, "shape", f"output shape {shapes} != expected {expected_output_shape}")
    built = layer_cls(**init_kwargs)
    built.build(keras.tree.map_structure(np.shape, input_data))
    _check_weight_counts(component, layer, built, expected_num_trainable_weights,
                         expected_num_non_trainable_weights)

    if run_config:
        revived = check_config_round_trip(layer_cls, layer, init_kwargs)
        revived_model = functional(revived)
        _same_weight_count(component, "from_config", revived_model, model)
        revived_model.set_weights(model.get_weights())
        assert_allclose_structure(
            revived_model(input_data, training=False),
            outputs,
            rtol=rtol,
            atol=atol,
            what=f"{component} from_config(get_config()) outputs",
        )

    if run_saving:
        loaded = _check_saving(component, model, input_data, rtol=rtol, atol=atol)
        _same_weight_count(component, "saving", loaded, model)

    if run_deepcopy:
        clone = copy.deepcopy(layer)
        if _normalize(clone.get_config()) != _normalize(layer.get_config()):
            _fail(component, "deepcopy", "the deep copy has another config")
        copy.deepcopy(layer_cls(**init_kwargs))

    if run_mixed_precision:
        for policy_name in MIXED_POLICIES:
            policy = keras.DTypePolicy(policy_name)
            mixed = layer_cls(**init_kwargs, dtype=policy)
            mixed(input_data, **call_kwargs)
            mixed.set_weights(layer.get_weights())
            mixed_outputs = mixed(input_data, training=False, **call_kwargs)
            _check_sublayer_policies(component, policy_name, mixed, policy)
            _assert_close_to_float32(component, policy_name, mixed_outputs, outputs)
            expected_dtype = mixed_precision_output_dtype or policy.compute_dtype
            for output in keras.tree.flatten(mixed_outputs):
                if _is_float(output):
                    got = keras.backend.standardize_dtype(output.dtype)
                    if got != expected_dtype:
                        _fail(
                            component,
                            f"{policy_name}",
                            f"output dtype is {got}, expected {expected_dtype} "
                            "(cast to self.compute_dtype instead of hard-coding float32)",
                        )
                if not np.all(np.isfinite(ops.convert_to_numpy(ops.cast(output, "float32")))):
                    _fail(component, policy_name, "outputs are not finite")
            _assert_float32_variables(component, policy_name, mixed.weights)

    target = _zeros_target(outputs)
    run_jit = run_jit and CHEAP_JIT
    run_distributed = run_distributed and HAS_TF_DISTRIBUTE
    if run_jit or run_distributed:
        def make():
            return functional(layer_cls(**init_kwargs))

        weights = model.get_weights()
        deterministic = not _is_stochastic(layer)
        reference = _step_from(make, weights, input_data, target)
        if run_jit:
            _compare_step(component, "jit_compile",
                          _step_from(make, weights, input_data, target, jit_compile=True),
                          reference, deterministic=deterministic)
        if run_distributed:
            _compare_step(component, "MirroredStrategy",
                          _step_from(make, weights, input_data, target,
                                     strategy=mirrored_strategy()),
                          reference,
                          deterministic=deterministic and not _emits_mask(layer, input_data))
    return layer


# --------------------------------------------------------------------------- models


def run_model_test(
    model_cls,
    init_kwargs,
    input_data,
    target=None,
    *,
    loss="mse",
    expected_output_shape=None,
    run_config=True,
    run_saving=True,
    run_mixed_precision=True,
    run_jit=True,
    run_distributed=True,
    run_deepcopy=True,
    expected_num_trainable_weights=None,
    expected_num_non_trainable_weights=None,
    float32_sublayers=("head", "linear"),
    rtol=1e-5,
    atol=1e-5,
):
    """Runs a subclassed model through every conformance check.

    Args:
        model_cls: the model class.
        init_kwargs: constructor arguments.
        input_data: a NumPy array (or structure) with a batch axis.
        target: training targets for the fit steps; zeros shaped like the
            output when `None` (with `loss="mse"`).
        loss: the loss the fit steps compile with.
        expected_num_trainable_weights, expected_num_non_trainable_weights:
            the weight counts, checked when given.
        float32_sublayers: names of the output layers that compute in
            float32 under a mixed policy (final outputs are float32).
    """
    component = _name(model_cls)
    model = model_cls(**init_kwargs)
    outputs = model(input_data, training=False)
    if expected_output_shape is not None:
        shapes = keras.tree.map_structure(lambda t: tuple(t.shape), outputs)
        if _normalize(shapes) != _normalize(expected_output_shape):
            _fail(component, "shape", f"output shape {shapes} != expected {expected_output_shape}")
    for output in keras.tree.flatten(outputs):
        if _is_float(output) and keras.backend.standardize_dtype(output.dtype) != "float32":
            _fail(component, "float32", f"output dtype {output.dtype}, expected float32")
    if target is None:
        target = _zeros_target(outputs)
    built = model_cls(**init_kwargs)
    built.build(keras.tree.map_structure(np.shape, input_data))
    _check_weight_counts(component, model, built, expected_num_trainable_weights,
                         expected_num_non_trainable_weights)
    initial_weights = model.get_weights()

    if run_config:
        revived = check_config_round_trip(model_cls, model, init_kwargs)
        revived(input_data, training=False)
        _same_weight_count(component, "from_config", revived, model)
        revived.set_weights(model.get_weights())
        assert_allclose_structure(
            revived(input_data, training=False), outputs, rtol=rtol, atol=atol,
            what=f"{component} from_config(get_config()) outputs",
        )

    if run_saving:
        loaded = _check_saving(component, model, input_data, rtol=rtol, atol=atol)
        if type(loaded) is not model_cls:
            _fail(component, "saving", f"load_model returned {type(loaded).__name__}")
        _same_weight_count(component, "saving", loaded, model)

    if run_deepcopy:
        clone = copy.deepcopy(model)
        assert_allclose_structure(
            clone(input_data, training=False), outputs, rtol=rtol, atol=atol,
            what=f"{component} deepcopy outputs",
        )

    if run_mixed_precision:
        for policy_name in MIXED_POLICIES:
            # As keras-hub's run_precision_test: the policy given to the model alone (the
            # global one stays float32), so a sublayer that ignores it is caught.
            policy = keras.DTypePolicy(policy_name)
            mixed = model_cls(**init_kwargs, dtype=policy)
            mixed(input_data, training=False)
            mixed.set_weights(initial_weights)
            _check_sublayer_policies(component, policy_name, mixed, policy, float32_sublayers)
            _assert_close_to_float32(component, policy_name,
                                     mixed(input_data, training=False), outputs)
            # Keras' default "auto": XLA on JAX (where an eager step compiles every op
            # anew, several times slower), no XLA on TensorFlow CPU and torch.
            history = _fit_one_step(mixed, input_data, target, loss=loss, jit_compile="auto")
            mixed_outputs = mixed(input_data, training=False)
            for output in keras.tree.flatten(mixed_outputs):
                if _is_float(output) and keras.backend.standardize_dtype(output.dtype) != "float32":
                    _fail(
                        component,
                        policy_name,
                        f"final output dtype is {output.dtype}, expected float32 "
                        "(give the output layer dtype='float32')",
                    )
            _assert_float32_variables(component, policy_name, mixed.weights)
            _assert_finite_history(component, policy_name, history)

    run_jit = run_jit and CHEAP_JIT
    run_distributed = run_distributed and HAS_TF_DISTRIBUTE
    if run_jit or run_distributed:
        def make():
            return model_cls(**init_kwargs)

        deterministic = not _is_stochastic(model)
        reference = _step_from(make, initial_weights, input_data, target, loss=loss)
        if run_jit:
            _compare_step(component, "jit_compile",
                          _step_from(make, initial_weights, input_data, target, loss=loss,
                                     jit_compile=True),
                          reference, deterministic=deterministic)
        if run_distributed:
            _compare_step(component, "MirroredStrategy",
                          _step_from(make, initial_weights, input_data, target, loss=loss,
                                     strategy=mirrored_strategy()),
                          reference,
                          deterministic=deterministic and not _emits_mask(model, input_data))
    return model


# --------------------------------------------------------------------------- metrics


def _metric_logs(metric):
    """The entries a metric adds to Keras' logs: a dict result is flattened."""
    result = metric.result()
    if isinstance(result, dict):
        return _to_numpy(result)
    return {metric.name: np.asarray(ops.convert_to_numpy(result))}


def _identity_model(y_pred):
    inputs = keras.Input(shape=np.shape(y_pred)[1:], dtype=str(np.asarray(y_pred).dtype))
    return keras.Model(inputs, keras.layers.Identity()(inputs))


def _jit_update(metric, y_true, y_pred, sample_weight):
    """One `update_state` compiled by the backend's own compiler (XLA on TF and JAX)."""
    if BACKEND == "tensorflow":
        import tensorflow as tf

        @tf.function(jit_compile=True)
        def update(yt, yp):
            metric.update_state(yt, yp, sample_weight=sample_weight)

        update(y_true, y_pred)
    elif BACKEND == "jax":
        import jax

        # On JAX a compiled update must be stateless: the state goes in and comes out.
        @jax.jit
        def update(values, yt, yp):
            return metric.stateless_update_state(values, yt, yp, sample_weight=sample_weight)

        values = update([v.value for v in metric.variables], y_true, y_pred)
        for variable, value in zip(metric.variables, values):
            variable.assign(value)
    else:
        import torch

        torch.compile(metric.update_state)(y_true, y_pred, sample_weight=sample_weight)


def run_metric_test(
    metric_cls,
    init_kwargs,
    y_true,
    y_pred,
    sample_weight=None,
    *,
    expected=None,
    run_config=True,
    run_saving=True,
    run_mixed_precision=True,
    run_jit=True,
    run_distributed=True,
    run_deepcopy=True,
    batch_size=None,
    rtol=1e-6,
    atol=1e-6,
):
    """Runs a metric through every conformance check.

    The eager result of one `update_state` is the reference the other paths
    must equal: streamed in batches inside `model.evaluate`, jit-compiled,
    under MirroredStrategy, after a `.keras` round trip, deep-copied, and fed
    float16 / bfloat16 predictions. `expected` (from an independent reference
    such as scikit-learn) is checked against it when given.
    """
    component = _name(metric_cls)
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    n = len(y_pred)
    batch_size = batch_size or max(1, n // 3)

    metric = metric_cls(**init_kwargs)
    metric.update_state(y_true, y_pred, sample_weight=sample_weight)
    reference = _metric_logs(metric)
    if expected is not None:
        assert_allclose_structure(
            metric.result(), expected, rtol=rtol, atol=atol, what=f"{component} vs reference"
        )

    metric.reset_state()
    metric.update_state(y_true, y_pred, sample_weight=sample_weight)
    assert_allclose_structure(_metric_logs(metric), reference, rtol=rtol, atol=atol,
                              what=f"{component} after reset_state")

    if run_config:
        revived = check_config_round_trip(metric_cls, metric, init_kwargs)
        revived.update_state(y_true, y_pred, sample_weight=sample_weight)
        assert_allclose_structure(_metric_logs(revived), reference, rtol=rtol, atol=atol,
                                  what=f"{component} from_config result")

    if run_deepcopy:
        # Keras' own metrics come out of deepcopy with reset state, so a copy is
        # checked from scratch: it must count alone, leaving the original untouched.
        clone = copy.deepcopy(metric)
        clone.reset_state()
        clone.update_state(y_true, y_pred, sample_weight=sample_weight)
        assert_allclose_structure(_metric_logs(clone), reference, rtol=rtol, atol=atol,
                                  what=f"{component} deepcopy result")
        assert_allclose_structure(_metric_logs(metric), reference, rtol=rtol, atol=atol,
                                  what=f"{component} original after updating its deep copy")

    if run_jit and CHEAP_JIT:
        jit_metric = metric_cls(**init_kwargs)

        _jit_update(jit_metric, y_true, y_pred, sample_weight)
        assert_allclose_structure(_metric_logs(jit_metric), reference, rtol=rtol, atol=atol,
                                  what=f"{component} under jit_compile")

    def evaluate(model_metric, model=None, **compile_kw):
        model = model or _identity_model(y_pred)
        # Keras passes sample_weight only to `weighted_metrics`; under `metrics` it is dropped.
        kind = "metrics" if sample_weight is None else "weighted_metrics"
        model.compile(loss=ZeroLoss(), **{kind: [model_metric]}, **compile_kw)
        logs = model.evaluate(
            y_pred, y_true, sample_weight=sample_weight, batch_size=batch_size,
            verbose=0, return_dict=True,
        )
        return model, {key: logs[key] for key in reference}

    model, logs = evaluate(metric_cls(**init_kwargs))
    assert_allclose_structure(logs, reference, rtol=rtol, atol=atol,
                              what=f"{component} streamed through model.evaluate")

    if run_jit and CHEAP_JIT:
        _, logs = evaluate(metric_cls(**init_kwargs), jit_compile=True)
        assert_allclose_structure(logs, reference, rtol=rtol, atol=atol,
                                  what=f"{component} in evaluate(jit_compile=True)")

    if run_saving:
        path = _tmp_path("metric_model.keras")
        model.save(path)
        loaded = keras.saving.load_model(path)
        loaded_logs = loaded.evaluate(
            y_pred, y_true, sample_weight=sample_weight, batch_size=batch_size,
            verbose=0, return_dict=True,
        )
        assert_allclose_structure({key: loaded_logs[key] for key in reference}, reference,
                                  rtol=rtol, atol=atol,
                                  what=f"{component} after .keras save and load")

    if run_distributed and HAS_TF_DISTRIBUTE:
        with mirrored_strategy().scope():
            _, logs = evaluate(metric_cls(**init_kwargs))
        assert_allclose_structure(logs, reference, rtol=rtol, atol=atol,
                                  what=f"{component} under MirroredStrategy")

    if run_mixed_precision and y_pred.dtype.kind == "f":
        for dtype in ("float16", "bfloat16"):
            low = ops.cast(y_pred, dtype)
            low_metric = metric_cls(**init_kwargs)
            low_metric.update_state(y_true, low, sample_weight=sample_weight)
            same_values = metric_cls(**init_kwargs)
            same_values.update_state(y_true, ops.cast(low, "float32"), sample_weight=sample_weight)
            assert_allclose_structure(_metric_logs(low_metric), _metric_logs(same_values),
                                      rtol=rtol, atol=atol,
                                      what=f"{component} with {dtype} predictions")
    return metric


# --------------------------------------------------------------------------- callbacks


def _default_callback_model():
    return keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(1)]
    )


def _default_callback_data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype("float32")
    y = (x @ np.array([1.0, -2.0, 0.5, 0.0], dtype="float32"))[:, None] + rng.normal(
        scale=0.5, size=(64, 1)
    ).astype("float32")
    return x, y


def _public_state(callback):
    state = {}
    for key, value in vars(callback).items():
        if key.startswith("_") or key in ("model", "params"):
            continue
        if value is None or isinstance(value, (bool, int, float, str, np.generic)):
            state[key] = value
    return state


def run_callback_test(
    callback_cls,
    init_kwargs,
    *,
    model_fn=None,
    x=None,
    y=None,
    epochs=4,
    fit_kwargs=None,
    compile_kwargs=None,
    run_config=True,
    run_mixed_precision=True,
    run_jit=True,
    run_distributed=True,
    run_deepcopy=True,
    rtol=1e-5,
    atol=1e-5,
):
    """Runs a callback through every conformance check.

    The callback must be reusable across `fit` calls (state reset in
    `on_train_begin`): one instance used twice from the same initial weights
    gives the same History and the same public state. A deep copy (made before
    and after a fit, as keras-tuner does every trial) behaves the same.
    """
    component = _name(callback_cls)
    model_fn = model_fn or _default_callback_model
    if x is None:
        x, y = _default_callback_data()
    fit_kwargs = {"validation_split": 0.25, "batch_size": 16, "shuffle": False, **(fit_kwargs or {})}
    compile_kwargs = {"optimizer": "sgd", "loss": "mse", **(compile_kwargs or {})}

    set_random_seed(0)
    initial = model_fn()
    initial.compile(**compile_kwargs)
    initial_weights = initial.get_weights()

    def fit(callback, *, jit_compile=False, strategy=None):
        def build():
            model = model_fn()
            model.compile(jit_compile=jit_compile, **compile_kwargs)
            model.set_weights(initial_weights)
            return model

        if strategy is None:
            model = build()
        else:
            with strategy.scope():
                model = build()
        history = model.fit(x, y, epochs=epochs, callbacks=[callback], verbose=0, **fit_kwargs)
        return history.history, _public_state(callback), model

    callback = callback_cls(**init_kwargs)
    if run_config and hasattr(callback, "get_config"):
        check_config_round_trip(callback_cls, callback, init_kwargs)

    fresh_copy = copy.deepcopy(callback) if run_deepcopy else None
    history, state, model = fit(callback)
    history_again, state_again, _ = fit(callback)
    assert_allclose_structure(history_again, history, rtol=rtol, atol=atol,
                              what=f"{component} reused: History of the second fit")
    if state_again != state:
        _fail(component, "reuse", f"state after a second fit {state_again} != first {state}")

    if run_deepcopy:
        for label, clone in (("before fit", fresh_copy), ("after fit", copy.deepcopy(callback))):
            clone_history, clone_state, _ = fit(clone)
            assert_allclose_structure(clone_history, history, rtol=rtol, atol=atol,
                                      what=f"{component} deep copy made {label}: History")
            if clone_state != state:
                _fail(component, "deepcopy", f"copy made {label}: state {clone_state} != {state}")

    def compare(check, other_history, other_state):
        _assert_finite_history(component, check, other_history)
        _assert_close(component, check, other_history, history, **COMPILED_TOLERANCE,
                      what="History")
        numbers = {key: value for key, value in state.items()
                   if isinstance(value, (float, np.floating))}
        exact = {key: value for key, value in state.items() if key not in numbers}
        if {key: other_state.get(key) for key in exact} != exact or set(other_state) != set(
                state):
            _fail(component, check, f"state {other_state} != eager reference {state}")
        _assert_close(component, check, {key: other_state[key] for key in numbers}, numbers,
                      **COMPILED_TOLERANCE, what="the callback's numbers (best, ...)")

    if run_jit and CHEAP_JIT:
        jit_history, jit_state, _ = fit(callback_cls(**init_kwargs), jit_compile=True)
        compare("jit_compile", jit_history, jit_state)

    if run_distributed and HAS_TF_DISTRIBUTE:
        dist_history, dist_state, _ = fit(callback_cls(**init_kwargs),
                                          strategy=mirrored_strategy())
        compare("MirroredStrategy", dist_history, dist_state)

    if run_mixed_precision:
        for policy_name in MIXED_POLICIES:
            keras.config.set_dtype_policy(policy_name)
            try:
                mixed_history, _, _ = fit(callback_cls(**init_kwargs))
            finally:
                keras.config.set_dtype_policy("float32")
            _assert_finite_history(component, policy_name, mixed_history)
            # Not compared with float32: under mixed_float16 Keras' dynamic loss scaling
            # skips the steps whose gradients overflow (on JAX the first epoch's val_loss
            # differs by ~5%), so the History follows another trajectory by design.
    return callback, history


# --------------------------------------------------------------------------- training steps


def run_training_step_test(
    step_cls,
    init_kwargs,
    model_fn,
    x,
    y,
    *,
    compile_kwargs=None,
    run_config=True,
    run_saving=True,
    run_mixed_precision=True,
    run_jit=True,
    run_distributed=True,
    compare_distributed_weights=True,
    run_deepcopy=True,
    rtol=1e-5,
    atol=1e-5,
):
    """Runs a training-step wrapper (`step_cls(model, **init_kwargs)`) through every check.

    Under MirroredStrategy one step over the full batch must give the same
    weights as on one device (within `atol`) when
    `compare_distributed_weights` is set (turn it off for stochastic steps).
    """
    component = _name(step_cls)
    compile_kwargs = {"optimizer": "sgd", "loss": "mse", **(compile_kwargs or {})}
    batch_size = len(keras.tree.flatten(x)[0])

    def build(**extra):
        trainer = step_cls(model_fn(), **init_kwargs)
        trainer.compile(**{**compile_kwargs, **extra})
        return trainer

    set_random_seed(0)
    trainer = build()
    trainer(x)  # build variables before copying weights around
    initial_weights = trainer.get_weights()
    history = trainer.fit(x, y, epochs=1, batch_size=batch_size, verbose=0, shuffle=False).history
    _assert_finite_history(component, "fit", history)
    trained_weights = trainer.get_weights()
    outputs = trainer.predict(x, verbose=0)

    if run_config:
        config = trainer.get_config()
        _assert_keeps_arguments(component, trainer, init_kwargs, config)
        json.dumps(config)
        revived = step_cls.from_config(copy.deepcopy(config))
        if _normalize(revived.get_config()) != _normalize(config):
            _fail(component, "config", "from_config(get_config()) changes the config")

    if run_saving:
        _assert_no_lambda(trainer, component)
        path = _tmp_path("trainer.keras")
        trainer.save(path)
        loaded = keras.saving.load_model(path)
        if type(loaded) is not step_cls:
            _fail(component, "saving", f"load_model returned {type(loaded).__name__}")
        assert_allclose_structure(loaded.predict(x, verbose=0), outputs, rtol=rtol, atol=atol,
                                  what=f"{component} reloaded predictions")

    if run_deepcopy:
        clone = copy.deepcopy(trainer)
        assert_allclose_structure(clone.predict(x, verbose=0), outputs, rtol=rtol, atol=atol,
                                  what=f"{component} deepcopy predictions")

    if run_jit:
        jit_trainer = build(jit_compile=True)
        jit_trainer(x)
        jit_trainer.set_weights(initial_weights)
        jit_history = jit_trainer.fit(x, y, epochs=1, batch_size=batch_size, verbose=0,
                                      shuffle=False).history
        _assert_finite_history(component, "jit_compile", jit_history)

    if run_distributed and HAS_TF_DISTRIBUTE:
        with mirrored_strategy().scope():
            distributed = build()
            distributed(x)
            distributed.set_weights(initial_weights)
        dist_history = distributed.fit(x, y, epochs=1, batch_size=batch_size, verbose=0,
                                       shuffle=False).history
        _assert_finite_history(component, "MirroredStrategy", dist_history)
        if compare_distributed_weights:
            for got, want in zip(distributed.get_weights(), trained_weights):
                np.testing.assert_allclose(
                    got, want, rtol=0, atol=atol,
                    err_msg=f"{component}: MirroredStrategy check failed: weights after one "
                    "step differ from one device with the same global batch",
                )

    if run_mixed_precision:
        for policy_name in MIXED_POLICIES:
            keras.config.set_dtype_policy(policy_name)
            try:
                mixed = build()
                mixed_history = mixed.fit(x, y, epochs=1, batch_size=batch_size, verbose=0).history
            finally:
                keras.config.set_dtype_policy("float32")
            _assert_finite_history(component, policy_name, mixed_history)
            _assert_float32_variables(component, policy_name, mixed.trainable_weights)
    return trainer
