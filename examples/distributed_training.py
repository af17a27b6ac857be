"""Multi-worker training of a kerasext model with tf.distribute.MultiWorkerMirroredStrategy.

The same script is every worker of the cluster. On a real cluster, start it once per machine
with that machine's `TF_CONFIG` (see docs/distributed.md):

    TF_CONFIG='{"cluster": {"worker": ["host0:12345", "host1:12345"]},
                "task": {"type": "worker", "index": 0}}' python distributed_training.py --out /shared/run

Without `TF_CONFIG` it is a local demo: it starts `--workers` worker processes on 127.0.0.1
(free ports), waits for them, then trains the same model in this process with the same global
batch and prints both results side by side (they agree to float rounding).

    python examples/distributed_training.py            # 2 workers, 20 epochs
    python examples/distributed_training.py --quick    # 2 workers, 3 epochs (< 60 s)

Only the chief (worker 0) writes the CSV log, the best checkpoint, the history figure and
`summary.json`; every worker keeps a BackupAndRestore backup of its own under
`OUT/backup/worker-<index>` so that a restarted cluster resumes where it stopped.
"""

import argparse
import json
import os
import pathlib
import socket
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

GLOBAL_BATCH = 64


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 epochs instead of 20")
    parser.add_argument("--out", default="out", help="folder for logs and figures")
    parser.add_argument("--workers", type=int, default=2, help="local demo: number of workers")
    parser.add_argument("--timeout", type=float, default=300, help="local demo: seconds allowed")
    return parser.parse_args()


# ----------------------------------------------------------------------------- the training


def load_data():
    import numpy as np
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype("float32")
    x_train, x_val, y_train, y_val = train_test_split(
        x, y.astype("int32"), test_size=0.25, random_state=0, stratify=y
    )
    # Whole global batches only, so every worker takes the same number of steps.
    keep = len(x_train) // GLOBAL_BATCH * GLOBAL_BATCH
    return (x_train[:keep], y_train[:keep]), (x_val, np.asarray(y_val))


def build_model():
    import keras

    import kerasext as kx

    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((64,)),
            kx.layers.DenseBlock(64, l2=1e-4),
            kx.models.LogisticRegression(num_classes=10),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.SGD(0.1, momentum=0.9),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy", kx.metrics.F1Score(num_classes=10, name="f1")],
    )
    return model


def train(model, epochs, out, chief, task_index):
    """Fits with kerasext callbacks; only the chief writes logs, checkpoints and figures."""
    import keras

    import kerasext as kx

    (x, y), (x_val, y_val) = load_data()
    stopper = kx.callbacks.EarlyStopping(monitor="val_loss", patience=5)
    callbacks = [stopper, kx.callbacks.BackupAndRestore(str(out / "backup" / f"worker-{task_index}"))]
    if chief:
        callbacks += [
            keras.callbacks.CSVLogger(str(out / "training_log.csv")),
            keras.callbacks.ModelCheckpoint(str(out / "best.weights.h5"), monitor="val_loss",
                                            save_best_only=True, save_weights_only=True),
        ]
    history = model.fit(x, y, batch_size=GLOBAL_BATCH, epochs=epochs, shuffle=False, verbose=0,
                        validation_data=(x_val, y_val), callbacks=callbacks)
    scores = model.evaluate(x_val, y_val, batch_size=GLOBAL_BATCH, verbose=0, return_dict=True)
    return history, stopper, {key: float(value) for key, value in scores.items()}


def run_worker(args):
    """One worker of the cluster that `TF_CONFIG` describes."""
    import kerasext as kx

    # First, before any other TensorFlow work: in multi-worker mode TensorFlow sets up its
    # collective ops once, when the strategy is created.
    strategy = kx.distribute.multi_worker_strategy()
    chief = kx.distribute.is_chief(strategy)
    task_index = json.loads(os.environ.get("TF_CONFIG", "{}")).get("task", {}).get("index", 0)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    epochs = 3 if args.quick else 20
    start = time.perf_counter()
    with strategy.scope():
        model = build_model()
    history, stopper, scores = train(model, epochs, out, chief, task_index)
    seconds = time.perf_counter() - start
    if chief:
        import matplotlib

        matplotlib.use("Agg")
        from kerasext import plot

        figure = plot.plot_history(history, callbacks=[stopper],
                                   title=f"{strategy.num_replicas_in_sync} workers")
        figure.savefig(out / "distributed_history.png", dpi=100)
        summary = {"replicas": strategy.num_replicas_in_sync, "epochs": len(history.epoch),
                   "best_epoch": stopper.best_epoch, "seconds": seconds, **scores,
                   "weights": [w.tolist() for w in model.get_weights()]}
        (out / "summary.json").write_text(json.dumps(summary))


# ----------------------------------------------------------------------------- the local demo


def free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for sock in sockets:
        sock.bind(("127.0.0.1", 0))
    ports = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports


def launch_local_cluster(args):
    """Starts `args.workers` copies of this script on 127.0.0.1 and waits for them."""
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    workers = [f"127.0.0.1:{port}" for port in free_ports(args.workers)]
    command = [sys.executable, os.path.abspath(__file__), "--out", str(out)]
    command += ["--quick"] if args.quick else []
    processes = []
    start = time.perf_counter()
    try:
        for index in range(args.workers):
            tf_config = {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}
            env = {**os.environ, "TF_CONFIG": json.dumps(tf_config), "CUDA_VISIBLE_DEVICES": ""}
            log = open(out / f"worker-{index}.log", "w")  # noqa: SIM115 - closed below
            processes.append((subprocess.Popen(command, env=env, stdout=log,
                                               stderr=subprocess.STDOUT), log))
        deadline = time.monotonic() + args.timeout
        for process, _ in processes:
            process.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        for process, log in processes:  # whatever happened, no worker outlives the demo
            if process.poll() is None:
                process.kill()
                process.wait()
            log.close()
    failed = [i for i, (process, _) in enumerate(processes) if process.returncode != 0]
    if failed:
        sys.exit(f"worker(s) {failed} failed; see {out}/worker-<index>.log")
    return json.loads((out / "summary.json").read_text()), time.perf_counter() - start


def main():
    args = parse_args()
    if "TF_CONFIG" in os.environ:
        run_worker(args)
        return
    summary, seconds = launch_local_cluster(args)
    print(f"{summary['replicas']} workers on 127.0.0.1: {summary['epochs']} epochs in "
          f"{seconds:.1f} s (processes included); best epoch {summary['best_epoch']}; "
          f"val accuracy {summary['accuracy']:.4f}, val F1 {summary['f1']:.4f}")

    # The same training in one process, same global batch: the workers' result, reproduced.
    import numpy as np

    single_out = pathlib.Path(args.out) / "single_process"
    single_out.mkdir(parents=True, exist_ok=True)
    model = build_model()
    history, stopper, scores = train(model, 3 if args.quick else 20, single_out, True, 0)
    gap = max(float(np.max(np.abs(np.asarray(a) - b)))
              for a, b in zip(summary["weights"], model.get_weights()))
    print(f"1 process, same global batch:    {len(history.epoch)} epochs; best epoch "
          f"{stopper.best_epoch}; val accuracy {scores['accuracy']:.4f}, val F1 {scores['f1']:.4f}")
    print(f"largest weight difference between the two: {gap:.2e}")
    print(f"figure: {pathlib.Path(args.out) / 'distributed_history.png'}")


if __name__ == "__main__":
    main()
