"""No number where the input is wrong: the checks of labels and predictions, on every backend.

`_inputs.standardize` turns each thing a batch must satisfy (labels in range,
0/1 labels, no NaN score) into a `Check`: a boolean tensor marking the
offending positions (positions skipped on purpose, by `ignore_class` or a
mask, are never marked). `enforce` reduces each check once per batch and
fails where it can:

- eagerly (an `update_state` call outside any compiled function, every step
  on torch, `run_eagerly=True`): a `ValueError` before the state changes,
  naming the distinct values received (or the positions of the NaNs);
- in a TensorFlow graph (`fit` / `evaluate` with the default
  `jit_compile`): a `tf.debugging.Assert` in a `tf.cond`, so the message
  tensors are only computed when it fails; TensorFlow raises
  `InvalidArgumentError` with the message, the count and the smallest and
  largest offending values;
- under `jax.jit` (`fit` / `evaluate` on JAX): a `jax.pure_callback` in a
  `lax.cond` raises the same `ValueError` on the host, which JAX reports as a
  `JaxRuntimeError` carrying its message (a `jax.debug.callback` there,
  even in the branch never taken, made every step of a small model about
  40 us slower on CPU: its effect orders the step; a pure callback whose
  flag joins the poisoning flag costs about 1 us); an eager `update_state` on JAX
  (one compiled update) re-reads a failed batch eagerly and raises the
  `ValueError` itself;
- under XLA on TensorFlow (`jit_compile=True`) no assertion can fail: XLA
  compiles `Assert` to nothing. There, as in every compiled update, the counts
  of a failed batch are NaN instead, so every result of the metric is NaN
  until `reset_state()`: no number, never a wrong one.
"""

import collections
import contextlib
import functools

import keras
import numpy as np

from kerasext.metrics._fast import ops

#: `argument`: "y_true" or "y_pred"; `expected`: what it should hold, in words; `kind`:
#: "values" (name the offending values) or "nan" (name the positions of the NaNs);
#: `values`: the tensor named ("values" kind), same shape as `bad`; `bad`: bool, True where wrong,
#: or a function returning it, called only to describe a failure; `flag`: None, or a boolean
#: scalar equal to `any(bad)`, computed in fewer operations (a NaN check: `any(isnan(scores))`
#: instead of a per-row tensor every step).
Check = collections.namedtuple("Check", ["argument", "expected", "kind", "values", "bad", "flag"],
                               defaults=[None])


def bad_positions(check):
    """The check's `bad` tensor (built now when it is deferred)."""
    return check.bad() if callable(check.bad) else check.bad

#: How many distinct values or positions a message lists.
SHOWN = 10

_deferred = []


@contextlib.contextmanager
def deferred():
    """While tracing a compiled eager update: `enforce` only returns the failed flag.

    The caller raises on the host after the call, so the error is a plain
    `ValueError` raised by `update_state` itself.
    """
    _deferred.append(True)
    try:
        yield
    finally:
        _deferred.pop()


def _format(value):
    if isinstance(value, (np.integer, int)):
        return str(int(value))
    return repr(float(value))


def describe(check, values, bad):
    """The error message of a failed check, from its NumPy values (on the host)."""
    bad = np.asarray(bad, dtype=bool)
    count, total = int(bad.sum()), bad.size
    if check.kind == "values":
        found = np.unique(np.asarray(values)[bad])
        shown = ", ".join(_format(v) for v in found[:SHOWN])
        more = ", ..." if len(found) > SHOWN else ""
        received = f"{check.argument}=[{shown}{more}] at {count} of {total} positions"
    else:
        positions = np.flatnonzero(bad)
        shown = ", ".join(str(int(p)) for p in positions[:SHOWN])
        more = ", ..." if len(positions) > SHOWN else ""
        received = (f"{check.argument} with NaN at {count} of {total} positions "
                    f"(flat indices [{shown}{more}])")
    return (f"Invalid `{check.argument}` argument value. Expected {check.expected}. "
            f"Received: {received}")


def _raise(check, values, bad):
    bad = np.asarray(bad, dtype=bool)
    if bad.any():
        raise ValueError(describe(check, values, bad))


