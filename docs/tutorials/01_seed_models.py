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
# # The four seed models
#
# kerasext grew out of a tutorial that teaches deep learning with Keras through four models:
# linear regression, logistic regression, a convolutional network (CNN) and a recurrent network
# (RNN), each trained by gradient descent. `kerasext.models` ships the four of them as
# subclassed `keras.Model`s. This notebook trains each one on a dataset bundled with
# scikit-learn (nothing is downloaded), checks the two linear models against scikit-learn, and
# draws what they learned.
#
# Set `KERASEXT_DOCS_QUICK=1` to train briefly, as the documentation build does.

# %%
# %matplotlib inline
import os

import keras
import numpy as np
from matplotlib.figure import Figure
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits
from sklearn.linear_model import LinearRegression as SklearnLinearRegression
from sklearn.linear_model import LogisticRegression as SklearnLogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

import kerasext as kx

QUICK = os.environ.get("KERASEXT_DOCS_QUICK") == "1"
keras.utils.set_random_seed(0)
print(f"Keras {keras.__version__}, backend {keras.backend.backend()}")

# %% [markdown]
# ## 1. Linear regression: the weights are the coefficients
#
# The diabetes data: 442 patients, 10 standardized measurements, and a measure of disease
# progression one year later. `kx.models.LinearRegression` is one `Dense` unit; after `fit`,
# `coef_` and `intercept_` read like scikit-learn's. Standardizing the features *and* the
# target lets one learning rate suit every weight.

# %%
x, y = load_diabetes(return_X_y=True)
feature_names = load_diabetes().feature_names
x_train, x_test, y_train, y_test = train_test_split(
    x, y, test_size=0.2, random_state=0
)
x_scaler = StandardScaler().fit(x_train)
x_train, x_test = (
    x_scaler.transform(a).astype("float32") for a in (x_train, x_test)
)
y_mean, y_std = y_train.mean(), y_train.std()

linear = kx.models.LinearRegression()
linear.compile(optimizer=keras.optimizers.SGD(0.05, momentum=0.9), loss="mse")
history = linear.fit(
    x_train,
    (y_train - y_mean) / y_std,
    epochs=30 if QUICK else 100,
    batch_size=64,
    validation_split=0.2,
    verbose=0,
)

reference = SklearnLinearRegression().fit(x_train, y_train)
coef = linear.coef_ * y_std  # back to the target's units
print("feature   kerasext    sklearn")
for name, ours, theirs in zip(feature_names, coef, reference.coef_):
    print(f"{name:<8} {ours:9.1f}  {theirs:9.1f}")

# %% [markdown]
# Gradient descent lands near the least-squares solution on most features. The largest gaps
# are on the six blood serum measurements `s1` to `s6`, which are strongly correlated: many
# combinations of their weights fit the data almost equally well, and the noise of mini-batch
# steps moves the weights along them. The predictions, which is what the loss measures, agree
# with scikit-learn's on the held-out patients:

# %%
predicted = linear.predict(x_test, verbose=0)[:, 0] * y_std + y_mean
fig = Figure(figsize=(10, 3.8), layout="constrained")
bars, scatter = fig.subplots(1, 2)
positions = np.arange(len(feature_names))
bars.bar(positions - 0.2, coef, width=0.4, label="kx.models.LinearRegression")
bars.bar(
    positions + 0.2,
    reference.coef_,
    width=0.4,
    label="sklearn LinearRegression",
)
bars.set_xticks(positions, feature_names)
bars.set_title("coefficients")
bars.legend(fontsize="small")
scatter.scatter(y_test, predicted, s=12, label="kerasext")
scatter.scatter(
    y_test, reference.predict(x_test), s=12, marker="x", label="sklearn"
)
scatter.plot(
    [y.min(), y.max()], [y.min(), y.max()], color="gray", linestyle="--"
)
scatter.set_xlabel("true progression")
scatter.set_ylabel("predicted progression")
scatter.set_title("held-out patients")
scatter.legend(fontsize="small")
fig

# %% [markdown]
# `kx.plot.plot_history` draws the loss curves `fit` recorded:

# %%
kx.plot.plot_history(history, title="LinearRegression on diabetes")

# %% [markdown]
# ## 2. Logistic regression: probabilities out of `predict`
#
# The breast cancer data: 569 tumours, 30 features, malignant (0) or benign (1). With two
# classes `kx.models.LogisticRegression` is one sigmoid unit, and `predict` returns the
# probability of class 1, like scikit-learn's `predict_proba(x)[:, 1]`. kerasext's metrics go
# into `compile` like Keras' own.

# %%
x, y = load_breast_cancer(return_X_y=True)
x_train, x_test, y_train, y_test = train_test_split(
    x, y, test_size=0.25, stratify=y, random_state=0
)
scaler = StandardScaler().fit(x_train)
x_train, x_test = (
    scaler.transform(a).astype("float32") for a in (x_train, x_test)
)

logistic = kx.models.LogisticRegression(l2=1e-3)
logistic.compile(
    optimizer=keras.optimizers.Adam(0.01),
    loss="binary_crossentropy",
    metrics=["accuracy", kx.metrics.F1Score()],
)
history = logistic.fit(
    x_train,
    y_train,
    epochs=15 if QUICK else 50,
    batch_size=32,
    validation_split=0.2,
    verbose=0,
)
scores = logistic.evaluate(x_test, y_test, verbose=0, return_dict=True)
sklearn_model = SklearnLogisticRegression(max_iter=1000).fit(x_train, y_train)
print(
    f"test accuracy: kerasext {scores['accuracy']:.3f}, "
    f"sklearn {sklearn_model.score(x_test, y_test):.3f}"
)
print(f"test F1 (class 1): kerasext {scores['f1_score']:.3f}")

