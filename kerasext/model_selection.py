"""kerasext.model_selection: k-fold cross-validation of Keras models.

`cross_validate` trains one fresh model per fold of a scikit-learn splitter and
evaluates it on the held-out part. The fold loop itself lives in
`run_folds`, which `kerasext.tuning.CrossValidated` reuses so that a
cross-validated tuner trial and `cross_validate` score a model the same way.
"""

import copy
import gc
import math

import keras
import numpy as np
from sklearn import model_selection as sk_model_selection

from kerasext import _compat
from kerasext._memory import SessionReleaser

__all__ = ["cross_validate", "CrossValidationResult"]

# `fit` arguments that `run_folds` sets per fold; callers may not pass them.
_PER_FOLD_ARGUMENTS = ("x", "y")


class CrossValidationResult:
    """What `cross_validate` returns: per-fold histories and held-out scores.

    Printing it shows one row per fold, then the mean and standard deviation of
    every metric over the folds.

    Args:
        histories: list of `History.history` dicts, one per fold (what
            `kerasext.plot.plot_cross_validation` reads).
        fold_scores: list of dicts, one per fold, mapping each metric name of
            `model.evaluate(..., return_dict=True)` to its value on that fold's
            held-out samples.
        splits: list of `(train_indices, test_indices)` NumPy arrays, one pair
            per fold.
        models: list of the trained models, one per fold, or `None`. Defaults
            to `None`.

    Attributes:
        mean: dict, metric name -> mean of the held-out values over the folds.
        std: dict, metric name -> standard deviation of the held-out values
            over the folds (population standard deviation, `ddof=0`, as
            scikit-learn's `cv_results_`).
        n_splits: the number of folds.

    Example:

    ```python
    result = kx.model_selection.CrossValidationResult(
        histories=[{"loss": [0.9, 0.5]}, {"loss": [1.0, 0.7]}],
        fold_scores=[{"loss": 0.6, "accuracy": 0.75}, {"loss": 0.8, "accuracy": 0.25}],
        splits=[([2, 3], [0, 1]), ([0, 1], [2, 3])],
    )
    assert result.mean == {"loss": 0.7, "accuracy": 0.5}
    assert abs(result.std["accuracy"] - 0.25) < 1e-12
    print(result)
    ```
    """

    def __init__(self, histories, fold_scores, splits, models=None):
        self.histories = [dict(history) for history in histories]
        self.fold_scores = [
            {name: float(value) for name, value in scores.items()} for scores in fold_scores
        ]
        self.splits = [(np.asarray(train), np.asarray(test)) for train, test in splits]
        self.models = models
        names = self.metric_names
        self.mean = {name: float(np.mean(self._values(name))) for name in names}
        self.std = {name: float(np.std(self._values(name))) for name in names}

    @property
    def n_splits(self):
        return len(self.fold_scores)

    @property
    def metric_names(self):
        """Metric names held-out values exist for in every fold, in evaluation order."""
        if not self.fold_scores:
            return []
        return [
            name
            for name in self.fold_scores[0]
            if all(name in scores for scores in self.fold_scores)
        ]

    def _values(self, name):
        return np.array([scores[name] for scores in self.fold_scores], dtype="float64")

    def to_dict(self):
        """Plain, JSON-serialisable content (without the models)."""
        return {
            "histories": [
                {key: [float(v) for v in values] for key, values in history.items()}
                for history in self.histories
            ],
            "fold_scores": self.fold_scores,
            "splits": [(train.tolist(), test.tolist()) for train, test in self.splits],
        }

    @classmethod
    def from_dict(cls, content):
        """Rebuilds a result from `to_dict()` output."""
        return cls(content["histories"], content["fold_scores"], content["splits"])

    def __str__(self):
        names = self.metric_names
        rows = [["fold", *names]]
        for fold, scores in enumerate(self.fold_scores):
            rows.append([str(fold), *(_format_number(scores[name]) for name in names)])
        rows.append(["mean", *(_format_number(self.mean[name]) for name in names)])
        rows.append(["std", *(_format_number(self.std[name]) for name in names)])
        widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
        lines = ["  ".join(cell.rjust(width) for cell, width in zip(row, widths)) for row in rows]
        lines.insert(1, "  ".join("-" * width for width in widths))
        lines.insert(len(lines) - 2, "  ".join("-" * width for width in widths))
        return "\n".join(lines)

    def __repr__(self):
        return (
            f"<CrossValidationResult: {self.n_splits} folds, held-out metrics>\n{self}"
        )


