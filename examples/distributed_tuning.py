"""Distributed KerasTuner search of a kerasext HyperModel: a chief oracle and workers.

KerasTuner's own distributed mode: one process (the chief) runs the oracle as a gRPC server,
the workers ask it for trials and report their scores. Every process runs this same script;
what it does is set by three environment variables (see docs/distributed.md):

    KERASTUNER_TUNER_ID      "chief" for the oracle, any other unique id ("tuner0", ...) for a worker
    KERASTUNER_ORACLE_IP     address of the chief
    KERASTUNER_ORACLE_PORT   port of the chief

All processes must share `--out` (the tuner directory: trials, checkpoints, the oracle's state).
Without those variables it is a local demo: it starts a chief and `--workers` workers on
127.0.0.1 and prints the chief's results.

    python examples/distributed_tuning.py            # 10 trials, 2 workers
    python examples/distributed_tuning.py --quick    # 4 trials (< 60 s)
"""

import argparse
import json
import os
import pathlib
import socket
import subprocess
import sys
import time
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="4 trials of 3 epochs")
    parser.add_argument("--out", default="out", help="shared tuner directory and figures")
    parser.add_argument("--workers", type=int, default=2, help="local demo: number of workers")
    parser.add_argument("--timeout", type=float, default=300, help="local demo: seconds allowed")
    return parser.parse_args()


def load_data():
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype("float32")
    return train_test_split(x, y.astype("int32"), test_size=0.25, random_state=0, stratify=y)


def run_tuner_process(args):
    """The chief or one worker, as KERASTUNER_TUNER_ID says."""
    import keras_tuner

    import kerasext as kx

    warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
    out = pathlib.Path(args.out)
    tuner_id = os.environ["KERASTUNER_TUNER_ID"]
    trials, epochs = (4, 3) if args.quick else (10, 10)
    hypermodel = kx.tuning.HyperLogisticRegression(64, num_classes=10, seed=0)
    tuner = keras_tuner.RandomSearch(
        hypermodel, objective="val_loss", max_trials=trials, seed=1,
        directory=str(out), project_name="digits_search",
    )
    x_train, x_val, y_train, y_val = load_data()
    # On the chief, search() serves the oracle until every worker has finished.
    tuner.search(x_train, y_train, validation_data=(x_val, y_val), epochs=epochs,
                 batch_size=64, verbose=0)
    if tuner_id != "chief":
        return
    best = tuner.oracle.get_best_trials(1)[0]
    best_model = tuner.get_best_models(1)[0]
    scores = best_model.evaluate(x_val, y_val, batch_size=64, verbose=0, return_dict=True)
    import matplotlib

    matplotlib.use("Agg")
    from kerasext import plot

    plot.plot_trials(tuner, objective="val_loss", direction="min",
                     title="distributed search").savefig(out / "distributed_trials.png", dpi=100)
    report = {
        "trials": {tid: {"status": str(t.status), "score": t.score}
                   for tid, t in tuner.oracle.trials.items()},
        "best_trial": best.trial_id, "best_score": best.score,
        "best_values": best.hyperparameters.values,
        "best_model": {key: float(value) for key, value in scores.items()},
    }
    (out / "chief_report.json").write_text(json.dumps(report))


def launch_local_search(args):
    """Starts a chief and `args.workers` workers on 127.0.0.1; returns the chief's report."""
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    command = [sys.executable, os.path.abspath(__file__), "--out", str(out)]
    command += ["--quick"] if args.quick else []
    base = {**os.environ, "KERASTUNER_ORACLE_IP": "127.0.0.1",
            "KERASTUNER_ORACLE_PORT": str(port), "CUDA_VISIBLE_DEVICES": "",
            "KERASEXT_DEMO_FAST_CHIEF": "1"}
    processes = []
    try:
        for tuner_id in ["chief"] + [f"tuner{i}" for i in range(args.workers)]:
            log = open(out / f"{tuner_id}.log", "w")  # noqa: SIM115 - closed below
            env = {**base, "KERASTUNER_TUNER_ID": tuner_id}
            processes.append((tuner_id, subprocess.Popen(command, env=env, stdout=log,
                                                         stderr=subprocess.STDOUT), log))
        deadline = time.monotonic() + args.timeout
        for _, process, _ in processes:
            process.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        for _, process, log in processes:  # whatever happened, nothing outlives the demo
            if process.poll() is None:
                process.kill()
                process.wait()
            log.close()
    failed = [tuner_id for tuner_id, process, _ in processes if process.returncode != 0]
    if failed:
        sys.exit(f"{failed} failed; see {out}/<tuner id>.log")
    return json.loads((out / "chief_report.json").read_text())


def main():
    args = parse_args()
    if "KERASTUNER_TUNER_ID" in os.environ:
        if os.environ.get("KERASEXT_DEMO_FAST_CHIEF"):
            # Local demo only: once the search is stopping, KerasTuner's chief checks every
            # 20 s whether its workers are done; check every 0.2 s so the demo ends promptly.
            from keras_tuner.src.distribute import oracle_chief

            class _FastPolling:
                sleep = staticmethod(lambda seconds: time.sleep(min(seconds, 0.2)))

            oracle_chief.time = _FastPolling()
        run_tuner_process(args)
        return
    start = time.perf_counter()
    report = launch_local_search(args)
    seconds = time.perf_counter() - start
    trials = report["trials"]
    completed = sum(t["status"] == "COMPLETED" for t in trials.values())
    print(f"chief + {args.workers} workers on 127.0.0.1: {completed}/{len(trials)} trials "
          f"completed in {seconds:.1f} s (processes included)")
    for trial_id, trial in sorted(trials.items()):
        print(f"  trial {trial_id}: val_loss {trial['score']:.4f}")
    print(f"best trial {report['best_trial']} (val_loss {report['best_score']:.4f}): "
          f"{report['best_values']}")
    print(f"best model reloaded by the chief: val_loss {report['best_model']['loss']:.4f}, "
          f"val accuracy {report['best_model']['accuracy']:.4f}")
    print(f"figure: {pathlib.Path(args.out) / 'distributed_trials.png'}")


if __name__ == "__main__":
    main()