# %%
probabilities = logistic.predict(x_test, verbose=0)[:, 0]
fig = Figure(figsize=(6, 3.5), layout="constrained")
axis = fig.subplots()
bins = np.linspace(0, 1, 21)
axis.hist(
    probabilities[y_test == 0], bins=bins, alpha=0.7, label="malignant (0)"
)
axis.hist(probabilities[y_test == 1], bins=bins, alpha=0.7, label="benign (1)")
axis.axvline(0.5, color="gray", linestyle="--", label="threshold 0.5")
axis.set_xlabel("predicted probability of class 1")
axis.set_ylabel("test tumours")
axis.legend(fontsize="small")
fig

# %%
kx.plot.plot_history(
    history, metrics=["loss", "f1_score"], title="LogisticRegression"
)

# %% [markdown]
# ## 3. A CNN on 8x8 digits
#
# The tutorial's CNN listing feeds flat vectors to `Conv2D` and does not run. `kx.models.ConvNet`
# takes images `(batch, height, width, channels)` (a grayscale batch gets its channel axis) and
# pads its convolutions and poolings, so even scikit-learn's 8x8 digits go through two blocks.

# %%
digits = load_digits()
# 1797 images of 8x8 pixels, scaled to [0, 1]
images = (digits.images / 16.0).astype("float32")
x_train, x_test, y_train, y_test = train_test_split(
    images,
    digits.target,
    test_size=0.25,
    stratify=digits.target,
    random_state=0,
)
cnn = kx.models.ConvNet(10, filters=(16, 32), dense_units=(64,), dropout=0.2)
cnn.compile(
    optimizer=keras.optimizers.Adam(3e-3),
    loss="sparse_categorical_crossentropy",
    metrics=["accuracy", kx.metrics.F1Score(num_classes=10)],
)
cnn_history = cnn.fit(
    x_train,
    y_train,
    epochs=6 if QUICK else 20,
    batch_size=32,
    validation_split=0.2,
    verbose=0,
)
cnn_scores = cnn.evaluate(x_test, y_test, verbose=0, return_dict=True)
print(
    f"CNN test accuracy {cnn_scores['accuracy']:.3f}, "
    f"macro F1 {cnn_scores['f1_score']:.3f}"
)

# %%
kx.plot.plot_history(
    cnn_history, metrics=["loss", "accuracy"], title="ConvNet on digits"
)

# %% [markdown]
# The first test digits, with the CNN's prediction (in red where it is wrong):

# %%
predicted = cnn.predict(x_test, verbose=0).argmax(axis=-1)
fig = Figure(figsize=(9, 3.4), layout="constrained")
for index, axis in enumerate(fig.subplots(3, 8).flat):
    axis.imshow(x_test[index], cmap="gray_r")
    wrong = predicted[index] != y_test[index]
    axis.set_title(
        f"{predicted[index]}" + (f" (true {y_test[index]})" if wrong else ""),
        color="tab:red" if wrong else "black",
        fontsize="small",
    )
    axis.set_axis_off()
fig

# %% [markdown]
# ## 4. An RNN reading digits row by row
#
# `kx.models.RecurrentNet` reads `(batch, timesteps, features)`: an 8x8 digit read row by row is
# 8 steps of 8 features. `cell` picks `"simple"`, `"lstm"` or `"gru"`.

# %%
rnn = kx.models.RecurrentNet(10, units=(64,), cell="gru")
rnn.compile(
    optimizer=keras.optimizers.Adam(3e-3),
    loss="sparse_categorical_crossentropy",
    metrics=["accuracy", kx.metrics.F1Score(num_classes=10)],
)
rnn_history = rnn.fit(
    x_train,
    y_train,
    epochs=6 if QUICK else 20,
    batch_size=32,
    validation_split=0.2,
    verbose=0,
)
rnn_scores = rnn.evaluate(x_test, y_test, verbose=0, return_dict=True)
print(
    f"RNN test accuracy {rnn_scores['accuracy']:.3f}, "
    f"macro F1 {rnn_scores['f1_score']:.3f}"
)

# %%
fig = Figure(figsize=(6, 3.5), layout="constrained")
axis = fig.subplots()
for name, run in (
    ("ConvNet", cnn_history),
    ("RecurrentNet (GRU)", rnn_history),
):
    epochs = np.arange(len(run.history["val_accuracy"]))
    axis.plot(epochs, run.history["val_accuracy"], marker=".", label=name)
axis.set_xlabel("epoch (0 = first, as History.epoch)")
axis.set_ylabel("validation accuracy")
axis.set_title("two ways to read the same digits")
axis.grid(alpha=0.3)
axis.legend()
fig

# %% [markdown]
# Every model here saves as a `.keras` file that loads back without `custom_objects`
# (`import kerasext` registers them):

# %%
rnn.save("rnn.keras")
restored = keras.saving.load_model("rnn.keras")
np.testing.assert_allclose(restored(x_test[:8]), rnn(x_test[:8]), atol=1e-6)
print(type(restored).__name__, "restored")

# %% [markdown]
# Next: [evaluating with kerasext's metrics](02_metrics.md). The models are documented in the
# [reference](../reference/models.md) and the [models guide](../models.md).
