"""CrossValidated tuners: each trial's score is the mean of its k held-out fold scores."""

import keras
import keras_tuner as kt
import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.model_selection import StratifiedKFold

import kerasext as kx
from kerasext._compat import set_random_seed
from kerasext.tuning.cross_validated import CrossValidated
from tests.test_model_selection import (
    RecordingModel,
    check_no_held_out_sample_reaches_fit,
    indexed_data,
)


def _digits(n=180):
    x, y = load_digits(return_X_y=True)
    return (x[:n] / 16.0).astype("float32"), y[:n]


def _build(hp):
    model = keras.Sequential(
        [
            keras.Input((64,)),
            keras.layers.Dense(hp.Int("units", 8, 24, step=8), activation="relu"),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(
        keras.optimizers.Adam(hp.Choice("learning_rate", [0.01, 0.003])),
        "sparse_categorical_crossentropy",
        metrics=["accuracy"],
        jit_compile=False,
    )
    return model


class CVRandomSearch(CrossValidated, kt.RandomSearch):
    pass


def test_random_search_on_digits_scores_each_trial_by_its_fold_mean(tmp_path):
    x, y = _digits(150)
    folds = 3
    tuner = CVRandomSearch(
        _build, objective="val_accuracy", max_trials=3, cv=folds, seed=4,
        directory=tmp_path, project_name="digits",
    )
    tuner.search(x, y, epochs=2, batch_size=32)

    trials = list(tuner.oracle.trials.values())
    assert len(trials) == 3
    for trial in trials:
        assert trial.status == "COMPLETED", trial.message
        fold_scores = [
            trial.metrics.get_last_value(f"val_accuracy_fold_{k}") for k in range(folds)
        ]
        assert None not in fold_scores
        assert not trial.metrics.exists(f"val_accuracy_fold_{folds}")
        assert trial.score == pytest.approx(np.mean(fold_scores), abs=1e-6)
        assert trial.metrics.get_last_value("val_accuracy_std") == pytest.approx(
            np.std(fold_scores), abs=1e-6
        )
        result = tuner.get_cross_validation_result(trial)
        assert [s["accuracy"] for s in result.fold_scores] == pytest.approx(fold_scores)
        assert [len(h["loss"]) for h in result.histories] == [2] * folds

    # The best trial's fold scores, redone by hand: the same scikit-learn folds
    # (StratifiedKFold shuffled with the oracle's seed) and the same per-fold seeds.
    best = tuner.oracle.get_best_trials(1)[0]
    seed = tuner.oracle.seed
    splits = StratifiedKFold(folds, shuffle=True, random_state=seed).split(x, y)
    for fold, (train, test) in enumerate(splits):
        set_random_seed(seed + fold)
        model = _build(best.hyperparameters)
        model.fit(x[train], y[train], epochs=2, batch_size=32, verbose=0)
        held_out = model.evaluate(x[test], y[test], batch_size=32, verbose=0, return_dict=True)
        assert best.metrics.get_last_value(f"val_accuracy_fold_{fold}") == pytest.approx(
            held_out["accuracy"], abs=1e-6
        )
    assert best.score > 0.3  # far above chance (0.1) after two epochs

    model = tuner.get_best_models(1)[0]  # fold 0's model
    assert model.evaluate(x, y, verbose=0, return_dict=True)["accuracy"] > 0.3


@pytest.mark.slow
def test_hyperband_trains_each_fold_for_its_budget(tmp_path):
    x, y = _digits(120)
    tuner = CrossValidated.wrap(kt.Hyperband)(
        _build, objective="val_loss", max_epochs=2, factor=2, cv=2, cv_seed=0,
        directory=tmp_path, project_name="hyperband",
    )
    tuner.search(x, y, batch_size=32)
    trials = list(tuner.oracle.trials.values())
    assert trials and all(t.status == "COMPLETED" for t in trials), [t.message for t in trials]
    promoted = [t for t in trials if "tuner/trial_id" in t.hyperparameters.values]
    assert promoted, "Hyperband promoted no trial"
    for trial in trials:
        values = trial.hyperparameters.values
        result = tuner.get_cross_validation_result(trial)
        # A promoted trial continues each fold from its past trial's fold weights.
        epochs = values["tuner/epochs"] - values["tuner/initial_epoch"]
        assert [len(h["loss"]) for h in result.histories] == [epochs] * 2
        losses = [trial.metrics.get_last_value(f"val_loss_fold_{k}") for k in range(2)]
        assert trial.score == pytest.approx(np.mean(losses), abs=1e-6)


def test_wrap_makes_a_cached_cross_validated_subclass():
    wrapped = CrossValidated.wrap(kt.BayesianOptimization)
    assert wrapped is CrossValidated.wrap(kt.BayesianOptimization)
    assert wrapped.__name__ == "CrossValidatedBayesianOptimization"
    assert issubclass(wrapped, CrossValidated) and issubclass(wrapped, kt.BayesianOptimization)
    assert CrossValidated.wrap(wrapped) is wrapped
    with pytest.raises(ValueError, match=r"Expected a keras_tuner.Tuner subclass"):
        CrossValidated.wrap(dict)


def test_bad_configuration_is_refused(tmp_path):
    with pytest.raises(TypeError, match=r"must come before the tuner class"):

        class WrongOrder(kt.RandomSearch, CrossValidated):
            pass

    with pytest.raises(ValueError, match=r"Invalid `executions_per_trial`"):
        CVRandomSearch(_build, objective="val_accuracy", max_trials=1, executions_per_trial=2,
                       directory=tmp_path)
    with pytest.raises(ValueError, match=r"Invalid `cv` argument value.*cv=1"):
        CVRandomSearch(_build, objective="val_accuracy", max_trials=1, cv=1, directory=tmp_path)
    with pytest.raises(ValueError, match=r"Invalid `cv_seed`"):
        CVRandomSearch(_build, objective="val_accuracy", max_trials=1, cv_seed="0",
                       directory=tmp_path)


def test_bad_data_or_model_stops_the_search_at_once(tmp_path):
    x, y = _digits(40)
    tuner = CVRandomSearch(_build, objective="val_accuracy", max_trials=3, cv=50,
                           directory=tmp_path, project_name="too_many_folds")
    with pytest.raises(kt.errors.FatalValueError, match=r"cv=50 folds from 40 samples"):
        tuner.search(x, y, epochs=1)

    rare = np.array([0] * 39 + [1])
    tuner = CVRandomSearch(_build, objective="val_accuracy", max_trials=3, cv=2,
                           directory=tmp_path, project_name="rare_class")
    with pytest.raises(kt.errors.FatalValueError, match=r"Cannot stratify cv=2 folds"):
        tuner.search(x, rare, epochs=1)

    def uncompiled(hp):
        return keras.Sequential([keras.Input((64,)), keras.layers.Dense(10)])

    tuner = CVRandomSearch(uncompiled, objective="val_accuracy", max_trials=3, cv=2,
                           directory=tmp_path, project_name="uncompiled")
    with pytest.raises(kt.errors.FatalValueError, match=r"hypermodel returned an uncompiled"):
        tuner.search(x, y, epochs=1)


def test_missing_objective_names_the_reported_metrics(tmp_path):
    x, y = _digits(40)
    policies = []

    def build(hp):
        policies.append(keras.config.dtype_policy().name)
        return _build(hp)

    keras.config.set_dtype_policy("mixed_bfloat16")  # kept through the tuner's clear_session
    tuner = CVRandomSearch(build, objective=kt.Objective("val_f1", "max"), max_trials=1, cv=2,
                           directory=tmp_path, project_name="objective")
    with pytest.raises(kt.errors.FatalValueError, match=r"'val_f1' is not among.*val_accuracy"):
        tuner.search(x, y, epochs=1)
    # The search stopped after fold 0 (the objective is checked on the first fold).
    assert policies and set(policies) == {"mixed_bfloat16"}
    assert keras.config.dtype_policy().name == "mixed_bfloat16"


def _build_recording(hp):
    model = RecordingModel(
        [keras.Input((3,)), keras.layers.Dense(hp.Int("units", 2, 32, step=2), activation="relu"),
         keras.layers.Dense(3, activation="softmax")],
        name="recording",
    )
    model.compile(keras.optimizers.SGD(hp.Choice("learning_rate", [0.1, 0.03, 0.01, 0.003])),
                  "sparse_categorical_crossentropy", metrics=["accuracy"], jit_compile=False)
    return model


def _search_recording(directory, **kwargs):
    x, y = indexed_data(24)
    RecordingModel.calls = []
    tuner = CVRandomSearch(_build_recording, objective="val_accuracy", max_trials=2, cv=2,
                           directory=directory, **kwargs)
    tuner.search(x, y, epochs=2, batch_size=8, verbose=0)
    trials = sorted(tuner.oracle.trials.values(), key=lambda t: t.trial_id)
    assert [t.status for t in trials] == ["COMPLETED"] * 2, [t.message for t in trials]
    return tuner, trials, list(RecordingModel.calls)


@pytest.mark.cross_backend
def test_seed_zero_is_a_seed_and_no_held_out_sample_reaches_fit(tmp_path):
    _, y = indexed_data(24)
    tuner, trials, calls = _search_recording(tmp_path / "a", seed=0, validation_fraction=0.25)
    # keras-tuner reads seed=0 as "draw a random seed"; a CrossValidated tuner keeps 0.
    assert tuner.oracle.seed == 0 and tuner.fold_seed == 0
    splits = list(StratifiedKFold(2, shuffle=True, random_state=0).split(np.zeros(24), y))
    starts = [index for index, call in enumerate(calls) if call[0] == "fit"]
    assert len(starts) == 4  # two trials of two folds
    for trial in range(2):
        check_no_held_out_sample_reaches_fit(
            calls[starts[2 * trial]:(starts + [len(calls)])[2 * trial + 2]], y, splits, 0.25,
            seed=0,
        )
    # The same seed repeats the search: the same values, the same scores.
    _, again, _ = _search_recording(tmp_path / "b", seed=0, validation_fraction=0.25)
    assert [t.hyperparameters.values for t in again] == [t.hyperparameters.values for t in trials]
    assert [t.score for t in again] == pytest.approx([t.score for t in trials], abs=1e-6)


class _RecordsEarlyStopping(kx.tuning.HyperLogisticRegression):
    stoppers = []

    def _early_stopping_callback(self, tuner):
        stopper = super()._early_stopping_callback(tuner)
        type(self).stoppers.append(stopper)
        return stopper


@pytest.mark.cross_backend
def test_hypermodels_see_the_tuner_objective_direction_and_early_stopping(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(24, 4)).astype("float32")
    y = np.arange(24) % 3
    hypermodel = _RecordsEarlyStopping(4, num_classes=3, fixed={"batch_size": 8})
    # An F-score minimized: the HyperModel refuses it, as under any keras-tuner tuner.
    tuner = CVRandomSearch(hypermodel, objective=kt.Objective("val_f1_score", "min"),
                           max_trials=1, cv=2, directory=tmp_path, project_name="wrong")
    with pytest.raises(kt.errors.FatalValueError, match=r"'val_f1_score' has direction 'min'"):
        tuner.search(x, y, epochs=1, verbose=0)

    _RecordsEarlyStopping.stoppers = []
    tuner = CVRandomSearch(hypermodel, objective=hypermodel.objective("val_f1_score"),
                           max_trials=1, cv=2, validation_fraction=0.25, seed=1,
                           directory=tmp_path, project_name="right")
    tuner.search(x, y, epochs=2, verbose=0)
    assert len(_RecordsEarlyStopping.stoppers) == 2  # one per fold
    for stopper in _RecordsEarlyStopping.stoppers:
        # Early stopping on the objective, measured on the part carved from the training part.
        assert (stopper.monitor, stopper.mode) == ("val_f1_score", "max")
        assert stopper.best_epoch is not None
