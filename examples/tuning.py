"""Tuning a kerasext ConvNet with Hyperband on scikit-learn's digits (offline).

Shows the search space (`kx.tuning.describe`), runs keras-tuner's Hyperband over
`kx.tuning.HyperConvNet` (architecture, optimizer, log-scale learning rate, weight decay,
dropout and batch size), then reloads the best model from a `.keras` file with safe_mode and
no custom objects, and reports its validation accuracy and the search's wall time. Writes a
plot of the trials to `OUT/tuning_trials.png`.

    python examples/tuning.py            # Hyperband, max_epochs=9 (about a minute on 2 cores)
    python examples/tuning.py --max-epochs 27   # a longer search (about 5 minutes)
    python examples/tuning.py --quick    # a tiny search on a subset (< 30 s)
"""

import argparse
import os
import pathlib
import tempfile
import time
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import keras_tuner  # noqa: E402
import matplotlib  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

import kerasext as kx  # noqa: E402

matplotlib.use("Agg")
# keras-tuner reloads checkpoints into freshly built models whose optimizers have no slots yet.
warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")


def digits_split(seed=0):
    """Digits scaled to [0, 1] as (N, 8, 8) images; 80 / 20 stratified split."""
    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).reshape(-1, 8, 8).astype("float32")
    return train_test_split(x, y, test_size=0.2, random_state=seed, stratify=y)


def run_search(max_epochs=9, factor=3, seed=1, fixed=None, subset=None, directory=None,
               verbose=0):
    """Hyperband over HyperConvNet on digits; returns (tuner, best val accuracy, seconds)."""
    x_train, x_val, y_train, y_val = digits_split()
    if subset:
        x_train, y_train = x_train[:subset], y_train[:subset]
    hypermodel = kx.tuning.HyperConvNet((8, 8), num_classes=10, fixed=fixed)
    tuner = keras_tuner.Hyperband(
        hypermodel, objective="val_accuracy", max_epochs=max_epochs, factor=factor,
        hyperband_iterations=1, seed=seed, overwrite=True,
        directory=directory or tempfile.mkdtemp(prefix="kerasext-tuning-"),
        project_name="hyper_conv_net",
    )
    start = time.perf_counter()
    tuner.search(x_train, y_train, validation_data=(x_val, y_val), verbose=verbose)
    seconds = time.perf_counter() - start
    best_score = tuner.oracle.get_best_trials(1)[0].score
    return tuner, float(best_score), seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny search (< 30 s)")
    parser.add_argument("--out", default="out", help="folder for the figure")
    parser.add_argument("--max-epochs", type=int, default=9,
                        help="Hyperband's max_epochs (default 9: 23 trials, about a minute)")
    args = parser.parse_args()
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    print(kx.tuning.describe(kx.tuning.HyperConvNet((8, 8), num_classes=10)))
    if args.quick:
        tuner, best, seconds = run_search(
            max_epochs=3, factor=3, subset=600,
            fixed={"num_blocks": 1, "filters": 16, "dense_layers": 1, "dense_units": 64,
                   "optimizer": "adam", "learning_rate": 3e-3},
        )
    else:
        tuner, best, seconds = run_search(max_epochs=args.max_epochs, factor=3)
    trials = len(tuner.oracle.trials)
    print(f"\nHyperband: {trials} trials in {seconds:.1f} s; best val_accuracy {best:.4f}")
    print("best hyperparameters:", tuner.get_best_hyperparameters(1)[0].values)

    best_model = tuner.get_best_models(1)[0]
    path = out / "best_conv_net.keras"
    best_model.save(path)
    reloaded = keras.saving.load_model(path)  # safe_mode=True, no custom_objects
    _, x_val, _, y_val = digits_split()
    accuracy = float(np.mean(np.argmax(reloaded.predict(x_val, verbose=0), -1) == y_val))
    print(f"reloaded best model: val accuracy {accuracy:.4f} ({path})")

    figure = kx.plot.plot_trials(tuner, title="Hyperband over HyperConvNet (digits)")
    figure.savefig(out / "tuning_trials.png", dpi=100)
    print(f"figure: {out / 'tuning_trials.png'}")
    if not args.quick and best < 0.98:
        raise SystemExit(f"best val_accuracy {best:.4f} < 0.98")


if __name__ == "__main__":
    main()
