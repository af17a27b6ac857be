"""cross_validate against the hand-written k-fold loop it replaces.

Breast cancer (569 samples, 30 features), `kx.models.LogisticRegression`,
scikit-learn's `StratifiedKFold`. Two setups do the same k trainings:

- the hand-written loop: `set_random_seed(seed + k)`, build, `fit`, `evaluate`
  (the held-out fold is never shown to `fit`);
- `kx.model_selection.cross_validate` (that, plus `clear_session()` and garbage
  collection between folds).

Their ratio is `cross_validate`'s own overhead. A second table
checks that its per-fold held-out accuracies equal the hand-written loop's.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.datasets import load_breast_cancer  # noqa: E402
from sklearn.model_selection import StratifiedKFold  # noqa: E402

import kerasext as kx  # noqa: E402
from benchmarks.timing import compare  # noqa: E402

SEED = 0


def _data():
    x, y = load_breast_cancer(return_X_y=True)
    return ((x - x.mean(0)) / x.std(0)).astype("float32"), y


def _build():
    model = kx.models.LogisticRegression()
    model.compile(keras.optimizers.Adam(0.05), "binary_crossentropy", metrics=["accuracy"])
    return model


def _hand_loop(x, y, folds, fit_kwargs):
    scores = []
    splits = StratifiedKFold(folds, shuffle=True, random_state=SEED).split(x, y)
    for fold, (train, test) in enumerate(splits):
        keras.utils.set_random_seed(SEED + fold)
        model = _build()
        model.fit(x[train], y[train], verbose=0, **fit_kwargs)
        scores.append(
            model.evaluate(x[test], y[test], batch_size=fit_kwargs["batch_size"], verbose=0,
                           return_dict=True)["accuracy"]
        )
    return scores


def run(quick=False):
    x, y = _data()
    folds = 3 if quick else 5
    fit_kwargs = {"epochs": 2 if quick else 10, "batch_size": 64}

    def cross_validate():
        return kx.model_selection.cross_validate(
            _build, x, y, cv=folds, fit_kwargs=fit_kwargs, seed=SEED
        )

    timing = compare(
        f"{folds}-fold cross-validation, breast cancer, LogisticRegression, "
        f"{fit_kwargs['epochs']} epochs",
        {
            "hand-written loop": lambda: _hand_loop(x, y, folds, fit_kwargs),
            "kx.model_selection.cross_validate": cross_validate,
        },
        repeats=2 if quick else 5,
    )

    result = cross_validate()
    by_hand = _hand_loop(x, y, folds, fit_kwargs)
    ours = [scores["accuracy"] for scores in result.fold_scores]
    agreement = "\n".join(
        [
            "### Held-out accuracy: cross_validate against the hand-written loop (same folds, "
            "same seeds)",
            "",
            "| fold | hand-written | cross_validate |",
            "|---|---|---|",
            *(f"| {k} | {a:.6f} | {b:.6f} |" for k, (a, b) in enumerate(zip(by_hand, ours))),
            f"| mean ± std | {np.mean(by_hand):.4f} ± {np.std(by_hand):.4f} | "
            f"{result.mean['accuracy']:.4f} ± {result.std['accuracy']:.4f} |",
            "",
            f"Largest difference: {np.max(np.abs(np.subtract(by_hand, ours))):.1e}.",
            "",
        ]
    )
    return [timing, agreement]