def _raise_flag(check, values, bad):
    """`_raise` as a `jax.pure_callback`: returns the (False) flag when nothing is wrong."""
    _raise(check, values, bad)
    return np.zeros((), dtype=bool)


def _tf_assert(check):
    """The failing branch on a TensorFlow graph: an Assert with the message and a summary."""
    import tensorflow as tf

    bad = bad_positions(check)  # inside the failing branch: built only when it fails
    count = tf.reduce_sum(tf.cast(bad, "int64"))
    total = tf.size(bad, out_type="int64")
    header = f"Invalid `{check.argument}` argument value. Expected {check.expected}. Received: "
    if check.kind == "values":
        values = check.values
        if values.dtype.is_integer:
            values = tf.cast(values, "int64")
            low, high = values.dtype.min, values.dtype.max
        else:
            values = tf.cast(values, "float32")
            low, high = -np.inf, np.inf
        smallest = tf.reduce_min(tf.where(bad, values, tf.cast(high, values.dtype)))
        largest = tf.reduce_max(tf.where(bad, values, tf.cast(low, values.dtype)))
        data = [header + f"{check.argument} at", count, "of", total,
                "positions, from", smallest, "to", largest]
    else:
        first = tf.argmax(tf.cast(tf.reshape(bad, (-1,)), "int32"), output_type="int64")
        data = [header + f"{check.argument} with NaN at", count, "of", total,
                "positions, the first at flat index", first]
    tf.debugging.Assert(False, data, summarize=SHOWN)


def enforce(checks):
    """Fails on a wrong batch (see the module docstring); returns its failed flag or None.

    None means the checks ran eagerly and passed; a boolean scalar tensor
    means they are part of a compiled function, and the caller poisons the
    batch's counts where it is True.
    """
    if not checks:
        return None
    flags = [ops.any(check.bad) if check.flag is None else check.flag for check in checks]
    failed = functools.reduce(ops.logical_or, flags)
    backend = keras.backend.backend()
    if _deferred:
        return failed
    if backend == "tensorflow":
        import tensorflow as tf

        if not tf.executing_eagerly():
            # One `If` per step: the checks' own conditions, and the messages they build,
            # run only inside it. TensorFlow lowers an `If` to Switch / Merge, which passes
            # every op of the branch not taken (~60 here) through the executor each step;
            # the branch is a function call kept whole (`_noinline`): one op to pass.
            def assert_each():
                for check, flag in zip(checks, flags):
                    tf.cond(flag, functools.partial(_tf_assert, check), lambda: None)

            call = tf.function(assert_each, autograph=False,
                               experimental_attributes={"_noinline": True})
            tf.cond(failed, call, lambda: None)
            return failed
    elif backend == "jax":
        import jax

        if isinstance(failed, jax.core.Tracer):
            import jax.numpy as jnp

            reported = []
            for check, flag in zip(checks, flags):
                bad = bad_positions(check)
                values = bad if check.values is None else check.values
                # The callback keeps only the words of the check, never a tracer.
                raise_on_host = functools.partial(
                    _raise_flag, check._replace(values=None, bad=None, flag=None))

                def fail(values, bad, raise_on_host=raise_on_host):
                    return jax.pure_callback(raise_on_host, jax.ShapeDtypeStruct((), "bool"),
                                             values, bad)

                reported.append(jax.lax.cond(flag, fail, lambda values, bad: jnp.zeros((), "bool"),
                                             values, bad))
            # The callbacks' flags join the one that poisons the counts, so they stay live.
            return functools.reduce(ops.logical_or, reported, failed)
    elif backend == "torch" and failed.device.type == "meta":
        return None  # Keras' shape inference: no values to check
    if not bool(failed if backend == "torch" else ops.convert_to_numpy(failed)):
        return None  # one read from the device when all is well
    for check, flag in zip(checks, flags):
        if bool(ops.convert_to_numpy(flag)):
            values = None if check.values is None else ops.convert_to_numpy(check.values)
            raise ValueError(describe(check, values,
                                      ops.convert_to_numpy(bad_positions(check))))
    return None
