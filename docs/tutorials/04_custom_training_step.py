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
# # A custom training step
#
# `model.fit` runs one *training step* per batch: a forward pass, the loss, its gradients and
# an optimizer update. To change how the gradients are made (sharpness-aware minimization,
# adversarial examples, gradient noise) you write your own step. The step most people copy
# from the keras.io guide drops sample weights, is wrong under `tf.distribute`, and under mixed
# precision never scales its loss, so its updates are ~30 000 times too small.
#
# `kerasext.training` holds steps written as **model wrappers**: wrap any Keras model, then
# `compile` and `fit` the wrapper. This notebook checks that `kx.training.TrainStep` trains
# exactly like `fit`, subclasses it, and compares plain training with `kx.training.SAM`.

# %%
# %matplotlib inline
import os

import keras
import numpy as np
from keras import ops
from matplotlib.figure import Figure
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

import kerasext as kx

QUICK = os.environ.get("KERASEXT_DOCS_QUICK") == "1"
EPOCHS = 12 if QUICK else 40
keras.utils.set_random_seed(0)

x, y = load_digits(return_X_y=True)
x_train, x_test, y_train, y_test = train_test_split(
    x, y, train_size=400, stratify=y, random_state=0
)
scaler = StandardScaler().fit(x_train)
x_train, x_test = (
    scaler.transform(a).astype("float32") for a in (x_train, x_test)
)


def mlp(seed=0):
    return keras.Sequential(
        [
            keras.Input((64,)),
            kx.layers.DenseBlock(
                128, kernel_initializer=keras.initializers.GlorotUniform(seed)
            ),
            keras.layers.Dense(
                10,
                kernel_initializer=keras.initializers.GlorotUniform(seed + 1),
            ),
        ]
    )


LOSS = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

# %% [markdown]
# ## `TrainStep` trains like `fit`
#
# Two copies of the same network from the same initial weights: one trained by Keras' built-in
# step, one wrapped in `kx.training.TrainStep`. With the same batches in the same order (no
# shuffling), they end with the same weights, sample weights included:

# %%
weights = (
    np.random.default_rng(0)
    .uniform(0.5, 2.0, size=len(x_train))
    .astype("float32")
)

builtin = mlp()
builtin.compile(optimizer=keras.optimizers.SGD(0.05, momentum=0.9), loss=LOSS)
builtin.fit(
    x_train,
    y_train,
    sample_weight=weights,
    epochs=3,
    batch_size=32,
    shuffle=False,
    verbose=0,
)

wrapped = kx.training.TrainStep(mlp())
wrapped.compile(optimizer=keras.optimizers.SGD(0.05, momentum=0.9), loss=LOSS)
wrapped.fit(
    x_train,
    y_train,
    sample_weight=weights,
    epochs=3,
    batch_size=32,
    shuffle=False,
    verbose=0,
)

for ours, theirs in zip(wrapped.model.get_weights(), builtin.get_weights()):
    np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-5)
print(
    "same weights after 3 epochs:",
    len(builtin.get_weights()),
    "arrays compared",
)

# %% [markdown]
# The wrapper forwards `call`, so `predict` and `evaluate` work on it; the trained network stays
# at `wrapped.model`.
#
# ## Your own step: override one hook
#
# A subclass changes how gradients are made by overriding
# `compute_gradients(x, y, sample_weight)`, which returns `(loss, y_pred, gradients)`. The
# gradients are those of the *scaled* loss (`self.scale_loss(loss)`), which keeps mixed
# precision right. Adding Gaussian noise to every gradient (Neelakantan et al., 2015) takes a
# few lines:


# %%
class GradientNoise(kx.training.TrainStep):
    """Adds Gaussian noise of standard deviation `stddev` to every gradient."""

    def __init__(self, model, stddev=0.01, **kwargs):
        super().__init__(model, **kwargs)
        self.stddev = stddev
        self.seed_generator = keras.random.SeedGenerator(0)

    def compute_gradients(self, x, y, sample_weight):
        loss, y_pred, gradients = super().compute_gradients(x, y, sample_weight)
        noise_scale = self.scale_loss(self.stddev)
        noisy = [
            g
            + noise_scale
            * keras.random.normal(ops.shape(g), seed=self.seed_generator)
            for g in gradients
        ]
        return loss, y_pred, noisy


