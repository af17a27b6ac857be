# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Overfitting and early stopping
#
# A model overfits when it learns the noise of its training set: the training loss keeps
# falling while the loss on data it has not seen starts to climb. The tutorial kerasext grew
# from lists the cures: a simpler model, regularization, cross-validation to measure what
# generalizes, and early stopping. This notebook provokes overfitting on purpose, watches it
# with `kx.callbacks.OverfitDetector`, stops it with `kx.callbacks.EarlyStopping`, then tries
# regularization and cross-validation.

# %%
# %matplotlib inline
import os

import keras
import numpy as np
from matplotlib.figure import Figure
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

import kerasext as kx

QUICK = os.environ.get("KERASEXT_DOCS_QUICK") == "1"
EPOCHS = 20 if QUICK else 80
keras.utils.set_random_seed(0)

# %% [markdown]
# ## A recipe for overfitting
#
# Few samples (300 of scikit-learn's digits), noisy labels (30% of the training and validation
# labels replaced at random; the test labels stay clean) and a large network (two hidden layers
# of 512 units, 300 000 weights).

# %%
x, y = load_digits(return_X_y=True)
x_rest, x_test, y_rest, y_test = train_test_split(
    x, y, test_size=0.4, stratify=y, random_state=0
)
x_train, x_val, y_train, y_val = train_test_split(
    x_rest,
    y_rest,
    train_size=300,
    test_size=300,
    stratify=y_rest,
    random_state=0,
)
scaler = StandardScaler().fit(x_train)
x_train, x_val, x_test = (
    scaler.transform(a).astype("float32") for a in (x_train, x_val, x_test)
)
rng = np.random.default_rng(0)


def corrupt(labels, noise=0.3):
    labels = labels.copy()
    flip = rng.random(len(labels)) < noise
    labels[flip] = rng.integers(0, 10, size=flip.sum())
    return labels


y_train, y_val = corrupt(y_train), corrupt(y_val)
print(
    f"{len(x_train)} training, {len(x_val)} validation, "
    f"{len(x_test)} clean test digits"
)


