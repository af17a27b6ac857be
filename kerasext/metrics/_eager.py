"""Eager metric updates on JAX, compiled once per batch shape instead of op by op."""

import keras

from kerasext.metrics import _checks

#: `_update` compiled by `jax.jit`, per set of arguments it depends on (`compiled_update`).
_COMPILED = {}


def jax_eager(values):
    """Whether this runs on JAX outside any trace (no argument is a tracer)."""
    if keras.backend.backend() != "jax":
        return False
    import jax

    return not any(isinstance(leaf, jax.core.Tracer) for leaf in keras.tree.flatten(values))


def compiled_update(metric):
    """The metric's `_update` as a `jax.jit` function of its state, shared by equal configs.

    It returns the new state values and whether the batch failed its checks
    (`_checks`; None when it has none to fail).

    JAX runs an eager operation by compiling it for its shapes: the few
    hundred operations of an update cost seconds for every new batch shape,
    one compiled update a fraction of that, then microseconds per call. A
    template of the arguments the update depends on traces it, so every
    metric of those arguments (any class, average or name) shares the code.
    """
    # `task` as given (None or a name): a shape error says when the task is the default one.
    arguments = {"task": metric.task, "num_classes": None if metric._task == "binary" else
                 metric._num_classes, "threshold": metric.threshold,
                 "from_logits": metric.from_logits, "ignore_class": metric.ignore_class}
    if metric._dense:  # the (C, C) matrix instead of the O(C) per-class counts
        arguments["dense"] = True
    if metric._per_sample:  # the per-sample scores depend on these too
        arguments.update(labels=metric.labels, zero_division=metric.zero_division,
                         beta=metric._beta, per_sample=True)
    key = repr(sorted(arguments.items()))
    if key not in _COMPILED:
        import jax

        from kerasext.metrics.confusion import ConfusionCounts  # which imports this module

        template = ConfusionCounts(**arguments)

        def update(values, y_true, y_pred, weight, mask):
            mapping = list(zip(template.variables, values))
            # The checks only return their flag here: the caller raises on the host.
            with keras.StatelessScope(state_mapping=mapping) as scope, _checks.deferred():
                failed = template._update(y_true, y_pred, weight, mask)
            news = [scope.get_current_value(v) for v in template.variables]
            return [old if new is None else new for old, new in zip(values, news)], failed

        _COMPILED[key] = jax.jit(update)
    return _COMPILED[key]
