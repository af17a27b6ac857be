"""kerasext on JAX with keras.distribution: data parallelism, model parallelism, two processes.

Runs on CPU: the script restarts itself with `KERAS_BACKEND=jax` and
`XLA_FLAGS=--xla_force_host_platform_device_count=2` (two host devices; both must be set before
JAX is imported) unless they are set already. On a machine with several GPUs or TPU cores, set
`KERAS_BACKEND=jax` yourself and the script uses every device.

1. Data parallelism: a kerasext MLP with `F1Score` on digits, one epoch on one device and under
   `DataParallel` over every device (same global batch): the results agree to float rounding.
2. Model parallelism: a `TransformerClassifier` under `ModelParallel`, its layout map from
   `get_layout_map` (kernels split along the "model" axis of a (1, devices) mesh).
3. With `--processes 2`: the same data-parallel run as two processes on 127.0.0.1 joined by
   `kx.distribute.initialize_processes()` (from `TF_CONFIG`, as on a real cluster), each feeding
   its part of every global batch.

    python examples/distributed_jax.py --quick
    python examples/distributed_jax.py --processes 2
"""

import argparse
import json
import os
import socket
import subprocess
import sys
import time

DEVICE_FLAG = "--xla_force_host_platform_device_count"
GLOBAL_BATCH = 64


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one epoch, a small transformer")
    parser.add_argument("--out", default="out", help="unused (kept for the example runner)")
    parser.add_argument("--processes", type=int, default=0,
                        help="also run the data-parallel part as this many local processes")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args()


def restart_for_jax(args):
    """Re-runs this script with the JAX backend and two host devices, unless already so."""
    if os.environ.get("KERAS_BACKEND") == "jax" and (args.worker or DEVICE_FLAG in
                                                     os.environ.get("XLA_FLAGS", "")):
        return
    env = {**os.environ, "KERAS_BACKEND": "jax",
           "XLA_FLAGS": f"{os.environ.get('XLA_FLAGS', '')} {DEVICE_FLAG}=2".strip()}
    sys.exit(subprocess.call([sys.executable, *sys.argv], env=env))


def digits():
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    count = len(x) // GLOBAL_BATCH * GLOBAL_BATCH
    return (x[:count] / 16.0).astype("float32"), y[:count].astype("int32")


def train_digits(epochs, split=None):
    """One kerasext MLP trained on digits; `split` gives this process's rows (several processes)."""
    import keras

    import kerasext as kx

    x, y = digits()
    batch_size = GLOBAL_BATCH
    if split is not None:
        (x, y), batch_size = split((x, y)), GLOBAL_BATCH // split.num_processes
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((64,)), kx.layers.DenseBlock(64),
                              kx.models.LogisticRegression(num_classes=10)])
    model = kx.training.TrainStep(model)
    model.compile(keras.optimizers.SGD(0.1), "sparse_categorical_crossentropy",
                  metrics=[kx.metrics.F1Score(num_classes=10, name="f1")])
    start = time.perf_counter()
    history = model.fit(x, y, batch_size=batch_size, epochs=epochs, shuffle=False, verbose=0)
    seconds = time.perf_counter() - start
    return {"loss": history.history["loss"][-1], "f1": history.history["f1"][-1],
            "seconds": seconds, "first_weight_sum": float(model.get_weights()[0].sum())}


def one_process(args):
    import jax
    import keras
    import numpy as np

    import kerasext as kx

    epochs = 1 if args.quick else 3
    print(f"devices: {jax.devices()}")
    single = train_digits(epochs)
    keras.distribution.set_distribution(kx.distribute.jax_distribution())
    parallel = train_digits(epochs)
    keras.distribution.set_distribution(None)
    print(f"\n1. Digits MLP, {epochs} epoch(s), global batch {GLOBAL_BATCH}")
    print(f"{'':24} {'loss':>10} {'F1':>10} {'seconds':>9}")
    for name, run in [("one device", single), (f"DataParallel x{jax.device_count()}", parallel)]:
        print(f"{name:24} {run['loss']:10.6f} {run['f1']:10.6f} {run['seconds']:9.2f}")

    if jax.device_count() < 2:
        return
    print("\n2. TransformerClassifier under ModelParallel")
    rng = np.random.default_rng(0)
    tokens = rng.integers(1, 100, size=(64, 16)).astype("int32")
    labels = (tokens[:, 0] > 50).astype("int32")

    def make():
        keras.utils.set_random_seed(0)
        return kx.models.TransformerClassifier(100, 16, 2, embed_dim=32, num_heads=2,
                                               ff_dim=64, num_layers=1, dropout=0.0)

    results = {}
    for name in ["one device", "ModelParallel"]:
        if name == "ModelParallel":
            # The layout map comes from an unbuilt template: every variable of the trained
            # model must be created once the distribution is set.
            distribution = kx.distribute.jax_distribution(make(), model_parallel=2)
            keras.distribution.set_distribution(distribution)
        model = make()
        model.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy")
        loss = model.fit(tokens, labels, batch_size=16, epochs=1, shuffle=False,
                         verbose=0).history["loss"][-1]
        results[name] = loss
        if name == "ModelParallel":
            split = [v.path for v in model.weights
                     if "model" in str(getattr(v.value.sharding, "spec", ""))]
            print(f"   kernels split along 'model': {len(split)}, e.g. {split[:2]}")
            keras.distribution.set_distribution(None)
    for name, loss in results.items():
        print(f"   {name:14} loss {loss:.6f}")


def worker(args):
    """One process of the multi-process run (TF_CONFIG set by the launcher)."""
    import keras

    import kerasext as kx

    process_id, num_processes = kx.distribute.initialize_processes()
    keras.distribution.set_distribution(kx.distribute.jax_distribution(auto_shard_dataset=False))

    def split(arrays):
        return kx.distribute.process_slice(arrays, GLOBAL_BATCH)

    split.num_processes = num_processes
    result = train_digits(1 if args.quick else 3, split=split)
    if kx.distribute.is_chief():  # only process 0 reports
        print(json.dumps({"processes": num_processes, **result}))


def launch_processes(count, quick):
    ports = []
    for _ in range(count):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            ports.append(sock.getsockname()[1])
    workers = [f"127.0.0.1:{port}" for port in ports]
    env = {key: value for key, value in os.environ.items() if key != "XLA_FLAGS"}
    procs = []
    for index in range(count):
        config = {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}
        procs.append(subprocess.Popen(
            [sys.executable, __file__, "--worker", *(["--quick"] if quick else [])],
            env={**env, "KERAS_BACKEND": "jax", "TF_CONFIG": json.dumps(config)},
            stdout=subprocess.PIPE, text=True))
    try:
        outputs = [proc.communicate(timeout=300)[0] for proc in procs]
    finally:
        for proc in procs:
            proc.kill()
    lines = [line for line in outputs[0].splitlines() if line.startswith("{")]
    print(f"\n3. The digits MLP as {count} processes (one CPU device each):")
    print(f"   {lines[-1] if lines else 'no result: ' + outputs[0][-500:]}")


if __name__ == "__main__":
    arguments = parse_args()
    restart_for_jax(arguments)
    if arguments.worker:
        worker(arguments)
    else:
        one_process(arguments)
        if arguments.processes > 1:
            launch_processes(arguments.processes, arguments.quick)
