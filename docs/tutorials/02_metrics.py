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
# # Evaluating with kerasext's metrics
#
# Accuracy hides which classes a model gets wrong. The tutorial kerasext grew from moves on to
# precision, recall and their harmonic mean F1, computed from the confusion counts:
# true positives (tp), false positives (fp) and false negatives (fn) of each class.
#
# - precision = tp / (tp + fp): of what the model called class k, how much was k;
# - recall = tp / (tp + fn): of the real class k, how much the model found;
# - F1 = 2 tp / (2 tp + fp + fn).
#
# `kerasext.metrics` computes them inside `fit` and `evaluate`, batch after batch, and gives
# the numbers `sklearn.metrics` gives on everything seen so far. This notebook checks that on a
# softmax regression of scikit-learn's digits, then looks at the per-class scores, the report,
# the confusion matrix and the decision threshold of a binary classifier.

# %%
# %matplotlib inline
import os

import keras
import numpy as np
from matplotlib.figure import Figure
from sklearn.datasets import load_breast_cancer, load_digits
from sklearn.metrics import (
    classification_report,
    confusion_matrix,
    f1_score,
    precision_score,
    recall_score,
)
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

import kerasext as kx

QUICK = os.environ.get("KERASEXT_DOCS_QUICK") == "1"
keras.utils.set_random_seed(0)

# %% [markdown]
# ## A multiclass model, scored in `evaluate`
#
# A softmax regression (`kx.models.LogisticRegression(num_classes=10)`) of the 64 pixels of each
# digit, trained on a third of the data so that it still makes mistakes worth counting. Each
# metric takes scikit-learn's `average`: `"macro"` (the mean over classes), `"weighted"` (by
# support) or `"micro"` (from the summed counts).

# %%
digits = load_digits()
x = (digits.data / 16.0).astype("float32")
x_train, x_test, y_train, y_test = train_test_split(
    x, digits.target, train_size=0.3, stratify=digits.target, random_state=0
)
model = kx.models.LogisticRegression(num_classes=10)
model.compile(
    optimizer=keras.optimizers.Adam(0.01),
    loss="sparse_categorical_crossentropy",
    metrics=[
        "accuracy",
        kx.metrics.F1Score(num_classes=10),  # macro by default
        kx.metrics.Precision(num_classes=10, average="weighted"),
        kx.metrics.Recall(num_classes=10, average="micro"),
    ],
)
model.fit(
    x_train, y_train, epochs=10 if QUICK else 40, batch_size=32, verbose=0
)
logs = model.evaluate(
    x_test, y_test, batch_size=64, verbose=0, return_dict=True
)

predicted = model.predict(x_test, verbose=0).argmax(axis=-1)
references = {
    "f1_score": f1_score(y_test, predicted, average="macro"),
    "precision": precision_score(y_test, predicted, average="weighted"),
    "recall": recall_score(y_test, predicted, average="micro"),
}
print("metric       kerasext   scikit-learn")
for name, expected in references.items():
    print(f"{name:<11} {logs[name]:9.5f}  {expected:13.5f}")
    assert abs(logs[name] - expected) < 1e-6

# %% [markdown]
# The scores were accumulated over the test set's 20 batches, and equal scikit-learn's on the
# whole set. Micro-averaged recall is the accuracy for single-label data.
#
# ## Per-class scores
#
# `average=None` returns one score per class, here next to scikit-learn's:

# %%
per_class = kx.metrics.F1Score(num_classes=10, average=None)
per_class.update_state(y_test, model.predict(x_test, verbose=0))
ours = np.asarray(per_class.result())
theirs = f1_score(y_test, predicted, average=None)
np.testing.assert_allclose(ours, theirs, atol=1e-6)

fig = Figure(figsize=(7, 3.6), layout="constrained")
axis = fig.subplots()
axis.bar(
    np.arange(10),
    ours,
    color="tab:blue",
    label="kx.metrics.F1Score(average=None)",
)
axis.scatter(
    np.arange(10),
    theirs,
    color="black",
    marker="_",
    s=400,
    zorder=3,
    label="sklearn f1_score(average=None)",
)
axis.set_xticks(np.arange(10))
axis.set_xlabel("digit")
axis.set_ylabel("F1")
axis.set_ylim(min(0.8, ours.min() - 0.02), 1.005)
fig.legend(loc="outside lower center", ncols=2, fontsize="small")
fig

