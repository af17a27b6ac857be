"""Releasing the memory of models trained one after another (tuner trials, cross-validation folds).

`keras.backend.clear_session()` and garbage collection do not give back the
traced train step of a model that has been deleted, under the TensorFlow
backend: Keras' optimizer calls `ReplicaContext.all_reduce` on the gradients,
even under the default strategy, and `all_reduce` is a `tf.custom_gradient`.
Traced in graph mode, a custom gradient registers its gradient function in
TensorFlow's process-wide gradient registry under a new name
("CustomGradient-<uid>"), and that function holds tensors of the traced graph.
The registry never forgets it, so every trained model leaves its whole train
graph behind (measured on TF 2.21 / Keras 3.15: 4-9 MB a model for a small
ConvNet, growing without bound over a search).

`SessionReleaser` clears the session and forgets the custom gradients that were
registered since its previous call: those of the models trained in between,
which are done tracing. Registrations made before its first call (a user's own
functions) are left alone.

JAX and torch have no such registry and need no counterpart (issue 15; measured
with Keras 3.15.1, jax 0.10.2, torch 2.13 on CPU). There the release is
`clear_session` and garbage collection, and it imports no TensorFlow. Over 20
tuner trials of a `HyperLogisticRegression` on 100,000 features (a few MB of
weights and optimizer slots per model), resident memory grows by 0.08-0.22 MB a
trial on JAX and 0.01 MB on torch; with every trial's model kept alive, by
6.6-8.5 MB and 3.9 MB a trial. No JAX array outlives its trial
(`jax.live_arrays()` is empty after each); what remains on JAX is its own
tracing caches (LRU-bounded, e.g. one jaxpr per `argmax` traced).
`jax.clear_caches()` at each release made no measurable difference (0.08 MB a
model either way over 50 build-fit-release cycles) and made each cycle 1.6-2.4
times slower (every eager op is compiled again), so it is not called. To
measure, call glibc's `malloc_trim(0)` and fix its mmap threshold
(`mallopt(M_MMAP_THRESHOLD, 128 KiB)`): glibc otherwise raises the threshold to
the largest block freed, and the freed input and weight buffers of the trials
then fragment the heap, a drift of 0.5-1 MB a trial on JAX that no object
holds. `tests/tuning/test_base.py` checks each backend.
"""

import gc

import keras

from kerasext import _compat

#: Prefix of the names `tf.custom_gradient` registers in graph mode.
CUSTOM_GRADIENT_PREFIX = "CustomGradient-"


def _gradient_registry():
    """TensorFlow's gradient registry as a dict, or None (another backend; see `kerasext._compat`)."""
    return _compat.gradient_registry()


def custom_gradient_names():
    """The names of the graph-mode custom gradients registered so far (a frozenset)."""
    registry = _gradient_registry()
    if registry is None:
        return frozenset()
    return frozenset(name for name in list(registry) if name.startswith(CUSTOM_GRADIENT_PREFIX))


def forget_custom_gradients(names):
    """Removes the custom gradients `names` from the registry; returns how many it removed.

    Only the names of functions whose tracing is finished may be forgotten: a
    graph still being differentiated in graph mode looks its gradients up there.
    """
    registry = _gradient_registry()
    if registry is None:
        return 0
    removed = 0
    for name in names:
        if name.startswith(CUSTOM_GRADIENT_PREFIX) and registry.pop(name, None) is not None:
            removed += 1
    return removed


class SessionReleaser:
    """Releases what the models trained since its previous call hold, between such models.

    Each call clears the Keras session (keeping the global dtype policy, which
    `clear_session` resets), forgets the custom gradients registered since the
    previous call, and, with `free_memory`, collects garbage. Call it before
    building each model of a sequence, once the previous model is no longer used.

    Example:

    ```python
    import keras
    import numpy as np
    from kerasext._memory import SessionReleaser, custom_gradient_names
    release = SessionReleaser()
    x, y = np.zeros((8, 3), "float32"), np.zeros((8, 1), "float32")
    for _ in range(3):
        release()
        model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
        model.compile(optimizer="adam", loss="mse")
        model.fit(x, y, verbose=0)
        del model
    release()
    assert not custom_gradient_names() - release.mark  # nothing left from the three models
    ```
    """

    def __init__(self):
        self.mark = None

    def __call__(self, free_memory=True):
        policy = keras.config.dtype_policy()
        keras.backend.clear_session(free_memory=False)
        keras.config.set_dtype_policy(policy)
        if self.mark is not None:
            forget_custom_gradients(custom_gradient_names() - self.mark)
        if free_memory:
            gc.collect()
        self.mark = custom_gradient_names()