def _format_number(value):
    if math.isnan(value) or math.isinf(value):
        return str(value)
    if value == 0 or 1e-3 <= abs(value) < 1e6:
        return f"{value:.4f}"
    return f"{value:.3e}"


# --------------------------------------------------------------------------- data


def _is_structure(data):
    return isinstance(data, (dict, list, tuple))


def _leaves(data):
    if isinstance(data, dict):
        return [leaf for value in data.values() for leaf in _leaves(value)]
    if isinstance(data, (list, tuple)):
        return [leaf for value in data for leaf in _leaves(value)]
    return [data]


def _as_arrays(data, name):
    """Converts every leaf of `data` to a NumPy array; refuses datasets and generators."""
    if data is None:
        return None
    if isinstance(data, dict):
        return {key: _as_arrays(value, name) for key, value in data.items()}
    if isinstance(data, (list, tuple)):
        return type(data)(_as_arrays(value, name) for value in data)
    is_stream = (
        hasattr(data, "element_spec")  # tf.data.Dataset
        or hasattr(data, "__next__")  # generators and iterators
        or isinstance(data, keras.utils.PyDataset)
        # torch DataLoader and Dataset: they have a length, but np.asarray cannot index them
        or type(data).__module__.startswith("torch.utils.data")
    )
    if is_stream or (not hasattr(data, "__len__") and not hasattr(data, "shape")):
        raise ValueError(
            f"cross_validate needs `{name}` as arrays (a NumPy array, or a dict, list or "
            "tuple of arrays) so that each fold can be indexed; "
            f"received an object of type {type(data).__name__}. "
            "tf.data datasets, torch DataLoaders and generators cannot be split into folds."
        )
    array = np.asarray(data)
    if array.ndim == 0:
        raise ValueError(
            f"cross_validate needs `{name}` to have one row per sample; received a scalar."
        )
    return array


def _check_targets(y):
    """Refuses string targets: Keras losses compute on numbers."""
    for leaf in _leaves(y) if y is not None else []:
        is_text = leaf.dtype.kind in "US" or (
            leaf.dtype.kind == "O" and leaf.size and isinstance(leaf.flat[0], (str, bytes))
        )
        if is_text:
            shown = np.unique(leaf.astype(str))
            raise ValueError(
                "Invalid `y` argument value. Expected numeric targets (Keras losses compute "
                "on numbers): encode string class labels first, e.g. "
                "`y = sklearn.preprocessing.LabelEncoder().fit_transform(y)` for a sparse "
                f"categorical loss. Received: y of dtype {leaf.dtype} with values "
                f"{shown[:5].tolist()}{' ...' if len(shown) > 5 else ''}"
            )


def prepare_data(x, y):
    """`(x, y, n_samples)`: arrays checked for folding (`cross_validate`, `CrossValidated`)."""
    x = _as_arrays(x, "x")
    y = _as_arrays(y, "y")
    _check_targets(y)
    return x, y, _num_samples(x, y)


def _labelled_leaves(x, y):
    for name, data in (("x", x), ("y", y)):
        if data is None:
            continue
        for index, leaf in enumerate(_leaves(data)):
            yield (name if not _is_structure(data) else f"{name}[{index}]"), leaf


def _num_samples(x, y):
    counts = {label: len(leaf) for label, leaf in _labelled_leaves(x, y)}
    if not counts:
        raise ValueError("cross_validate received no data: `x` is None.")
    if len(set(counts.values())) != 1:
        raise ValueError(
            "cross_validate needs the same number of samples in every array of `x` and "
            f"`y`; received {counts}."
        )
    n_samples = next(iter(counts.values()))
    if n_samples == 0:
        shapes = {label: tuple(np.shape(leaf)) for label, leaf in _labelled_leaves(x, y)}
        raise ValueError(
            "Invalid `x` argument value. Expected at least one sample per fold (one row per "
            f"sample). Received: empty data, shapes {shapes}"
        )
    return n_samples