def large_model(dropout=0.0, l2=0.0):
    model = keras.Sequential(
        [
            keras.Input((64,)),
            kx.layers.DenseBlock(512, dropout=dropout, l2=l2),
            kx.layers.DenseBlock(512, dropout=dropout, l2=l2),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(3e-4),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


# %% [markdown]
# ## Watching it happen
#
# `OverfitDetector` implements Prechelt's stopping criteria (1998). The default, `GL_5`, fires
# when the *generalization loss* `GL = 100 * (val_loss / lowest val_loss so far - 1)` exceeds 5%;
# the detector writes `overfit_gl`, `overfit_pq`, `overfit_up` and `overfit_gap`
# (validation minus training loss) into the epoch logs. With `action="log"` it only records the
# onset epoch. An `EarlyStopping` whose patience outlasts the run never stops it, but still
# restores the weights of the best validation epoch when training ends.
#
# A last callback scores the clean test set after each epoch, to see what the validation loss
# predicts.


# %%
class TestScores(keras.callbacks.Callback):
    """Clean test accuracy after every epoch."""

    def __init__(self, x, y):
        super().__init__()
        self.x, self.y, self.accuracy = x, y, []

    def on_epoch_end(self, epoch, logs=None):
        # One batch: a fast evaluation, the same numbers.
        self.accuracy.append(
            self.model.evaluate(
                self.x, self.y, batch_size=len(self.x), verbose=0
            )[1]
        )


model = large_model()
detector = kx.callbacks.OverfitDetector(
    criterion="gl", threshold=5.0, action="log"
)
# Its patience outlasts the run: it never stops it, but restores the best
# weights at the end.
keeper = kx.callbacks.EarlyStopping(patience=EPOCHS)
test_scores = TestScores(x_test, y_test)
history = model.fit(
    x_train,
    y_train,
    validation_data=(x_val, y_val),
    epochs=EPOCHS,
    batch_size=32,
    callbacks=[detector, test_scores, keeper],
    verbose=0,
)
restored_accuracy = model.evaluate(x_test, y_test, verbose=0)[1]
print(
    f"GL_5 fired after epoch {detector.onset_epoch}; "
    f"best validation epoch {keeper.best_epoch} "
    "(epochs 0-based, as History.epoch)"
)
print(
    f"clean test accuracy: last epoch {test_scores.accuracy[-1]:.3f}, "
    f"restored best weights {restored_accuracy:.3f}"
)

# %% [markdown]
# `kx.plot.plot_history` marks the best epoch and the onset the callbacks found, here on
# the loss and on the generalization loss `overfit_gl`:

# %%
kx.plot.plot_history(
    history,
    metrics=["loss", "overfit_gl"],
    callbacks=[keeper, detector],
    title="a large MLP on 300 noisy digits",
)

# %% [markdown]
# The training loss keeps falling: the network goes on to memorize the wrong labels too. The
# validation loss bottoms out early and then climbs, and the clean test accuracy follows it
# down: the validation loss was the right signal.

# %%
fig = Figure(figsize=(6, 3.5), layout="constrained")
axis = fig.subplots()
epochs = np.arange(len(test_scores.accuracy))
axis.plot(epochs, test_scores.accuracy, marker=".", label="clean test accuracy")
axis.axvline(
    keeper.best_epoch,
    color="tab:green",
    linestyle="--",
    label=f"lowest validation loss ({keeper.best_epoch})",
)
axis.axvline(
    detector.onset_epoch,
    color="tab:red",
    linestyle=":",
    label=f"GL_5 onset ({detector.onset_epoch})",
)
axis.set_xlabel("epoch (0 = first, as History.epoch)")
axis.set_ylabel("accuracy")
axis.grid(alpha=0.3)
axis.legend(fontsize="small")
fig

# %% [markdown]
# ## Cure 1: stop early
#
# With a short patience, `EarlyStopping` ends the run a few epochs after the best one, restores
# the best weights, and says why it stopped:

# %%
keras.utils.set_random_seed(0)
model = large_model()
stopper = kx.callbacks.EarlyStopping(patience=5)
stopped = model.fit(
    x_train,
    y_train,
    validation_data=(x_val, y_val),
    epochs=EPOCHS,
    batch_size=32,
    callbacks=[stopper],
    verbose=0,
)
print(
    f"stop reason: {stopper.stop_reason}, "
    f"after epoch {len(stopped.history['loss'])}, "
    f"best epoch {stopper.best_epoch} (val_loss {stopper.best:.3f})"
)
print(
    f"clean test accuracy {model.evaluate(x_test, y_test, verbose=0)[1]:.3f}, "
    f"in {len(stopped.history['loss'])} epochs instead of {EPOCHS}"
)

# %% [markdown]
# ## Cure 2: regularize
#
# `kx.layers.DenseBlock` takes the regularizers as arguments: dropout after each block, and an
# L2 penalty on the weights. The same network, regularized, scored on the clean test set
# after every epoch as before:

# %%
keras.utils.set_random_seed(0)
regularized = large_model(dropout=0.5, l2=1e-4)
regularized_scores = TestScores(x_test, y_test)
regularized.fit(
    x_train,
    y_train,
    validation_data=(x_val, y_val),
    epochs=EPOCHS,
    batch_size=32,
    callbacks=[regularized_scores],
    verbose=0,
)
print(
    f"clean test accuracy after {EPOCHS} epochs: "
    f"{regularized_scores.accuracy[-1]:.3f} regularized, "
    f"{test_scores.accuracy[-1]:.3f} unregularized"
)

fig = Figure(figsize=(6, 3.5), layout="constrained")
axis = fig.subplots()
for name, scores in (
    ("no regularization", test_scores),
    ("dropout 0.5 + L2 1e-4", regularized_scores),
):
    axis.plot(np.arange(EPOCHS), scores.accuracy, label=name)
axis.set_xlabel("epoch (0 = first, as History.epoch)")
axis.set_ylabel("clean test accuracy")
axis.grid(alpha=0.3)
axis.legend()
fig

# %% [markdown]
# The regularized network learns more slowly, and loses much less once the other starts to
# memorize the noise. The cures combine: regularize, and still stop early.
#
# ## Cure 3: measure with cross-validation
#
# One validation split of 300 noisy samples gives a noisy estimate.
# `kx.model_selection.cross_validate` trains a fresh model on each of k folds and scores it on
# the held-out fold, which `fit` never sees (its validation curves come from a tenth of the fold's
# training part, `validation_fraction=0.1`); the spread over the folds says how far to trust the
# mean. (The held-out labels are noisy too: a perfect model would score about 0.73 on them, 70%
# clean labels plus the 3% that noise left unchanged.)

# %%
result = kx.model_selection.cross_validate(
    lambda: large_model(dropout=0.5, l2=1e-3),
    x_train,
    y_train,
    cv=3,
    seed=0,
    validation_fraction=0.1,
    fit_kwargs={"epochs": 5 if QUICK else 30, "batch_size": 32},
)
print(result)

# %%
kx.plot.plot_cross_validation(result, metric="loss")

# %% [markdown]
# The callbacks are documented in the [reference](../reference/callbacks.md) and the
# [callbacks guide](../callbacks.md), which also covers resuming an interrupted run with their
# state (`kx.callbacks.BackupAndRestore`).
#
# Next: [a custom training step](04_custom_training_step.md).
