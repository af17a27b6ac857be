"""CrossValidated: any keras-tuner tuner, with every trial scored by k-fold cross-validation."""

import functools
import inspect
import json
import os

import keras
import keras_tuner
import numpy as np

from kerasext import _compat, model_selection
from kerasext import _validation as v

# Positional arguments of `search(...)` follow `keras.Model.fit`'s order.
_FIT_PARAMETERS = [
    name for name in inspect.signature(keras.Model.fit).parameters if name != "self"
]
_RESULT_FILENAME = "cross_validation.json"


class _SeedZero(int):
    """The integer 0, as a tuner `seed` that keras-tuner keeps.

    keras-tuner's oracles take `seed or random.randint(1, 10000)`, so a plain
    `seed=0` means "a random seed". This 0 is truthy and otherwise the int 0:
    the oracle keeps it, and draws from it as from 0 (sums give plain ints).
    """

    def __new__(cls, value=0):
        return super().__new__(cls, 0)

    def __bool__(self):
        return True


def _fatal(error):
    """Configuration errors stop the search at once instead of failing trial after trial."""
    return keras_tuner.errors.FatalValueError(str(error))


class CrossValidated:
    """Mixin that scores each keras-tuner trial by k-fold cross-validation.

    Put it before any `keras_tuner.Tuner` subclass (`RandomSearch`,
    `BayesianOptimization`, `Hyperband`, `GridSearch`, or your own), or let
    `CrossValidated.wrap(tuner_class)` do it. `search(x, y, **fit_kwargs)`
    then runs, for each trial, `kerasext.model_selection`'s fold loop: for fold
    `k` a fresh model from the hypermodel (with the tuner's `optimizer` /
    `loss` / `metrics` overrides), seeded with
    `keras.utils.set_random_seed(cv_seed + k)`, trained with
    `hypermodel.fit(hp, model, x_train, y_train, **fit_kwargs)` and evaluated,
    once, on the held-out part. No held-out sample reaches `fit`: the
    validation data it gets, if any (for the HyperModels' early stopping on
    the objective), comes from the training part (`validation_fraction`, or
    `validation_split` given to `search`) or from `validation_data` given to
    `search`. The tuner reaches the hypermodel's `fit` through keras-tuner's
    own callback, so kerasext HyperModels check the objective's direction and
    early-stop on it as under any tuner.

    Every trial uses the same folds. The trial reports, for each metric `m`
    of `model.evaluate`:

    - `val_m`: the mean over the folds of the held-out value (the trial's
      score: use `objective="val_accuracy"`, `"val_loss"`, ...);
    - `val_m_fold_k`: the held-out value of fold `k`;
    - `val_m_std`: their standard deviation (`ddof=0`);
    - `m`: the mean over the folds of the last training epoch's value.

    With no `objective`, the trial's objective is the mean held-out loss.
    `get_cross_validation_result(trial)` gives the trial's
    `CrossValidationResult` (per-fold histories, for
    `kerasext.plot.plot_cross_validation`). Each fold's final weights are
    saved in the trial directory; Hyperband continues each fold of a
    promoted trial from that fold's weights. `get_best_models()` returns the
    model of fold 0 of the best trials: for a final model, retrain on all
    the data with `get_best_hyperparameters()`.

    Args:
        *args: the tuner's positional arguments.
        cv: number of folds (`StratifiedKFold` for class labels, else
            `KFold`, shuffled; see `kerasext.model_selection.cross_validate`
            for the rule), a scikit-learn splitter, or a list of
            `(train_indices, test_indices)` pairs. Defaults to `5`.
        cv_seed: integer seed for the folds' shuffle and each fold's model
            initialization, or `None` to use the oracle's seed (the tuner's
            `seed` argument when given), so that every trial sees the same
            folds. Defaults to `None`.
        validation_fraction: float in (0, 1): the fraction of each fold's
            training part passed to `fit` as `validation_data` (stratified
            for class labels, as in
            `kerasext.model_selection.cross_validate`), e.g. `0.1` for the
            early stopping of kerasext HyperModels; or `None`: `fit` gets no
            validation data (their early stopping then does nothing).
            Defaults to `None`.
        **kwargs: the tuner's keyword arguments. `executions_per_trial` must
            stay 1 (repeat the folds with
            `cv=sklearn.model_selection.RepeatedKFold(...)` instead). The
            tuner's `seed` is kept as given: unlike keras-tuner, which draws a
            random seed for `seed=0`, a CrossValidated tuner keeps 0 as the
            seed, so every integer seed repeats its search.

    Example:

    ```python
    import keras
    import keras_tuner as kt
    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 4)).astype("float32")
    y = (x[:, 0] > 0).astype("int32")

    def build(hp):
        model = keras.Sequential([
            keras.Input((4,)),
            keras.layers.Dense(hp.Int("units", 2, 8, step=2), activation="relu"),
            keras.layers.Dense(1, activation="sigmoid"),
        ])
        model.compile("adam", "binary_crossentropy", metrics=["accuracy"])
        return model

    class CVRandomSearch(kx.tuning.CrossValidated, kt.RandomSearch):
        pass

    tuner = CVRandomSearch(build, objective="val_accuracy", max_trials=2, cv=2,
                           seed=1, directory="cv_search", overwrite=True)
    tuner.search(x, y, epochs=1, batch_size=16)
    trial = tuner.oracle.get_best_trials(1)[0]
    folds = [trial.metrics.get_last_value(f"val_accuracy_fold_{k}") for k in range(2)]
    assert abs(trial.score - np.mean(folds)) < 1e-6
    ```
    """

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        mro = cls.__mro__
        if keras_tuner.Tuner in mro and mro.index(CrossValidated) > mro.index(keras_tuner.Tuner):
            raise TypeError(
                f"{cls.__name__}: CrossValidated must come before the tuner class in the "
                "bases, e.g. `class CVRandomSearch(CrossValidated, kt.RandomSearch)`, so that "
                "its `run_trial` is the one used."
            )

    def __init__(self, *args, cv=5, cv_seed=None, validation_fraction=None, **kwargs):
        if not isinstance(self, keras_tuner.Tuner):
            raise TypeError(
                f"{type(self).__name__}: CrossValidated is a mixin for keras_tuner.Tuner "
                "subclasses, e.g. `class CVRandomSearch(CrossValidated, kt.RandomSearch)`, "
                "or `CrossValidated.wrap(kt.RandomSearch)`."
            )
        if kwargs.get("executions_per_trial", 1) != 1:
            raise ValueError(
                "Invalid `executions_per_trial` argument value for a CrossValidated tuner. "
                "Expected 1 (each trial already trains one model per fold; repeat the folds "
                "with cv=sklearn.model_selection.RepeatedKFold(...)). "
                f"Received: executions_per_trial={kwargs['executions_per_trial']}"
            )
        v.check_number("cv_seed", cv_seed, integer=True, allow_none=True)
        self.cv = self._check_cv(cv)
        self.cv_seed = cv_seed
        self.validation_fraction = model_selection.check_validation_fraction(
            validation_fraction
        )
        seed = kwargs.get("seed")
        if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool) and seed == 0:
            kwargs["seed"] = _SeedZero()
        super().__init__(*args, **kwargs)
        if self.hypermodel is None:
            raise ValueError(
                "A CrossValidated tuner needs a `hypermodel` (a HyperModel or a function "
                "`build(hp)` returning a compiled keras.Model). Received: hypermodel=None"
            )

    @staticmethod
    def _check_cv(cv):
        if isinstance(cv, (int, np.integer)) and not isinstance(cv, bool):
            if cv < 2:
                raise ValueError(
                    "Invalid `cv` argument value. Expected an integer >= 2, a scikit-learn "
                    f"splitter or a list of (train, test) index pairs. Received: cv={cv}"
                )
            return int(cv)
        if hasattr(cv, "split"):
            return cv
        if hasattr(cv, "__iter__") and not isinstance(cv, (str, bytes, dict)):
            # Materialised: every trial must see the same folds, and a generator runs once.
            return [(np.asarray(train), np.asarray(test)) for train, test in cv]
        raise ValueError(
            "Invalid `cv` argument value. Expected an integer >= 2, a scikit-learn splitter "
            f"(an object with `split(x, y)`) or a list of (train, test) index pairs. "
            f"Received: cv={cv!r}"
        )

    @classmethod
    def wrap(cls, tuner_class):
        """Returns `tuner_class` made cross-validated (a subclass with this mixin first).

        Args:
            tuner_class: a `keras_tuner.Tuner` subclass, e.g. `kt.Hyperband`.

        Returns:
            The class `CrossValidated<Name>`; the same class for the same
            argument.
        """
        return _wrap(tuner_class)

    @property
    def fold_seed(self):
        """The seed of the folds' shuffle and of fold `k`'s model (`fold_seed + k`)."""
        return int(self.cv_seed if self.cv_seed is not None else self.oracle.seed)

    def _build_hypermodel(self, hp):  # keras-tuner's hook, see kerasext._compat.BUILD_HYPERMODEL
        # `_try_build` clears the Keras session, which resets the global dtype policy:
        # restore the one in force when the trial started (mixed precision).
        policy = getattr(self, "_trial_dtype_policy", None)
        if policy is not None:
            keras.config.set_dtype_policy(policy)
        return _compat.build_hypermodel(CrossValidated, self, hp)

    def _fold_checkpoint_fname(self, trial_id, fold):
        return os.path.join(self.get_trial_dir(trial_id), f"checkpoint_fold_{fold}.weights.h5")

    def get_cross_validation_result(self, trial):
        """The `CrossValidationResult` of a trial (a `Trial` or its id), read from its directory."""
        trial_id = getattr(trial, "trial_id", trial)
        path = os.path.join(self.get_trial_dir(trial_id), _RESULT_FILENAME)
        if not os.path.exists(path):
            raise ValueError(f"Trial {trial_id!r} has no cross-validation result at {path}.")
        with open(path) as file:
            return model_selection.CrossValidationResult.from_dict(json.load(file))

    def _fit_arguments(self, args, kwargs):
        if len(args) > len(_FIT_PARAMETERS):
            raise _fatal(f"search() received {len(args)} positional arguments; fit takes "
                         f"at most {len(_FIT_PARAMETERS)}.")
        fit_kwargs = dict(kwargs)
        for name, value in zip(_FIT_PARAMETERS, args):
            if name in fit_kwargs:
                raise _fatal(f"search() received `{name}` both by position and by name.")
            fit_kwargs[name] = value
        return fit_kwargs

    def run_trial(self, trial, *args, **kwargs):
        """Trains and evaluates one model per fold; returns the trial's metrics dict."""
        hp = trial.hyperparameters
        fit_kwargs = self._fit_arguments(args, kwargs)
        x, y = fit_kwargs.pop("x", None), fit_kwargs.pop("y", None)
        if x is None:
            raise _fatal("A CrossValidated tuner needs the data to split: search(x, y, ...).")
        if "tuner/epochs" in hp.values:  # Hyperband's budget for this trial
            fit_kwargs["epochs"] = hp.values["tuner/epochs"]
            fit_kwargs["initial_epoch"] = hp.values["tuner/initial_epoch"]
        past_trial_id = hp.values.get("tuner/trial_id")
        seed = self.fold_seed
        self._trial_dtype_policy = keras.config.dtype_policy()
        try:
            x, y, n_samples = model_selection.prepare_data(x, y)
            splits = model_selection.make_splits(self.cv, x, y, n_samples, seed=seed)
        except ValueError as error:
            raise _fatal(error) from error

        def build_fold_model(fold):
            # `_try_build` clears the session, builds under the tuner's strategy and
            # applies its compile overrides and size limit.
            model = _compat.try_build(self, hp)
            if past_trial_id is not None:
                model.load_weights(self._fold_checkpoint_fname(past_trial_id, fold))
            return model

        def fit_fold(fold, model, x_train, y_train, **fold_kwargs):
            callbacks = fold_kwargs["callbacks"]
            _compat.configure_tensorboard_dir(self, callbacks, trial, fold)
            # keras-tuner's own callback: HyperModels find the tuner through it.
            callbacks.append(_compat.tuner_callback_class()(self, trial))
            return self.hypermodel.fit(hp, model, x_train, y_train, **fold_kwargs)

        def on_fold_end(fold, model, history, scores):
            if fold == 0:  # a missing objective stops the search before the other folds run
                self._check_objective(
                    self._trial_metrics_from([getattr(history, "history", None) or {}], [scores])
                )
            model.save_weights(self._fold_checkpoint_fname(trial.trial_id, fold))
            if fold == 0:
                # What `load_model` / `get_best_models` and Hyperband's own loading read.
                model.save_weights(_compat.checkpoint_fname(self, trial.trial_id))
                with open(_compat.build_config_fname(self, trial.trial_id), "w") as file:
                    json.dump(model.get_build_config(), file)

        try:
            result = model_selection.run_folds(
                build_fold_model,
                x,
                y,
                splits,
                fit_kwargs=fit_kwargs,
                seed=seed,
                fit_fold=fit_fold,
                on_fold_end=on_fold_end,
                release_memory=False,
                validation_fraction=self.validation_fraction,
            )
        except ValueError as error:
            if any(
                name in str(error)
                for name in ("`build_model`", "`fit_kwargs`", "validation_fraction")
            ):
                raise _fatal(str(error).replace("`build_model`", "the hypermodel")) from error
            raise
        with open(os.path.join(self.get_trial_dir(trial.trial_id), _RESULT_FILENAME), "w") as f:
            json.dump(result.to_dict(), f)
        return self._trial_metrics(result)

    def _trial_metrics(self, result):
        metrics = self._trial_metrics_from(result.histories, result.fold_scores)
        self._check_objective(metrics)
        return metrics

    def _trial_metrics_from(self, histories, fold_scores):
        result = model_selection.CrossValidationResult(histories, fold_scores, splits=[])
        metrics = {}
        for name in result.metric_names:
            metrics[f"val_{name}"] = result.mean[name]
            metrics[f"val_{name}_std"] = result.std[name]
            for fold, scores in enumerate(result.fold_scores):
                metrics[f"val_{name}_fold_{fold}"] = scores[name]
        training_names = [
            key
            for key in (result.histories[0] if result.histories else {})
            if not key.startswith("val_") and all(h.get(key) for h in result.histories)
        ]
        for key in training_names:
            metrics.setdefault(key, float(np.mean([h[key][-1] for h in result.histories])))
        objective = self.oracle.objective
        if objective.name == "default_objective" and "val_loss" in metrics:
            metrics[objective.name] = metrics["val_loss"]
        return metrics

    def _check_objective(self, metrics):
        objective = self.oracle.objective
        if not objective.has_value(metrics):
            raise keras_tuner.errors.FatalValueError(
                f"The objective {objective.name!r} is not among the cross-validated metrics "
                f"{sorted(k for k in metrics if '_fold_' not in k)}. Held-out scores are "
                "reported as 'val_<metric>' (e.g. objective='val_accuracy')."
            )


@functools.cache
def _wrap(tuner_class):
    if not (isinstance(tuner_class, type) and issubclass(tuner_class, keras_tuner.Tuner)):
        raise ValueError(
            "Invalid `tuner_class` argument value. Expected a keras_tuner.Tuner subclass, "
            f"e.g. kt.RandomSearch. Received: tuner_class={tuner_class!r}"
        )
    if issubclass(tuner_class, CrossValidated):
        return tuner_class
    return type(
        f"CrossValidated{tuner_class.__name__}",
        (CrossValidated, tuner_class),
        {
            "__module__": __name__,
            "__doc__": f"`{tuner_class.__name__}` with each trial scored by k-fold "
            "cross-validation (see `kerasext.tuning.CrossValidated`).",
        },
    )
