"""The kerasext tour, run by `make demo`: every part of kerasext doing real work, offline.

Trains the tutorial's four seed architectures on scikit-learn's bundled data with kerasext
metrics and callbacks, one custom training step (SAM) against the plain step, and a short
KerasTuner search over a kerasext search space. Writes `out/report.md` (a results table) and
PNG figures next to it: training curves with the best epoch and the overfitting onset, a
confusion matrix and the tuner's trials.

    python examples/tour.py            # full tour (< 10 minutes on 2 cores)
    python examples/tour.py --quick    # fewer epochs and trials (< 2 minutes)
"""

import argparse
import os
import pathlib
import tempfile
import time
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits  # noqa: E402
from sklearn.linear_model import LinearRegression as SklearnLinearRegression  # noqa: E402
from sklearn.metrics import r2_score  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

import kerasext as kx  # noqa: E402

# keras-tuner reloads each trial's checkpoint into a freshly built model whose optimizer has no
# slots yet; Keras warns about the skipped optimizer variables, which prediction does not use.
warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")


def _split(x, y, seed=0, stratify=True):
    return train_test_split(x, y, test_size=0.25, random_state=seed,
                            stratify=y if stratify else None)


def _standardize(x_train, x_test):
    scaler = StandardScaler().fit(x_train)
    return scaler.transform(x_train).astype("float32"), scaler.transform(x_test).astype("float32")


def _digits():
    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype("float32")
    return _split(x, y)


def describe_overfitting(val_loss, onset_epoch, criterion="gl"):
    """What the validation curve and the detector's criterion say, in words (epochs 0-based).

    Prechelt's criteria fire on the first rise past their threshold; when the validation loss
    falls again to a new low afterwards, that rise was noise, not the onset of overfitting.
    """
    val_loss = np.asarray(val_loss, dtype="float64")
    best, last = int(np.argmin(val_loss)), len(val_loss) - 1
    lowest = f"validation loss lowest at epoch {best} of 0-{last}"
    name = f"{criterion.upper()} criterion"
    if onset_epoch is None:
        return f"{lowest}; {name} never fired (no overfitting detected)"
    if best > onset_epoch:
        return (f"{lowest}; {name} fired after epoch {onset_epoch} on a transient rise "
                "that the loss recovered from (no lasting overfitting)")
    return (f"{lowest}; overfitting from epoch {onset_epoch} on ({name} fired; the loss never "
            "got back to its low)")


def describe_tuning(tuned_accuracy, baseline_accuracy, num_test):
    """The tuned model's test accuracy, set against the untuned baseline's on the same test set."""
    text = f"test accuracy {tuned_accuracy:.3f}"
    if baseline_accuracy is None:
        return text
    difference = round((tuned_accuracy - baseline_accuracy) * num_test)
    if difference == 0:
        verdict = "the same accuracy"
    else:
        verdict = (f"{abs(difference)} of {num_test} test samples "
                   f"{'more' if difference > 0 else 'fewer'} right")
    return (f"{text} vs {baseline_accuracy:.3f} for the untuned baseline, {verdict}: "
            "the penalty was chosen on the validation split, not on the test set")