def _take(data, indices):
    if data is None:
        return None
    if isinstance(data, dict):
        return {key: _take(value, indices) for key, value in data.items()}
    if isinstance(data, (list, tuple)):
        return type(data)(_take(value, indices) for value in data)
    return data[indices]


def classification_labels(y):
    """Labels to stratify on, or `None` when `y` does not look like class labels.

    The rule: a single array `y` of integer, boolean or string dtype with shape
    `(n,)` or `(n, 1)` holds class labels; so does a 2-D array with two or
    more columns of 0 / 1 values, each row summing to 1 (one-hot), whose
    class is the column of the 1. Anything else (float targets, multi-label
    rows, dicts or lists of arrays, no `y`) is not stratified.
    """
    if y is None or _is_structure(y):
        return None
    y = np.asarray(y)
    if y.ndim == 1 or (y.ndim == 2 and y.shape[1] == 1):
        if y.dtype.kind in "biuUS":
            return y.reshape(-1)
        return None
    if y.ndim == 2 and y.shape[1] >= 2 and y.dtype.kind in "biuf":
        is_binary = np.all((y == 0) | (y == 1))
        if is_binary and np.all(y.sum(axis=1) == 1):
            return np.argmax(y, axis=1)
    return None


# --------------------------------------------------------------------------- folds


def make_splits(cv, x, y, n_samples, seed=None):
    """The `(train_indices, test_indices)` pairs `cross_validate` uses, validated.

    Args:
        cv: integer number of folds (>= 2), a scikit-learn splitter (any object
            with `split(x, y)`), or an iterable of `(train, test)` index pairs.
        x: the inputs (arrays, or a dict / list of arrays).
        y: the targets, or `None`.
        n_samples: the number of samples in `x` and `y`.
        seed: integer seed for the shuffle of an integer `cv`, or `None`.

    Returns:
        A list of `(train_indices, test_indices)` pairs of integer arrays.
    """
    labels = classification_labels(y)
    if isinstance(cv, (int, np.integer)) and not isinstance(cv, bool):
        cv = int(cv)
        if cv < 2:
            raise ValueError(
                "Invalid `cv` argument value. Expected an integer >= 2, a scikit-learn "
                f"splitter or an iterable of (train, test) index pairs. Received: cv={cv}"
            )
        if cv > n_samples:
            raise ValueError(
                f"Cannot make cv={cv} folds from {n_samples} samples: every fold needs at "
                f"least one held-out sample. Use cv <= {n_samples}."
            )
        if labels is not None:
            classes, counts = np.unique(labels, return_counts=True)
            rare = counts < cv
            if np.any(rare):
                listed = ", ".join(
                    f"class {label!r} has {count}"
                    for label, count in zip(classes[rare][:5].tolist(), counts[rare][:5].tolist())
                )
                raise ValueError(
                    f"Cannot stratify cv={cv} folds: every class needs at least {cv} samples "
                    f"so that it appears in each held-out fold, but {listed} "
                    f"sample(s). Use cv <= {int(counts.min())}, or pass "
                    f"cv=sklearn.model_selection.KFold({cv}, shuffle=True) to split "
                    "without stratification."
                )
            splitter = sk_model_selection.StratifiedKFold(cv, shuffle=True, random_state=seed)
        else:
            splitter = sk_model_selection.KFold(cv, shuffle=True, random_state=seed)
        pairs = list(splitter.split(np.zeros((n_samples, 1)), labels))
    elif hasattr(cv, "split"):
        split_x = x if isinstance(x, np.ndarray) else np.zeros((n_samples, 1))
        split_y = labels if labels is not None else (y if isinstance(y, np.ndarray) else None)
        try:
            pairs = list(cv.split(split_x, split_y))
        except ValueError as error:
            raise ValueError(
                f"The `cv` splitter {cv!r} could not split the {n_samples} samples given: "
                f"{error}"
            ) from error
    elif hasattr(cv, "__iter__") and not isinstance(cv, (str, bytes, dict)):
        pairs = list(cv)
    else:
        raise ValueError(
            "Invalid `cv` argument value. Expected an integer >= 2, a scikit-learn splitter "
            f"(an object with `split(x, y)`) or an iterable of (train, test) index pairs. "
            f"Received: cv={cv!r}"
        )
    if not pairs:
        raise ValueError(f"The `cv` argument produced no folds. Received: cv={cv!r}")
    checked = []
    for fold, pair in enumerate(pairs):
        try:
            train, test = pair
        except (TypeError, ValueError) as error:
            raise ValueError(
                f"Fold {fold} of `cv` is not a (train_indices, test_indices) pair: {pair!r}"
            ) from error
        train = np.asarray(train, dtype="int64").reshape(-1)
        test = np.asarray(test, dtype="int64").reshape(-1)
        for part, indices in (("train", train), ("test", test)):
            if indices.size == 0:
                raise ValueError(f"Fold {fold} of `cv` has an empty {part} set.")
            if indices.min() < -n_samples or indices.max() >= n_samples:
                raise ValueError(
                    f"Fold {fold} of `cv` has {part} indices outside [0, {n_samples}): "
                    f"min {indices.min()}, max {indices.max()}."
                )
        checked.append((train, test))
    return checked