# %% [markdown]
# ## The report and the confusion matrix
#
# `kx.metrics.ClassificationReport` is scikit-learn's `classification_report` as a metric: every
# entry lands in the epoch logs (so callbacks can monitor any class), and `to_string()` prints
# the familiar table.

# %%
report = kx.metrics.ClassificationReport(num_classes=10)
report.update_state(y_test, model.predict(x_test, verbose=0))
print(report.to_string(digits=3))
ours = report.to_dict()["macro avg"]
theirs = classification_report(y_test, predicted, output_dict=True)["macro avg"]
assert abs(ours["f1-score"] - theirs["f1-score"]) < 1e-6

# %%
matrix = kx.metrics.ConfusionMatrix(num_classes=10)
matrix.update_state(y_test, model.predict(x_test, verbose=0))
counts = np.asarray(matrix.result())
np.testing.assert_array_equal(counts, confusion_matrix(y_test, predicted))
kx.plot.plot_confusion_matrix(
    counts, title="softmax regression on digits (test set)"
)

# %% [markdown]
# ## Why not `keras.metrics.F1Score`?
#
# Keras' own `F1Score` expects one-hot labels. Given sparse labels of shape `(N, 1)`, the
# usual format for `sparse_categorical_crossentropy`, it broadcasts them against the `(N, C)`
# predictions and returns a wrong number, without an error. kerasext's reads them as class ids:

# %%
probabilities = model.predict(x_test, verbose=0)
sparse_labels = y_test[:, None]
keras_f1 = keras.metrics.F1Score(average="macro")
keras_f1.update_state(sparse_labels.astype("float32"), probabilities)
kerasext_f1 = kx.metrics.F1Score(num_classes=10)
kerasext_f1.update_state(sparse_labels, probabilities)
print(
    f"scikit-learn           {f1_score(y_test, predicted, average='macro'):.4f}"
)
print(f"kx.metrics.F1Score     {float(kerasext_f1.result()):.4f}")
print(f"keras.metrics.F1Score  {float(keras_f1.result()):.4f}  (sparse labels)")

# %% [markdown]
# ## Binary classification: the threshold trades precision for recall
#
# For a binary model the prediction is positive when its probability exceeds `threshold`
# (0.5 by default). Raising it makes the model more careful: precision rises and recall falls.
# Here a logistic regression on the breast cancer data, scored at several thresholds by
# kerasext and by scikit-learn:

# %%
x, y = load_breast_cancer(return_X_y=True)
x_train, x_test, y_train, y_test = train_test_split(
    x, y, test_size=0.4, stratify=y, random_state=0
)
scaler = StandardScaler().fit(x_train)
x_train, x_test = (
    scaler.transform(a).astype("float32") for a in (x_train, x_test)
)
binary = kx.models.LogisticRegression()
binary.compile(
    optimizer=keras.optimizers.Adam(0.01), loss="binary_crossentropy"
)
binary.fit(
    x_train, y_train, epochs=5 if QUICK else 20, batch_size=32, verbose=0
)
scores = binary.predict(x_test, verbose=0)[:, 0]

thresholds = np.linspace(0.05, 0.95, 19)
curves = {"precision": [], "recall": []}
for threshold in thresholds:
    for name, metric_class, reference in (
        ("precision", kx.metrics.Precision, precision_score),
        ("recall", kx.metrics.Recall, recall_score),
    ):
        metric = metric_class(threshold=threshold)
        metric.update_state(y_test, scores)
        assert (
            abs(float(metric.result()) - reference(y_test, scores > threshold))
            < 1e-6
        )
        curves[name].append(float(metric.result()))

fig = Figure(figsize=(6, 3.5), layout="constrained")
axis = fig.subplots()
for name, values in curves.items():
    axis.plot(thresholds, values, marker=".", label=name)
axis.set_xlabel("threshold")
axis.set_ylabel("score on the test set")
axis.set_title("kx.metrics.Precision / Recall(threshold=...)")
axis.grid(alpha=0.3)
axis.legend()
fig

# %% [markdown]
# The same metrics take `from_logits=True` for a model without a final sigmoid, `labels=` to
# score some classes only, and `ignore_class=` to skip padding in sequence labelling: see the
# [metrics guide](../metrics.md) and the [reference](../reference/metrics.md).
#
# Next: [overfitting and early stopping](03_overfitting.md).
