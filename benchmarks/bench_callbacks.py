"""Early stopping on overfitting tasks: Keras' EarlyStopping against Prechelt's criteria.

Not a timing comparison. Each task is a small scikit-learn dataset with noisy
training and validation labels (or targets) and an oversized MLP, so the
validation loss turns up early. For every setup and seed, from the same
initial weights (and, without shuffling, along the same trajectory until a
callback stops it): the epochs trained, and the loss on a held-out set
(labels noisy like the training and validation labels: the distribution
early stopping estimates) of the weights the callback restored (Keras'
`EarlyStopping(restore_best_weights=True)`; `kerasext.callbacks.OverfitDetector`
with `action="stop"`, which restores the weights of the lowest validation
loss when it stops training, and nothing when it never fires). Means over
seeds, and the held-out loss relative to Keras' `patience=5`. The last column
is the loss on the same inputs with their clean labels: with noisy
validation labels, the validation minimum comes earlier than the clean-label
one.
"""

import os
import statistics

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from sklearn import datasets  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from kerasext.callbacks import OverfitDetector  # noqa: E402


def _split(x, y, *, noise, rng, classification, train_size, stratify=True):
    x_rest, x_test, y_rest, y_test = train_test_split(
        x, y, test_size=0.3, random_state=0, stratify=y if classification else None
    )
    x_train, x_val, y_train, y_val = train_test_split(
        x_rest, y_rest, train_size=train_size, random_state=0,
        stratify=y_rest if classification else None,
    )
    scaler = StandardScaler().fit(x_train)
    x_train, x_val, x_test = (scaler.transform(a).astype("float32")
                              for a in (x_train, x_val, x_test))

    def corrupt(labels):
        labels = labels.copy()
        if classification:
            flip = rng.random(len(labels)) < noise
            labels[flip] = rng.integers(0, labels.max() + 1, size=flip.sum())
        else:
            labels = labels + rng.normal(scale=noise, size=labels.shape)
        return labels

    # training, validation and held-out labels are noisy alike; the clean test
    # labels are kept too
    return (x_train, corrupt(y_train)), (x_val, corrupt(y_val)), (x_test, corrupt(y_test), y_test)


def _tasks():
    rng = np.random.default_rng(0)
    tasks = []
    x, y = datasets.load_digits(return_X_y=True)
    tasks.append(("digits, 30% label noise, MLP 2x512", 10, 512,
                  _split(x, y, noise=0.3, rng=rng, classification=True, train_size=500)))
    x, y = datasets.load_breast_cancer(return_X_y=True)
    tasks.append(("breast cancer, 20% label noise, MLP 2x256", 2, 256,
                  _split(x, y, noise=0.2, rng=rng, classification=True, train_size=200)))
    x, y = datasets.load_wine(return_X_y=True)
    tasks.append(("wine, 20% label noise, MLP 2x256", 3, 256,
                  _split(x, y, noise=0.2, rng=rng, classification=True, train_size=70)))
    x, y = datasets.load_diabetes(return_X_y=True)
    y = ((y - y.mean()) / y.std()).astype("float32")
    tasks.append(("diabetes (standardized), target noise 0.5, MLP 2x256", 0, 256,
                  _split(x, y, noise=0.5, rng=rng, classification=False, train_size=150)))
    return tasks


def _model(num_classes, width, input_dim):
    layers = [keras.Input((input_dim,)), keras.layers.Dense(width, activation="relu"),
              keras.layers.Dense(width, activation="relu")]
    if num_classes:
        layers.append(keras.layers.Dense(num_classes, activation="softmax"))
        loss = "sparse_categorical_crossentropy"
    else:
        layers.append(keras.layers.Dense(1))
        loss = "mse"
    model = keras.Sequential(layers)
    model.compile(optimizer=keras.optimizers.Adam(3e-4), loss=loss)
    return model


