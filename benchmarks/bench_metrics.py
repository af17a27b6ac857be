"""What a metric costs in `fit`: epoch time with no metric, F1 scores and kerasext's report.

A small MLP (64-64-10) on scikit-learn's digits (1,797 samples, batch 32, 57
steps an epoch), one-hot labels so that `keras.metrics.F1Score` can read them.
Every setup is its own compiled model; one call is one epoch of `fit` and
reports the epoch's wall time (read by a callback, so tracing in the warm-up
epoch is not counted); the process CPU time of the same epochs is reported
too, as it is steadier than wall time on a shared machine. Setups alternate in
one process (benchmarks.timing). TensorFlow runs with and without XLA
(`jit_compile`), JAX compiled (its default), torch eagerly (its default).

Setups: no metric; the floor (a metric that only sums the predictions into
one variable: no counting, no checks, one log entry; every metric that reads
`y_pred` pays at least this in `fit`); Keras' F1Score; kerasext's F1Score; kerasext's
ClassificationReport with every entry in every step's logs
(`per_class="every_step"`, 46 entries); the report with
`per_class="epoch_end"` (2 entries per step, the other 44 written into the
epoch logs by `report.callback()`, which the timed epoch includes).
The epoch ratios move by 0.05 to 0.1 from run to run on a shared 2-core
machine, more than the gaps they compare. So the cost of the metric alone is
timed too: `update_state` + `result()` on one batch (32 one-hot labels, 10
softmax scores), run as fit runs them (in one `tf.function` with the same
`jit_compile` on TensorFlow; `stateless_update_state` + `stateless_result`
in one `jax.jit` on JAX; eagerly on torch), 200 steps a timing, in
microseconds per step; the baseline is the same call without the metric.
Targets (issue 17): kerasext's F1Score no slower than Keras' F1Score and at
most 1.10x no metric; the report, through its epoch-end way, at most 1.3x no
metric with and without XLA. Keras' trainer pays for every log entry in
every step (each is an output of the step function, converted for the
callbacks), so the report with every entry in every step cannot reach 1.3x.

All backends side by side, with the state sizes, written into the metrics
section of `benchmarks/RESULTS.md`:

    python -m benchmarks.bench_metrics --all-backends [--quick]
"""

import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402

import kerasext as kx  # noqa: E402
from benchmarks.timing import Comparison, compare, machine_description  # noqa: E402

#: The state sizes reported, as numbers of classes.
STATE_SIZES_FOR = (10, 1000)


class PredictionSum(keras.metrics.Metric):
    """The floor: one variable, `+= sum(y_pred)` a step, the variable as the result.

    What any metric that reads the predictions costs in `fit` before it
    counts or checks anything: the step waits for it, and its result is one
    more log entry. Not a score: its result is the sum of every prediction
    seen since the last `reset_state()`.
    """

    def __init__(self, name="prediction_sum", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.total = self.add_variable(shape=(), initializer="zeros", name="total")

    def update_state(self, y_true, y_pred, sample_weight=None):
        self.total.assign_add(keras.ops.sum(keras.ops.cast(y_pred, self.dtype)))

    def result(self):
        return keras.ops.convert_to_tensor(self.total)


#: The name of the floor setup in every table.
FLOOR = "floor: a metric that only sums y_pred"


class _EpochTimer(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()
        self.cpu_start = time.process_time()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds = time.perf_counter() - self.start
        self.cpu_seconds = time.process_time() - self.cpu_start


def _data():
    digits = load_digits()
    x = (digits.data / 16.0).astype("float32")
    y = np.eye(10, dtype="float32")[digits.target]
    return x, y


def _setup(metrics, callbacks, x, y, *, jit_compile, cpu_times):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((64,)),
        keras.layers.Dense(64, activation="relu"),
        keras.layers.Dense(10, activation="softmax"),
    ])
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=metrics,
                  jit_compile=jit_compile)
    timer = _EpochTimer()

    def epoch():
        # The timer is listed first; the report's callback moves itself before it, so the
        # timed epoch includes writing the report's entries.
        model.fit(x, y, batch_size=32, epochs=1, verbose=0, shuffle=False,
                  callbacks=[timer, *callbacks])
        cpu_times.append(timer.cpu_seconds)
        return float(timer.seconds)

    return epoch