noisy = GradientNoise(mlp(), stddev=0.05)
noisy.compile(
    optimizer=keras.optimizers.SGD(0.05, momentum=0.9),
    loss=LOSS,
    metrics=["accuracy"],
)
noisy.fit(x_train, y_train, epochs=3, batch_size=32, verbose=0)
accuracy = noisy.evaluate(x_test, y_test, verbose=0)[1]
print(f"test accuracy with gradient noise: {accuracy:.3f}")

# %% [markdown]
# ## Sharpness-aware minimization
#
# `kx.training.SAM` (Foret et al., 2021) looks for weights whose whole neighbourhood has a low
# loss: from the gradient `g` at the weights `w` it steps to `w + rho * g / ||g||`, takes the
# gradient there, and applies that gradient at `w`. Each step costs two forward-backward passes.
# It logs the loss at both points and their difference, the `sharpness`.
#
# Flat minima tend to generalize better, and Foret et al. report that SAM resists noisy labels.
# Here 30% of the training labels are replaced at random, and the same network is trained with
# the plain step and with SAM, both scored on the clean test set after every epoch:

# %%
rng = np.random.default_rng(0)
noisy_labels = y_train.copy()
flip = rng.random(len(noisy_labels)) < 0.3
noisy_labels[flip] = rng.integers(0, 10, size=flip.sum())

runs = {}
for name, wrap in (
    ("plain (TrainStep)", kx.training.TrainStep),
    ("SAM, rho=0.05", kx.training.SAM),
):
    trainer = wrap(mlp())
    trainer.compile(
        optimizer=keras.optimizers.SGD(0.05, momentum=0.9),
        loss=LOSS,
        metrics=["accuracy"],
    )
    history = trainer.fit(
        x_train,
        noisy_labels,
        validation_data=(x_test, y_test),
        epochs=EPOCHS,
        batch_size=32,
        verbose=0,
    )
    runs[name] = history.history
    accuracy = history.history["val_accuracy"]
    print(
        f"{name:<18} clean test accuracy {accuracy[-1]:.3f} "
        f"(best {max(accuracy):.3f})"
    )

# %%
fig = Figure(figsize=(10, 3.6), layout="constrained")
accuracy_axis, sharpness_axis = fig.subplots(1, 2)
epochs = np.arange(EPOCHS)
for name, logs in runs.items():
    accuracy_axis.plot(epochs, logs["val_accuracy"], label=name)
accuracy_axis.set_title("clean test accuracy (trained on 30% noisy labels)")
accuracy_axis.set_xlabel("epoch (0 = first, as History.epoch)")
accuracy_axis.grid(alpha=0.3)
accuracy_axis.legend()
sam_logs = runs["SAM, rho=0.05"]
sharpness_axis.plot(epochs, sam_logs["loss"], label="loss at w")
sharpness_axis.plot(epochs, sam_logs["perturbed_loss"], label="loss at w + e")
sharpness_axis.plot(epochs, sam_logs["sharpness"], label="sharpness")
sharpness_axis.set_title("what SAM logs")
sharpness_axis.set_xlabel("epoch (0 = first, as History.epoch)")
sharpness_axis.grid(alpha=0.3)
sharpness_axis.legend()
fig

# %% [markdown]
# On a problem this small the two runs stay close: both peak early and then fit the wrong
# labels, as in the [overfitting notebook](03_overfitting.md). The gains Foret et al. report
# are for large image models trained for hundreds of epochs; try `rho` (0.05 by default) and
# `adaptive=True` (ASAM, with a larger `rho`) on your own problem, and compare as above. The
# sharpness SAM logs, the rise of the loss within distance `rho` of the weights, falls as
# training settles into flatter regions.
#
# `kx.training.AdversarialTraining` trains on FGSM or PGD examples; the
# [training guide](../training.md) covers it, ASAM, mixed precision and `tf.distribute`, and
# the [reference](../reference/training.md) lists every argument.
#
# Next: [a hyperparameter search](05_search.md).