# --------------------------------------------------------------------------- the loop


def _check_model(model, fold):
    if not isinstance(model, keras.Model):
        raise ValueError(
            "`build_model` must return a keras.Model; for fold "
            f"{fold} it returned {model!r} of type {type(model).__name__}."
        )
    if not getattr(model, "compiled", False):
        raise ValueError(
            f"`build_model` returned an uncompiled model (fold {fold}): call "
            "`model.compile(optimizer=..., loss=..., metrics=[...])` inside `build_model`, "
            "so that every fold trains a freshly built and compiled model."
        )


def _fit_model(fold, model, x, y, **kwargs):
    return model.fit(x, y, **kwargs)


def check_validation_fraction(validation_fraction):
    """`validation_fraction` as a float in (0, 1), or `None`; a `ValueError` otherwise."""
    if validation_fraction is None:
        return None
    is_number = isinstance(validation_fraction, (float, np.floating))
    if not is_number or not 0.0 < validation_fraction < 1.0:
        raise ValueError(
            "Invalid `validation_fraction` argument value. Expected a float in (0, 1), the "
            "fraction of each fold's training part held back as `fit`'s validation data, "
            f"or None. Received: validation_fraction={validation_fraction!r}"
        )
    return float(validation_fraction)


def split_validation(train, labels, validation_fraction, seed):
    """Carves `(fit_indices, validation_indices)` out of a fold's training indices.

    Stratified on `labels` (class labels of every sample, or `None`), shuffled
    with `random_state=seed`, as scikit-learn's `validation_fraction`
    (`train_test_split(..., stratify=...)`); both parts keep the order of
    `train`.
    """
    stratify = None if labels is None else labels[train]
    try:
        _, validation_part = sk_model_selection.train_test_split(
            train, test_size=validation_fraction, stratify=stratify, random_state=seed
        )
    except ValueError as error:
        raise ValueError(
            f"Cannot hold back validation_fraction={validation_fraction} of a training part "
            f"of {len(train)} samples{' stratified by class' if labels is not None else ''}: "
            f"{error} Use a larger validation_fraction or fewer folds."
        ) from error
    held_back = np.isin(train, validation_part)
    return train[~held_back], train[held_back]


def _deepcopy_callbacks(callbacks):
    try:
        return copy.deepcopy(callbacks)
    except Exception as error:  # noqa: BLE001  (any failure means: cannot be reused per fold)
        raise ValueError(
            "Every callback must survive `copy.deepcopy`, since each fold trains with its own "
            f"copy; copying {callbacks!r} failed with {error!r}. Pass callbacks that were "
            "never attached to a model."
        ) from error


