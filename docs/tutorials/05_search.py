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
# # A hyperparameter search
#
# How many filters, how much dropout, which learning rate? KerasTuner searches such choices
# for you, given a *search space*: a `keras_tuner.HyperModel` whose `build(hp)` draws every
# choice from `hp`. `kerasext.tuning` has one for each model of `kerasext.models`, with its
# training hyperparameters (optimizer, learning rate, batch size) and early stopping on the
# objective. This notebook looks at the space of the CNN, runs a small random search on the
# digits, and evaluates the best model it found.

# %%
# %matplotlib inline
import os
import warnings

import keras
import keras_tuner
from sklearn.datasets import load_digits
from sklearn.metrics import f1_score
from sklearn.model_selection import train_test_split

import kerasext as kx

QUICK = os.environ.get("KERASEXT_DOCS_QUICK") == "1"
keras.utils.set_random_seed(0)
# keras-tuner reloads each trial's checkpoint into a fresh model, whose
# optimizer has no state yet: nothing to warn about.
warnings.filterwarnings(
    "ignore", message="Skipping variable loading for optimizer"
)

x, y = load_digits(return_X_y=True)
x = (x / 16.0).reshape(-1, 8, 8).astype("float32")
x_train, x_test, y_train, y_test = train_test_split(
    x, y, test_size=0.25, stratify=y, random_state=0
)

# %% [markdown]
# ## The search space
#
# `kx.tuning.describe` lists every hyperparameter with its range, its default and the
# condition under which it is active (the units of the dense layers matter only when there
# are dense layers). Nothing is trained:

# %%
hypermodel = kx.tuning.HyperConvNet((8, 8), num_classes=10)
print(kx.tuning.describe(hypermodel))

# %% [markdown]
# `fixed=` pins what you already know, which makes the space smaller and the search faster. For
# this small demonstration, one convolutional block and Adam:

# %%
hypermodel = kx.tuning.HyperConvNet(
    (8, 8), num_classes=10, fixed={"num_blocks": 1, "optimizer": "adam"}
)

# %% [markdown]
# ## The search
#
# Any keras-tuner tuner takes the hypermodel. The objective is kerasext's macro F1 on the
# validation data; `hypermodel.objective` gives it the right direction (keras-tuner would
# guess "min" for an unknown name). Each trial trains under a seed derived from its values,
# so the search is reproducible. (The tuner's seed must not be 0: keras-tuner reads `seed=0`
# as "draw a random seed".)

# %%
tuner = keras_tuner.RandomSearch(
    hypermodel,
    objective=hypermodel.objective("val_f1_score"),
    max_trials=3 if QUICK else 12,
    seed=1,
    overwrite=True,
    directory="tuning",
    project_name="digits_cnn",
)
tuner.search(
    x_train, y_train, validation_split=0.2, epochs=3 if QUICK else 15, verbose=0
)
tuner.results_summary(num_trials=2)

# %% [markdown]
# `kx.plot.plot_trials` draws each trial's score and the running best:

# %%
kx.plot.plot_trials(tuner, title="random search over HyperConvNet on digits")

# %% [markdown]
# ## The best model, on the test set
#
# The best model is a plain `kx.models.ConvNet`, compiled with kerasext's metrics: it
# evaluates, predicts, and saves as a `.keras` file like any other.

# %%
best = tuner.get_best_models(1)[0]
best_values = tuner.get_best_hyperparameters(1)[0].values
for name, value in best_values.items():
    if isinstance(value, float):
        value = round(value, 5)
    if not name.startswith("tuner/"):
        print(f"{name:<14} {value}")
scores = best.evaluate(x_test, y_test, verbose=0, return_dict=True)
predicted = best.predict(x_test, verbose=0).argmax(axis=-1)
print(
    f"test accuracy {scores['accuracy']:.3f}, "
    f"macro F1 {scores['f1_score']:.3f} "
    f"(scikit-learn: {f1_score(y_test, predicted, average='macro'):.3f})"
)

# %% [markdown]
# To score each trial by k-fold cross-validation instead of one validation split, wrap the
# tuner class in `kx.tuning.CrossValidated` (see the [cross-validation guide](../model_selection.md)).
# The [tuning guide](../tuning.md) covers Hyperband on the full space, distributed searches,
# and the search spaces of the reading-list architectures; the [reference](../reference/tuning.md)
# lists them all.
