"""The one timing helper every benchmark uses.

Two (or more) setups are timed alternately in one process (A B A B ...), after
a warm-up run of each, so that drift in the machine's speed hits all of them
alike; the report gives each setup's median and its ratio to the first.
"""

import dataclasses
import platform
import statistics
import time


@dataclasses.dataclass
class Comparison:
    """Medians of alternating timings, in seconds, and their ratios to the baseline."""

    title: str
    names: list
    times: dict
    unit: str = "s"

    @property
    def medians(self):
        return {name: statistics.median(self.times[name]) for name in self.names}

    @property
    def ratios(self):
        base = self.medians[self.names[0]]
        return {name: median / base for name, median in self.medians.items()}

    def to_markdown(self):
        lines = [
            f"### {self.title}",
            "",
            f"| setup | median ({self.unit}) | runs | ratio to `{self.names[0]}` |",
            "|---|---|---|---|",
        ]
        for name in self.names:
            lines.append(
                f"| {name} | {self.medians[name]:.4f} | {len(self.times[name])} | "
                f"{self.ratios[name]:.3f} |"
            )
        return "\n".join(lines) + "\n"


def compare(title, setups, *, repeats=5, warmup=1):
    """Times each setup alternately and returns a `Comparison`.

    Args:
        title: heading of the table.
        setups: an ordered dict `{name: zero-argument callable}`; the first is
            the baseline. A callable may return a float to report its own
            measured time (e.g. an epoch time read from a callback) instead of
            its wall time.
        repeats: timed rounds (each round runs every setup once).
        warmup: untimed rounds first (graph tracing, caches).
    """
    names = list(setups)
    for _ in range(warmup):
        for name in names:
            setups[name]()
    times = {name: [] for name in names}
    for round_index in range(repeats):
        # Alternate the order too, so neither setup always runs right after the other.
        order = names if round_index % 2 == 0 else list(reversed(names))
        for name in order:
            start = time.perf_counter()
            reported = setups[name]()
            elapsed = time.perf_counter() - start
            times[name].append(float(reported) if isinstance(reported, float) else elapsed)
    return Comparison(title, names, times)


def machine_description():
    """Platform, accelerators and the versions of Keras and its active backend."""
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        accelerators = len(tf.config.list_physical_devices("GPU"))
        framework = f"TensorFlow {tf.__version__}"
    elif backend == "jax":
        import jax

        accelerators = len([d for d in jax.devices() if d.platform != "cpu"])
        framework = f"jax {jax.__version__}"
    else:
        import torch

        accelerators = torch.cuda.device_count()
        framework = f"torch {torch.__version__}"
    return (
        f"{platform.platform()}, Python {platform.python_version()}, "
        f"{platform.processor() or platform.machine()}, "
        f"{accelerators} GPU(s), Keras {keras.__version__} on {framework}"
    )