def run_folds(
    build_fold_model,
    x,
    y,
    splits,
    fit_kwargs=None,
    callbacks=None,
    return_models=False,
    seed=None,
    fit_fold=_fit_model,
    on_fold_end=None,
    release_memory=True,
    validation_fraction=None,
):
    """Trains and evaluates one model per fold; the loop under `cross_validate`.

    For fold `k`: releases memory (`keras.backend.clear_session()`, the
    earlier folds' traced graphs (see `kerasext._memory`) and garbage
    collection, unless `return_models` or not `release_memory`), calls
    `keras.utils.set_random_seed(seed + k)` when `seed` is given, builds
    `build_fold_model(k)`, fits it with `fit_fold(k, model, x_train, y_train,
    **kwargs)` and evaluates it, once, on the held-out part. No held-out
    sample reaches `fit`: its validation data, if any, comes from the
    training part (`validation_fraction`, or `validation_split` in
    `fit_kwargs`) or from `fit_kwargs["validation_data"]`.

    Args:
        build_fold_model: function of the fold index returning a compiled model.
        x: inputs, already converted by `_as_arrays`.
        y: targets, already converted by `_as_arrays`, or `None`.
        splits: list of `(train_indices, test_indices)` pairs.
        fit_kwargs: dict of extra `fit` arguments. Defaults to `None`.
        callbacks: list of callbacks, deep-copied for each fold. Defaults to `None`.
        return_models: keep the trained models. Defaults to `False`.
        seed: integer or `None`. Defaults to `None`.
        fit_fold: function `(fold, model, x, y, **kwargs) -> History`.
            Defaults to `model.fit(x, y, **kwargs)`.
        on_fold_end: optional function `(fold, model, history, scores)` called
            after each fold is evaluated.
        release_memory: clear the Keras session between folds (when models
            are not returned). Defaults to `True`.
        validation_fraction: float in (0, 1) or `None`: the fraction of each
            training part passed to `fit` as `validation_data` instead of
            being trained on (see `split_validation`). Defaults to `None`.

    Returns:
        A `CrossValidationResult`.
    """
    fit_kwargs = dict(fit_kwargs or {})
    for name in _PER_FOLD_ARGUMENTS:
        if name in fit_kwargs:
            raise ValueError(
                f"`fit_kwargs` may not contain {name!r}: cross_validate passes each fold's "
                f"{name} itself. Received fit_kwargs keys: {sorted(fit_kwargs)}"
            )
    n_samples = _num_samples(x, y)
    sample_weight = fit_kwargs.pop("sample_weight", None)
    if sample_weight is not None:
        sample_weight = np.asarray(sample_weight)
        if len(sample_weight) != n_samples:
            raise ValueError(
                f"`sample_weight` in `fit_kwargs` must have one weight per sample "
                f"({n_samples}); received {len(sample_weight)}."
            )
    fit_callbacks = list(fit_kwargs.pop("callbacks", None) or []) + list(callbacks or [])
    fit_kwargs.setdefault("verbose", 0)
    validation_fraction = check_validation_fraction(validation_fraction)
    if validation_fraction is not None and (
        fit_kwargs.get("validation_data") is not None or fit_kwargs.get("validation_split")
    ):
        raise ValueError(
            "Pass either `validation_fraction` or `validation_data` / `validation_split` in "
            f"`fit_kwargs`, not both. Received: validation_fraction={validation_fraction}, "
            f"fit_kwargs keys: {sorted(fit_kwargs)}"
        )
    labels = classification_labels(y) if validation_fraction is not None else None
    evaluate_kwargs = {"verbose": fit_kwargs["verbose"], "return_dict": True}
    if fit_kwargs.get("batch_size") is not None:
        evaluate_kwargs["batch_size"] = fit_kwargs["batch_size"]

    histories, fold_scores, models = [], [], []
    release = SessionReleaser()
    for fold, (train, test) in enumerate(splits):
        if release_memory and not return_models:
            release()
        if seed is not None:
            _compat.set_random_seed(int(seed) + fold)
        model = build_fold_model(fold)
        _check_model(model, fold)

        kwargs = dict(fit_kwargs)
        if validation_fraction is not None:
            train, validation = split_validation(
                train, labels, validation_fraction, None if seed is None else int(seed) + fold
            )
            kwargs["validation_data"] = (_take(x, validation), _take(y, validation)) + (
                () if sample_weight is None else (sample_weight[validation],)
            )
        x_train, y_train = _take(x, train), _take(y, train)
        x_test, y_test = _take(x, test), _take(y, test)
        kwargs["callbacks"] = _deepcopy_callbacks(fit_callbacks)
        eval_kwargs = dict(evaluate_kwargs)
        if sample_weight is not None:
            kwargs["sample_weight"] = sample_weight[train]
            eval_kwargs["sample_weight"] = sample_weight[test]

        history = fit_fold(fold, model, x_train, y_train, **kwargs)
        scores = model.evaluate(x_test, y_test, **eval_kwargs)
        if not isinstance(scores, dict):  # a model whose evaluate ignores return_dict
            scores = {"loss": scores}
        history_dict = dict(getattr(history, "history", None) or {})
        histories.append(history_dict)
        fold_scores.append({name: float(value) for name, value in scores.items()})
        if on_fold_end is not None:
            on_fold_end(fold, model, history, fold_scores[-1])
        if return_models:
            models.append(model)
        del model, history
    if release_memory and not return_models:
        release()
    else:
        gc.collect()
    return CrossValidationResult(
        histories, fold_scores, splits, models=models if return_models else None
    )


