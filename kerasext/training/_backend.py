"""The few places where kerasext's training steps depend on the Keras backend.

Everything else in `kerasext.training` (TrainStep, SAM, ASAM, FGSM, PGD) is
written once in `keras.ops` on top of these:

- `value_and_grad(fn, values)`: the value of `fn(values) -> (value, aux)` and
  its gradient with respect to each tensor of `values`
  (TensorFlow: `tf.GradientTape`; JAX: `jax.value_and_grad`; torch:
  `torch.autograd.grad`);
- `maps_all_state()`: whether a forward pass in a `keras.StatelessScope` must
  be given every variable's value (JAX, whose step is stateless);
- `apply_gradients(optimizer, gradients, variables)`: `optimizer.apply`, or
  on JAX `optimizer.stateless_apply` with the results assigned in the step's
  `StatelessScope`;
- `run_train_step(trainer, step, *args)`: adapts a step written with stateful
  calls (`step(data) -> logs`) to the backend's trainer: on JAX, Keras calls
  `train_step(state, data)` and expects `(logs, state)` back, so the step runs
  in a `StatelessScope` holding the state and the new state is read from it;
  on torch it runs under `torch.no_grad()` (gradients come only from
  `value_and_grad`);
- `tf.distribute` helpers (replica count, all-reduce), the identity on the
  other backends, where Keras' arrays are global.

TensorFlow, JAX and torch are imported inside the functions, for the active
backend only, so that `import kerasext.training` imports no other framework.
"""

import keras
from keras import ops


def _backend():
    return keras.backend.backend()


# --------------------------------------------------------------------------- autodiff


def value_and_grad(fn, values):
    """The value of `fn` and its gradients with respect to `values`.

    Args:
        fn: a function of one argument, a list of tensors shaped like
            `values`, that returns `(value, aux)`: `value` a scalar tensor,
            `aux` any structure of tensors carried along (not differentiated).
        values: a list of floating-point tensors.

    Returns:
        `((value, aux), gradients)`, `gradients` a list with one entry per
        tensor of `values`: the gradient of `value`, or `None` (TensorFlow,
        torch) / zeros (JAX) where `value` does not depend on it. On torch,
        `value` and the tensors of `aux` come back detached from the graph.
    """
    backend = _backend()
    values = list(values)
    if backend == "tensorflow":
        import tensorflow as tf

        values = [tf.convert_to_tensor(v) for v in values]
        with tf.GradientTape() as tape:
            tape.watch(values)
            value, aux = fn(values)
        return (value, aux), tape.gradient(value, values)
    if backend == "jax":
        import jax

        values = [ops.convert_to_tensor(v) for v in values]
        (value, aux), gradients = jax.value_and_grad(fn, has_aux=True)(values)
        return (value, aux), list(gradients)
    if backend == "torch":
        import torch

        leaves = [ops.convert_to_tensor(v).detach().requires_grad_(True) for v in values]
        with torch.enable_grad():
            value, aux = fn(leaves)
            if leaves and value.requires_grad:
                gradients = torch.autograd.grad(value, leaves, allow_unused=True)
            else:
                gradients = [None] * len(leaves)

        def detach(t):
            return t.detach() if isinstance(t, torch.Tensor) else t

        return (detach(value), keras.tree.map_structure(detach, aux)), list(gradients)
    raise NotImplementedError(
        f"kerasext.training supports the tensorflow, jax and torch backends. "
        f"Received: backend={backend!r}"
    )


def maps_all_state():
    """Whether a nested `StatelessScope` must be given every variable's value.

    A `StatelessScope` does not fall back on an enclosing one: a variable it
    does not map reads the variable's own storage. On JAX the whole step runs
    in a scope that holds the state (the variables' storage may even be
    purged during `fit`), so every variable a forward pass reads must be
    mapped; on TensorFlow and torch the storage is current.
    """
    return _backend() == "jax"


# --------------------------------------------------------------------------- the step


def apply_gradients(optimizer, gradients, variables):
    """Applies `gradients` to `variables` with the optimizer (clipping, accumulation, EMA...)."""
    if _backend() == "jax":
        # `apply` branches with `lax.cond` and assigns inside the branches, which
        # a stateless trace cannot do; `stateless_apply` returns the values instead.
        trainable_values, optimizer_values = optimizer.stateless_apply(
            [v.value for v in optimizer.variables], list(gradients), [v.value for v in variables]
        )
        for variable, value in zip(variables, trainable_values):
            variable.assign(value)
        for variable, value in zip(optimizer.variables, optimizer_values):
            variable.assign(value)
    else:
        optimizer.apply(list(gradients), variables)


def run_train_step(trainer, step, *args):
    """Runs `step(data) -> logs` as the backend's trainer expects `train_step(*args)` to run."""
    backend = _backend()
    if backend == "jax":
        state, data = args
        groups = (
            trainer.trainable_variables,
            trainer.non_trainable_variables,
            trainer.optimizer.variables,
            trainer.metrics_variables,
        )
        mapping = [pair for variables, values in zip(groups, state)
                   for pair in zip(variables, values)]
        with keras.StatelessScope(state_mapping=mapping) as scope:
            logs = step(data)
        new_state = tuple(
            [scope.get_current_value(v) for v in variables] for variables in groups
        )
        return logs, new_state
    (data,) = args
    if backend == "torch":
        import torch

        with torch.no_grad():
            return step(data)
    return step(data)


def split_step_result(result):
    """`(logs, rebuild)` from what a Keras `test_step` returned (`(logs, state)` on JAX)."""
    if _backend() == "jax":
        logs, state = result
        return logs, lambda new_logs: (new_logs, state)
    return result, lambda new_logs: new_logs


# --------------------------------------------------------------------------- tf.distribute


def num_replicas_in_sync():
    """The number of replicas the current `tf.distribute` strategy runs (1 off TensorFlow)."""
    if _backend() != "tensorflow":
        return 1
    import tensorflow as tf

    return tf.distribute.get_strategy().num_replicas_in_sync


def all_reduce_sum(values):
    """Sums a list of tensors (or `None`) over the `tf.distribute` replicas.

    The identity on one device and off TensorFlow: JAX's `keras.distribution`
    works on global arrays, so its gradients are already global.
    """
    values = list(values)
    if _backend() != "tensorflow":
        return values
    import tensorflow as tf

    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return values
    present = [v for v in values if v is not None]
    reduced = iter(context.all_reduce(tf.distribute.ReduceOp.SUM, present))
    return [None if v is None else next(reduced) for v in values]


def batch_size_of(x):
    """The (dynamic) batch size of the first non-`None` input."""
    first = next(t for t in keras.tree.flatten(x) if t is not None)
    if _backend() == "tensorflow":
        import tensorflow as tf

        return tf.shape(first)[0]
    return ops.shape(first)[0]