def _candidates():
    epoch_end = kx.metrics.ClassificationReport(num_classes=10, per_class="epoch_end")
    return {
        "no metric": ([], []),
        FLOOR: ([PredictionSum()], []),
        "keras.metrics.F1Score(average='macro')": (
            [keras.metrics.F1Score(average="macro")], []),
        "kx.metrics.F1Score(num_classes=10)": ([kx.metrics.F1Score(num_classes=10)], []),
        "kx ClassificationReport(num_classes=10), every entry every step": (
            [kx.metrics.ClassificationReport(num_classes=10)], []),
        "kx ClassificationReport(num_classes=10, per_class='epoch_end') + callback()": (
            [epoch_end], [epoch_end.callback()]),
    }


#: Steps per timing of the metric alone.
STEPS = 200


def _step_setup(metric, y_true, y_pred, *, jit_compile):
    """One timing: STEPS steps of `metric`'s update + result (None: the bare call), us/step."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        @tf.function(jit_compile=jit_compile)
        def step(y_true, y_pred):
            if metric is None:
                return tf.reduce_sum(y_pred)
            metric.update_state(y_true, y_pred)
            return metric.result()

        y_true, y_pred = tf.constant(y_true), tf.constant(y_pred)

        def call():
            return step(y_true, y_pred)
    elif backend == "jax":
        import jax
        import jax.numpy as jnp

        @jax.jit
        def step(state, y_true, y_pred):
            if metric is None:
                return state, jnp.sum(y_pred)
            state = metric.stateless_update_state(state, y_true, y_pred)
            return state, metric.stateless_result(state)

        y_true, y_pred = jnp.asarray(y_true), jnp.asarray(y_pred)
        state = [] if metric is None else [v.value for v in metric.variables]

        def call():
            nonlocal state
            state, result = step(state, y_true, y_pred)
            return result
    else:
        y_true, y_pred = keras.ops.convert_to_tensor(y_true), keras.ops.convert_to_tensor(y_pred)

        def call():
            if metric is None:
                return keras.ops.sum(y_pred)
            metric.update_state(y_true, y_pred)
            return metric.result()

    def timing():
        start = time.perf_counter()
        for _ in range(STEPS):
            result = call()
        keras.ops.convert_to_numpy(result)  # the last step has finished
        return (time.perf_counter() - start) / STEPS * 1e6

    return timing


def _metric_alone(jit_compile, repeats):
    rng = np.random.default_rng(0)
    y_true = np.eye(10, dtype="float32")[rng.integers(0, 10, 32)]
    logits = rng.normal(size=(32, 10)).astype("float32")
    y_pred = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    metrics = {
        "no metric": None,
        FLOOR: PredictionSum(),
        "keras.metrics.F1Score(average='macro')": keras.metrics.F1Score(average="macro"),
        "kx.metrics.F1Score(num_classes=10)": kx.metrics.F1Score(num_classes=10),
    }
    for metric in metrics.values():
        if metric is not None:
            metric.update_state(y_true, y_pred)  # Keras' F1Score creates its variables here
            metric.reset_state()
    setups = {name: _step_setup(metric, y_true, y_pred, jit_compile=jit_compile)
              for name, metric in metrics.items()}
    comparison = compare(
        f"update_state + result() alone, us per step, jit_compile={jit_compile}", setups,
        repeats=repeats, warmup=2)
    comparison.unit = "us"
    return comparison


def jit_modes():
    """The `jit_compile` settings timed on the current backend."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        return (False, True)
    # JAX compiles fit by default (without jit it runs op by op); torch runs eagerly by
    # default (torch.compile's compile time would dominate a 57-step epoch).
    return (True,) if backend == "jax" else (False,)