SETUPS = {
    "Keras EarlyStopping(patience=5)":
        lambda: keras.callbacks.EarlyStopping(patience=5, restore_best_weights=True),
    "Keras EarlyStopping(patience=10)":
        lambda: keras.callbacks.EarlyStopping(patience=10, restore_best_weights=True),
    "OverfitDetector GL_5": lambda: OverfitDetector(criterion="gl", threshold=5, action="stop"),
    "OverfitDetector GL_2": lambda: OverfitDetector(criterion="gl", threshold=2, action="stop"),
    "OverfitDetector PQ_0.5": lambda: OverfitDetector(criterion="pq", threshold=0.5,
                                                      action="stop"),
    "OverfitDetector UP_2": lambda: OverfitDetector(criterion="up", threshold=2, action="stop"),
    "OverfitDetector UP_3": lambda: OverfitDetector(criterion="up", threshold=3, action="stop"),
}


def _reset(model, initial_weights):
    """Back to the initial weights and a fresh optimizer, without retracing `fit`."""
    model.set_weights(initial_weights)
    for variable in model.optimizer.variables:
        if "learning_rate" not in variable.path:
            variable.assign(np.zeros(variable.shape, dtype=variable.dtype))


def _run_task(task, setups, seed, max_epochs):
    """Every setup from the same initial weights; with `shuffle=False` the runs
    follow the same trajectory until their callback stops them."""
    _, num_classes, width, ((x_train, y_train), (x_val, y_val), (x_test, y_test, y_clean)) = task
    keras.utils.set_random_seed(seed)
    model = _model(num_classes, width, x_train.shape[1])
    initial_weights = model.get_weights()
    results = {}
    for name, make_callback in setups.items():
        _reset(model, initial_weights)
        callbacks = [make_callback()] if make_callback else []
        history = model.fit(x_train, y_train, validation_data=(x_val, y_val), epochs=max_epochs,
                            batch_size=32, shuffle=False, verbose=0, callbacks=callbacks)
        results[name] = (len(history.history["loss"]),
                         float(model.evaluate(x_test, y_test, verbose=0)),
                         float(model.evaluate(x_test, y_clean, verbose=0)))
    return results


def run(quick=False, seeds=None, max_epochs=None):
    """Markdown tables, one per task. `seeds` and `max_epochs` override the mode's."""
    seeds = seeds or ([0] if quick else [0, 1, 2])
    max_epochs = max_epochs or (40 if quick else 100)
    tasks = _tasks()[:2] if quick else _tasks()
    setups = dict(SETUPS)
    if quick:
        setups = {k: v for k, v in setups.items() if "GL_2" not in k and "UP_2" not in k}
    setups[f"no early stopping ({max_epochs} epochs)"] = None
    sections = []
    for task in tasks:
        per_seed = [_run_task(task, setups, seed, max_epochs) for seed in seeds]
        rows = {name: tuple([r[name][i] for r in per_seed] for i in range(3)) for name in setups}
        base = statistics.mean(rows["Keras EarlyStopping(patience=5)"][1])
        lines = [
            f"### {task[0]}",
            "",
            f"seeds {seeds}, at most {max_epochs} epochs, Adam(3e-4), batch 32, no shuffling",
            "",
            "| setup | epochs trained (mean) | epochs per seed | held-out loss (mean) | "
            "held-out loss per seed | relative to Keras patience=5 | clean-label test loss |",
            "|---|---|---|---|---|---|---|",
        ]
        for name, (epochs, losses, clean) in rows.items():
            lines.append(
                f"| {name} | {statistics.mean(epochs):.1f} | {', '.join(map(str, epochs))} | "
                f"{statistics.mean(losses):.4f} | {', '.join(f'{v:.4f}' for v in losses)} | "
                f"{statistics.mean(losses) / base:.3f} | {statistics.mean(clean):.4f} |"
            )
        sections.append("\n".join(lines) + "\n")
    return sections


if __name__ == "__main__":
    import sys

    for section in run(quick="--quick" in sys.argv):
        print(section)
