"""One JAX process with two host CPU devices: kerasext under keras.distribution.

Usage: jax_checks.py GROUPS RESULT_JSON, GROUPS a comma-separated list of
"data_parallel", "model_parallel" (one process for both: each JAX start costs). XLA_FLAGS (two host devices) and KERAS_BACKEND=jax are set
by the launching test, before JAX is imported. Each check runs the same code
on one device (no distribution) and under the distribution, and writes both
results; the test compares them (and the metrics with scikit-learn).
"""

import os
import sys
import time

T0 = time.monotonic()
groups, result_path = sys.argv[1].split(","), sys.argv[2]
assert os.environ.get("KERAS_BACKEND") == "jax", "launched without KERAS_BACKEND=jax"

import jax  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402

import kerasext as kx  # noqa: E402
from tests.distributed import jax_common  # noqa: E402

assert jax.device_count() == 2, jax.devices()


def log(message):
    print(f"[{time.monotonic() - T0:.1f}s] {message}", flush=True)


def under(distribution, function, *args, **kwargs):
    keras.distribution.set_distribution(distribution)
    try:
        return function(*args, **kwargs)
    finally:
        keras.distribution.set_distribution(None)


def data_parallel():
    out = {"devices": jax.device_count()}
    for kind in jax_common.KINDS:
        crash_at = 1 if kind == "train_step" else None  # BackupAndRestore resumes the crash
        out[kind] = {
            "one_device": jax_common.fit(kind),
            "data_parallel": under(kx.distribute.jax_distribution(), jax_common.fit, kind,
                                   crash_at=crash_at),
        }
        log(kind)
    out["distribution"] = type(kx.distribute.jax_distribution()).__name__
    out["is_chief"] = kx.distribute.is_chief()
    return out


def model_cases():
    rng = np.random.default_rng(0)
    tokens = rng.integers(1, 40, size=(16, 8)).astype("int32")
    labels = rng.integers(0, 3, size=16)
    return {
        "TransformerClassifier": (
            lambda: kx.models.TransformerClassifier(40, 8, 3, embed_dim=16, num_heads=2,
                                                    ff_dim=32, num_layers=1, dropout=0.0),
            tokens, labels),
        "TextCNN": (lambda: kx.models.TextCNN(40, 3, embed_dim=16, filters=8, dropout=0.0),
                    tokens, labels),
        "EncoderDecoder": (
            lambda: kx.models.EncoderDecoder(20, 20, units=16, embed_dim=8),
            (rng.integers(1, 20, (16, 6)).astype("int32"),
             rng.integers(1, 20, (16, 5)).astype("int32")),
            rng.integers(1, 20, (16, 5))),
        "InceptionNet": (
            lambda: kx.models.InceptionNet(3, width_multiplier=0.125, blocks_per_stage=(1, 1, 0),
                                           stem_filters=8, dropout=0.0),
            rng.normal(size=(8, 16, 16, 3)).astype("float32"), rng.integers(0, 3, 8)),
    }


def train_model(make, x, y):
    keras.utils.set_random_seed(3)
    model = make()
    model.compile(keras.optimizers.SGD(0.05), "sparse_categorical_crossentropy")
    history = model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    sharded = sorted(
        v.path for v in model.weights
        if "model" in str(getattr(getattr(v.value, "sharding", None), "spec", ""))
    )
    return {"loss": history.history["loss"], "sharded": sharded,
            "weights": [np.asarray(w).tolist() for w in model.get_weights()]}


def model_parallel():
    out = {}
    for name, (make, x, y) in model_cases().items():
        # The layout map comes from a template (variables, e.g. seed generators, must be
        # created once the distribution is set).
        distribution = kx.distribute.jax_distribution(make(), model_parallel=2)
        out[name] = {
            "one_device": train_model(make, x, y),
            "model_parallel": under(distribution, train_model, make, x, y),
            "mesh": list(distribution.device_mesh.shape),
        }
        log(name)
    return out


checks = {"data_parallel": data_parallel, "model_parallel": model_parallel}
result = {group: checks[group]() for group in groups}
jax_common.save(result, result_path)
log("done")