def cross_validate(
    build_model,
    x,
    y,
    cv=5,
    fit_kwargs=None,
    callbacks=None,
    return_models=False,
    seed=None,
    validation_fraction=None,
):
    """K-fold cross-validation of a Keras model: one fresh model per fold.

    For each fold, `build_model()` makes a new compiled model, which is trained
    on the fold's training part and evaluated (`model.evaluate`), once, on its
    held-out part. No held-out sample ever reaches `fit`. The folds come from
    scikit-learn:

    - `cv` an integer: `StratifiedKFold(cv, shuffle=True, random_state=seed)`
      when `y` holds class labels, else `KFold(cv, shuffle=True,
      random_state=seed)`. `y` holds class labels when it is one array of
      integer, boolean or string dtype shaped `(n,)` or `(n, 1)`, or a one-hot
      array (2-D, 0 / 1 values, one 1 per row). Float targets, multi-label
      rows and dicts or lists of targets are split with `KFold`; cast labels
      to integers, or pass a splitter, to choose otherwise.
    - `cv` a splitter (any object with `split(x, y)`, e.g.
      `sklearn.model_selection.TimeSeriesSplit(5)` or `RepeatedKFold`): its
      folds, as given (`y` is passed as class labels when it holds them).
    - `cv` an iterable of `(train_indices, test_indices)` pairs, e.g.
      `GroupKFold(3).split(x, y, groups)`.

    Reproducibility: with an integer `seed`, the folds are shuffled with
    `random_state=seed` and, before building the model of fold `k` (counted
    from 0), `keras.utils.set_random_seed(seed + k)` is called, so a
    hand-written loop doing the same gives the same weights, the same
    training order and the same scores.

    Validation data for `fit` (the `val_*` curves of each fold's history,
    for `kerasext.plot.plot_cross_validation` and for callbacks that monitor
    them, such as early stopping) comes from the training part, never from
    the held-out part, which would make the scores optimistic:
    `validation_fraction=0.1` holds back 10% of each training part, drawn
    with `sklearn.model_selection.train_test_split(train, test_size=0.1,
    stratify=<class labels of train, by the rule above>, random_state=seed +
    k)` (scikit-learn's `validation_fraction`; both parts keep the order of
    `train`). `fit_kwargs={"validation_split": 0.1}` instead takes the last
    10% of the training part, unshuffled (time series); `validation_data` in
    `fit_kwargs` is used as given.

    Between folds the Keras session is cleared and garbage collected
    (`keras.backend.clear_session()`), unless `return_models=True`; the
    global dtype policy (mixed precision) is kept.

    Args:
        build_model: function with no arguments returning a new, compiled
            `keras.Model`; or a compiled `keras.Model`, whose architecture and
            compile settings (never its weights) are copied for every fold
            (`keras.models.clone_model`, then `compile_from_config` with its
            `get_compile_config()`).
        x: inputs: a NumPy array (or anything `np.asarray` accepts), or a
            dict, list or tuple of arrays with one row per sample.
        y: targets: an array, a dict, list or tuple of arrays, or `None`.
        cv: number of folds, a scikit-learn splitter, or an iterable of
            `(train_indices, test_indices)` pairs. Defaults to `5`.
        fit_kwargs: dict of extra `model.fit` arguments (`epochs`,
            `batch_size`, `sample_weight` (one weight per sample: split with
            the folds), ...). `verbose` defaults to 0 and applies to
            `evaluate` too, as does `batch_size`. Defaults to `None`.
        callbacks: list of callbacks; each fold trains with its own
            `copy.deepcopy` of them. Defaults to `None`.
        return_models: keep the trained models in `result.models`. Defaults
            to `False`.
        seed: integer seed for the folds and each fold's model, or `None`.
            Defaults to `None`.
        validation_fraction: float in (0, 1): the fraction of each fold's
            training part passed to `fit` as `validation_data` rather than
            trained on; or `None` for none. Defaults to `None`.

    Returns:
        A `CrossValidationResult` with `histories` (one `History.history` dict
        per fold), `fold_scores` (one dict of held-out metrics per fold),
        `mean` and `std` (dicts over the folds), `splits` and, with
        `return_models=True`, `models`. It prints as a table.

    Example:

    ```python
    import keras
    from sklearn.datasets import load_breast_cancer

    x, y = load_breast_cancer(return_X_y=True)
    x = ((x - x.mean(0)) / x.std(0)).astype("float32")

    def build_model():
        model = kx.models.LogisticRegression()
        model.compile(keras.optimizers.Adam(0.05), "binary_crossentropy",
                      metrics=["accuracy"])
        return model

    result = kx.model_selection.cross_validate(
        build_model, x, y, cv=3, fit_kwargs={"epochs": 2}, seed=0,
        validation_fraction=0.1)
    print(result)  # one row per fold, then mean and std
    assert len(result.fold_scores) == 3 and result.mean["accuracy"] > 0.9
    assert "val_loss" in result.histories[0]  # from 10% of each training part
    ```
    """
    build_model = _model_builder(build_model)
    if seed is not None and (
        not isinstance(seed, (int, np.integer)) or isinstance(seed, bool)
    ):
        raise ValueError(
            f"Invalid `seed` argument value. Expected an integer or None. Received: seed={seed!r}"
        )
    if fit_kwargs is not None and not isinstance(fit_kwargs, dict):
        raise ValueError(
            "Invalid `fit_kwargs` argument value. Expected a dict of `model.fit` arguments "
            f"or None. Received: fit_kwargs={fit_kwargs!r}"
        )
    validation_fraction = check_validation_fraction(validation_fraction)
    x, y, n_samples = prepare_data(x, y)
    splits = make_splits(cv, x, y, n_samples, seed=seed)
    return run_folds(
        lambda fold: build_model(),
        x,
        y,
        splits,
        fit_kwargs=fit_kwargs,
        callbacks=callbacks,
        return_models=return_models,
        seed=seed,
        validation_fraction=validation_fraction,
    )