def state_sizes():
    """{metric: {num_classes: number of state elements}}, from the metrics' variables."""
    sizes = {}
    for num_classes in STATE_SIZES_FOR:
        y = np.eye(num_classes, dtype="float32")[:2]
        metrics = {
            "keras.metrics.F1Score(average='macro')": keras.metrics.F1Score(average="macro"),
            "kx.metrics.F1Score": kx.metrics.F1Score(num_classes=num_classes),
            "kx.metrics.ClassificationReport": kx.metrics.ClassificationReport(
                num_classes=num_classes),
        }
        for name, metric in metrics.items():
            metric.update_state(y, y)  # Keras' F1Score creates its variables here
            count = sum(int(np.prod(v.shape)) for v in metric.variables)
            sizes.setdefault(name, {})[num_classes] = count
    return sizes


def state_sizes_markdown(sizes):
    header = " | ".join(f"C = {c}" for c in STATE_SIZES_FOR)
    lines = ["### State elements (sum of the sizes of the metric's variables)", "",
             f"| metric | {header} |", "|---" * (len(STATE_SIZES_FOR) + 1) + "|"]
    for name, counts in sizes.items():
        lines.append(f"| {name} | " + " | ".join(f"{counts[c]:,}" for c in STATE_SIZES_FOR)
                     + " |")
    return "\n".join(lines) + "\n"


def run(quick=False):
    x, y = _data()
    repeats = 5 if quick else 21
    results = [f"Machine: {machine_description()}\n"]
    for jit_compile in jit_modes():
        candidates = _candidates()
        cpu_times = {name: [] for name in candidates}
        setups = {name: _setup(metrics, callbacks, x, y, jit_compile=jit_compile,
                               cpu_times=cpu_times[name])
                  for name, (metrics, callbacks) in candidates.items()}
        title = f"MLP on digits (57 steps), jit_compile={jit_compile}"
        results.append(compare(f"Epoch wall time of fit, {title}", setups, repeats=repeats,
                               warmup=2))
        timed = {name: times[2:] for name, times in cpu_times.items()}  # after the warm-up
        results.append(Comparison(f"Epoch process CPU time of fit, {title}", list(candidates),
                                  timed))
        results.append(_metric_alone(jit_compile, repeats=5 if quick else 31))
    results.append(state_sizes_markdown(state_sizes()))
    return results


def _replace_section(text, heading, section):
    """`text` with its `heading` section (up to the next `## `) replaced by `section`."""
    start = text.find(heading + "\n")
    if start < 0:
        return text.rstrip("\n") + "\n\n" + section
    end = text.find("\n## ", start + len(heading))
    return text[:start] + section + ("" if end < 0 else text[end:])


def all_backends(quick=False, output=None):
    """Times every backend in its own process; writes the metrics section of RESULTS.md."""
    import pathlib

    from benchmarks import backends

    results = backends.collect("metrics", backends.BACKENDS, quick)
    table = backends.to_markdown("metrics", results, quick)
    table = table.replace("## metrics on every backend", "## metrics", 1)
    doc = __doc__.strip()
    body = table.split("\n", 1)[1]
    section = f"## metrics\n\n{doc}\n{body}\n{state_sizes_markdown(state_sizes())}\n"
    path = pathlib.Path(output or pathlib.Path(__file__).parent / "RESULTS.md")
    path.write_text(_replace_section(path.read_text(), "## metrics", section))
    print(section)
    print(f"wrote the metrics section of {path}")
    return 0 if all("error" not in r for r in results.values()) else 1


if __name__ == "__main__":
    import sys

    if "--all-backends" in sys.argv:
        sys.exit(all_backends(quick="--quick" in sys.argv))
    for item in run(quick="--quick" in sys.argv):
        print(item if isinstance(item, str) else item.to_markdown())