class Tour:
    def __init__(self, quick, out):
        self.quick = quick
        self.out = out
        self.rows = []
        self.figures = []
        self.baseline_accuracy = None  # the untuned logistic regression's test accuracy
        # Progress bars in the full tour; one line per epoch in --quick (it is also what the
        # test suite captures).
        self.verbose = 2 if quick else 1

    def epochs(self, full, quick):
        return quick if self.quick else full

    @property
    def baseline_epochs(self):
        """Epochs of the untuned logistic regression, which the tuner's trials get too."""
        return self.epochs(40, 10)

    def record(self, section, model, result, started):
        self.rows.append((section, model, result, time.time() - started))
        print(f"\n>>> {section} | {model} | {result}\n", flush=True)

    def save(self, fig, name, caption):
        path = self.out / name
        fig.savefig(path, dpi=110)  # a matplotlib Figure outside pyplot: nothing to close
        self.figures.append((name, caption))

    # ------------------------------------------------------------------ the seed tutorial

    def linear_regression(self):
        started = time.time()
        rng = np.random.default_rng(0)
        x = rng.uniform(-1, 1, size=(256, 1)).astype("float32")
        y = 2.0 * x[:, 0] + 1.0 + rng.normal(scale=0.1, size=256).astype("float32")
        model = kx.models.LinearRegression()
        model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
        model.fit(x, y, epochs=self.epochs(60, 25), batch_size=32, verbose=0)
        slope, intercept = float(model.coef_[0]), float(model.intercept_)

        x_d, y_d = load_diabetes(return_X_y=True)
        x_train, x_test, y_train, y_test = _split(x_d, y_d, stratify=False)
        x_train, x_test = _standardize(x_train, x_test)
        # A standardized target lets plain SGD converge in a few epochs; coefficients are
        # scaled back to the original units before the comparison.
        y_mean, y_std = y_train.mean(), y_train.std()
        diabetes = kx.models.LinearRegression()
        diabetes.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse")
        diabetes.fit(x_train, (y_train - y_mean) / y_std, epochs=self.epochs(200, 60),
                     batch_size=32, verbose=0)
        reference = SklearnLinearRegression().fit(x_train, y_train)
        predicted = diabetes.predict(x_test, verbose=0)[:, 0] * y_std + y_mean
        ours, theirs = r2_score(y_test, predicted), reference.score(x_test, y_test)
        self.record(
            "linear regression", "kx.models.LinearRegression",
            f"y = 2x + 1 + noise: slope {slope:.3f}, intercept {intercept:.3f}; diabetes: test "
            f"R^2 {ours:.3f} (scikit-learn's closed form: {theirs:.3f})",
            started,
        )

    def logistic_regression(self):
        started = time.time()
        x, y = load_breast_cancer(return_X_y=True)
        x_train, x_test, y_train, y_test = _split(x, y)
        x_train, x_test = _standardize(x_train, x_test)
        report = kx.metrics.ClassificationReport(num_classes=2, name="report")
        matrix = kx.metrics.ConfusionMatrix(num_classes=2, name="confusion")
        model = kx.models.LogisticRegression(num_classes=2)
        model.compile(
            optimizer=keras.optimizers.Adam(0.01),
            loss="binary_crossentropy",
            metrics=["accuracy", kx.metrics.Precision(), kx.metrics.Recall(),
                     kx.metrics.F1Score()],
        )
        model.fit(x_train, y_train, epochs=self.baseline_epochs, batch_size=32,
                  validation_split=0.2, verbose=self.verbose)
        logs = model.evaluate(x_test, y_test, verbose=0, return_dict=True)
        self.baseline_accuracy = logs["accuracy"]
        probabilities = model.predict(x_test, verbose=0)
        # A binary model's single sigmoid column, as two-class probabilities for the reports.
        two_class = np.concatenate([1.0 - probabilities, probabilities], axis=-1)
        report.update_state(y_test, two_class)
        matrix.update_state(y_test, two_class)
        print(report.to_string(), flush=True)
        self.save(
            kx.plot.plot_confusion_matrix(np.asarray(matrix.result()),
                                          class_names=["malignant", "benign"],
                                          title="Breast cancer, held-out confusion matrix"),
            "confusion_matrix.png", "logistic regression on breast cancer: confusion matrix",
        )
        self.record(
            "logistic regression (breast cancer)", "kx.models.LogisticRegression",
            f"test accuracy {logs['accuracy']:.3f}, precision {logs['precision']:.3f}, "
            f"recall {logs['recall']:.3f}, F1 {logs['f1_score']:.3f}",
            started,
        )

    def cnn(self):
        started = time.time()
        x_train, x_test, y_train, y_test = _digits()
        x_train, x_test = x_train.reshape(-1, 8, 8, 1), x_test.reshape(-1, 8, 8, 1)
        early_stopping = kx.callbacks.EarlyStopping(monitor="val_loss", patience=5)
        detector = kx.callbacks.OverfitDetector(monitor="val_loss")
        model = kx.models.ConvNet(num_classes=10, dropout=0.25)
        model.compile(optimizer=keras.optimizers.Adam(1e-3),
                      loss="sparse_categorical_crossentropy",
                      metrics=["accuracy", kx.metrics.F1Score(num_classes=10)])
        history = model.fit(x_train, y_train, validation_split=0.2,
                            epochs=self.epochs(40, 6), batch_size=32,
                            callbacks=[early_stopping, detector], verbose=self.verbose)
        logs = model.evaluate(x_test, y_test, verbose=0, return_dict=True)
        self.save(
            kx.plot.plot_history(history, metrics=["loss", "accuracy"],
                                 callbacks=[early_stopping, detector],
                                 title="ConvNet on digits (8x8)"),
            "cnn_history.png", "ConvNet on digits: curves, best epoch and overfitting onset",
        )
        self.record(
            "CNN (digits 8x8)", "kx.models.ConvNet + EarlyStopping + OverfitDetector",
            f"test accuracy {logs['accuracy']:.3f}, macro F1 {logs['f1_score']:.3f}; "
            f"stop reason {early_stopping.stop_reason}; "
            + describe_overfitting(history.history["val_loss"], detector.onset_epoch,
                                   detector.criterion),
            started,
        )

    def rnn(self):
        started = time.time()
        x_train, x_test, y_train, y_test = _digits()
        # Each image read row by row: 8 steps of 8 features.
        x_train, x_test = x_train.reshape(-1, 8, 8), x_test.reshape(-1, 8, 8)
        model = kx.models.RecurrentNet(num_classes=10, units=(64,), cell="gru")
        model.compile(optimizer=keras.optimizers.Adam(3e-3),
                      loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        model.fit(x_train, y_train, epochs=self.epochs(30, 6), batch_size=32,
                  validation_split=0.2, verbose=self.verbose,
                  callbacks=[kx.callbacks.EarlyStopping(monitor="val_accuracy", patience=5)])
        logs = model.evaluate(x_test, y_test, verbose=0, return_dict=True)
        self.record("RNN (digits row by row)", "kx.models.RecurrentNet(cell='gru')",
                    f"test accuracy {logs['accuracy']:.3f}", started)

    # ------------------------------------------------------------------ beyond the tutorial

    def sharpness_aware(self):
        started = time.time()
        x_train, x_test, y_train, y_test = _digits()

        def mlp():
            return keras.Sequential([
                keras.Input((64,)),
                kx.layers.DenseBlock(128, activation="relu", dropout=0.1),
                keras.layers.Dense(10, activation="softmax"),
            ])

        results = {}
        for name, wrap in (("plain step", lambda m: m), ("SAM", kx.training.SAM)):
            keras.utils.set_random_seed(0)
            model = wrap(mlp())
            model.compile(optimizer=keras.optimizers.SGD(0.05, momentum=0.9),
                          loss="sparse_categorical_crossentropy", metrics=["accuracy"])
            model.fit(x_train, y_train, epochs=self.epochs(30, 5), batch_size=32,
                      verbose=0)
            results[name] = model.evaluate(x_test, y_test, verbose=0, return_dict=True)
        self.record(
            "custom training step (digits MLP)", "kx.training.SAM vs the built-in step",
            "; ".join(f"{name}: test accuracy {logs['accuracy']:.3f}, test loss "
                      f"{logs['loss']:.3f}" for name, logs in results.items()),
            started,
        )

    def tuning(self):
        import keras_tuner

        started = time.time()
        x, y = load_breast_cancer(return_X_y=True)
        x_train, x_test, y_train, y_test = _split(x, y)
        x_train, x_test = _standardize(x_train, x_test)
        # The trials train as the untuned baseline does (Adam at 0.01, batches of 32, as many
        # epochs): the search is over the penalty only, so its result is comparable with the
        # baseline's. Left free, a few random trials land on slow optimizers that 20 epochs
        # leave undertrained, and the "tuned" model scores below the untuned one.
        hypermodel = kx.tuning.HyperLogisticRegression(
            input_dim=x.shape[1], num_classes=2,
            fixed={"optimizer": "adam", "learning_rate": 0.01, "batch_size": 32},
        )
        print(kx.tuning.describe(hypermodel), flush=True)
        trials = self.epochs(8, 3)
        directory = tempfile.mkdtemp(prefix="kerasext-tour-tuner-")
        tuner = keras_tuner.RandomSearch(
            hypermodel, objective=keras_tuner.Objective("val_loss", "min"),
            max_trials=trials, seed=1, directory=directory, project_name="tour",
            overwrite=True,
        )
        tuner.search(x_train, y_train, validation_split=0.2, epochs=self.baseline_epochs,
                     verbose=0, callbacks=[TrialProgress(trials)])
        best = tuner.get_best_models(1)[0]
        path = pathlib.Path(directory) / "best.keras"
        best.save(path)
        reloaded = keras.saving.load_model(path)  # safe_mode=True, no custom_objects
        accuracy = float(np.mean(
            (reloaded.predict(x_test, verbose=0)[:, -1] > 0.5).astype(int) == y_test
        ))
        best_trial = tuner.oracle.get_best_trials(1)[0]
        self.save(kx.plot.plot_trials(tuner, title="RandomSearch over the penalty of "
                                      "HyperLogisticRegression"),
                  "tuner_trials.png", "tuner: validation loss per trial and the running best")
        self.record(
            "tuning (breast cancer)",
            f"RandomSearch, {trials} trials over the penalty, HyperLogisticRegression",
            f"best val_loss {best_trial.score:.3f} (penalty "
            f"{best_trial.hyperparameters.get('penalty')}); reloaded best model (safe_mode): "
            + describe_tuning(accuracy, self.baseline_accuracy, len(y_test)),
            started,
        )

    def write_report(self, total):
        lines = [
            f"# kerasext {kx.__version__} tour",
            "",
            f"Mode: {'quick' if self.quick else 'full'}. Data: scikit-learn's bundled datasets and "
            "synthetic tasks, nothing downloaded.",
            "",
            "| task | model | result | time (s) |",
            "|---|---|---|---|",
        ]
        lines += [f"| {s} | {m} | {r} | {t:.1f} |" for s, m, r, t in self.rows]
        lines += ["", f"Total: {total:.1f} s", "", "## Figures", ""]
        lines += [f"![{caption}]({name})  \n{caption}" for name, caption in self.figures]
        path = self.out / "report.md"
        path.write_text("\n".join(lines) + "\n")
        print("\n".join(lines[:len(self.rows) + 7]))
        print(f"\nwrote {path} and {len(self.figures)} figures")


class TrialProgress(keras.callbacks.Callback):
    """Prints one line as each tuner trial ends (keras-tuner deep-copies it per trial)."""

    finished = 0  # class-level: survives keras-tuner's per-trial deep copy

    def __init__(self, total):
        super().__init__()
        self.total = total

    def on_train_end(self, logs=None):
        TrialProgress.finished += 1
        shown = ", ".join(f"{k} {v:.3f}" for k, v in (logs or {}).items()
                          if k in ("val_accuracy", "val_loss"))
        print(f"  tuner trial {TrialProgress.finished}/{self.total} done: {shown}", flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer epochs and trials")
    parser.add_argument("--out", default="out", help="folder for report.md and figures")
    args = parser.parse_args(argv)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(0)

    started = time.time()
    tour = Tour(args.quick, out)
    for section in (tour.linear_regression, tour.logistic_regression, tour.cnn, tour.rnn,
                    tour.sharpness_aware, tour.tuning):
        print(f"\n=== {section.__name__.replace('_', ' ')} ===", flush=True)
        keras.utils.set_random_seed(0)
        section()
        keras.backend.clear_session()
    tour.write_report(time.time() - started)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