def _model_builder(build_model):
    """A function making each fold's model: `build_model`, or a clone of a compiled model."""
    if isinstance(build_model, keras.Model):
        if not getattr(build_model, "compiled", False):
            raise ValueError(
                "Invalid `build_model` argument value. Expected a function with no arguments "
                "returning a compiled keras.Model, or a compiled keras.Model to clone for "
                "every fold. Received: an uncompiled model "
                f"{type(build_model).__name__}(name={build_model.name!r}); call "
                "`model.compile(...)` first."
            )
        model = build_model
        compile_config = model.get_compile_config()

        def clone():
            try:
                copy_ = keras.models.clone_model(model)
                copy_.compile_from_config(compile_config)
            except Exception as error:  # noqa: BLE001  (any failure: the model cannot be cloned)
                raise ValueError(
                    f"cross_validate could not clone the model {model.name!r} for a fold "
                    f"({type(error).__name__}: {error}). Pass a function with no arguments "
                    "that builds and compiles a new model instead."
                ) from error
            return copy_

        return clone
    if not callable(build_model):
        raise ValueError(
            "Invalid `build_model` argument value. Expected a function with no arguments "
            "returning a compiled keras.Model, or a compiled keras.Model. "
            f"Received: build_model={build_model!r}"
        )
    return build_model
