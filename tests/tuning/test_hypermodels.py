"""Every model of kerasext.models has a HyperModel that builds across its space and tunes."""

import inspect
import warnings

import keras
import keras_tuner
import numpy as np
import pytest

import kerasext as kx
from tests.tuning._helpers import SMALL, random_values, tiny_cases

CASES = tiny_cases()
TUNERS = ("RandomSearch", "BayesianOptimization", "Hyperband", "GridSearch")


def test_every_public_model_has_a_hypermodel():
    models = {
        name for name, obj in inspect.getmembers(kx.models, inspect.isclass)
        if issubclass(obj, keras.Model) and name in kx.models.__all__
    }
    assert models, "kx.models exports no model"
    missing = sorted(m for m in models if f"Hyper{m}" not in kx.tuning.__all__)
    assert not missing, f"models without a HyperModel in kx.tuning: {missing}"
    assert models == set(CASES), "tiny_cases() must cover exactly the public models"


@pytest.mark.parametrize("name", sorted(CASES))
def test_builds_with_defaults_and_predicts(name):
    factory, x, _ = CASES[name]
    hypermodel = factory()
    model = hypermodel.build(keras_tuner.HyperParameters())
    assert isinstance(model, getattr(kx.models, name))
    assert model.built and model.optimizer is not None and model.count_params() > 0
    prediction = model.predict(x, verbose=0)
    assert np.all(np.isfinite(prediction))
    # keras-tuner's Hyperband calls build_from_config on the built model it gets back: a no-op
    # that keeps the weights, not Keras' "cannot be built automatically" warning.
    weights = [w.copy() for w in model.get_weights()]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.build_from_config(model.get_build_config())
    for before, after in zip(weights, model.get_weights()):
        np.testing.assert_array_equal(before, after)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(CASES))
def test_builds_with_50_random_samples_of_the_space(name):
    factory, _, _ = CASES[name]
    hypermodel = factory()
    seen = set()
    for seed in range(50):
        values = random_values(hypermodel, seed)
        hp = keras_tuner.HyperParameters()
        hp.values.update(values)
        model = hypermodel.build(hp)
        assert model.built, values
        seen.add(tuple(sorted(values.items())))
    assert len(seen) > 40, "the random samples should mostly differ"


def test_every_tuner_class_of_keras_tuner_is_covered():
    tuner_classes = {
        name for name, obj in vars(keras_tuner).items()
        if inspect.isclass(obj) and issubclass(obj, keras_tuner.Tuner)
        and obj is not keras_tuner.Tuner
    }
    assert tuner_classes == set(TUNERS), tuner_classes


@pytest.mark.parametrize("tuner_name", TUNERS)
@pytest.mark.parametrize("index,name", list(enumerate(sorted(CASES))))
def test_two_trial_search_completes(index, name, tuner_name, tmp_path):
    """Every model runs a 2-trial search with every tuner class (architecture pinned small)."""
    factory, x, y = CASES[name]
    hypermodel = factory(fixed=SMALL[name])
    if tuner_name == "Hyperband":
        kwargs = {"max_epochs": 2, "factor": 2}  # 1-epoch trials, the best goes on to 2
    else:
        kwargs = {"max_trials": 2}
    tuner = getattr(keras_tuner, tuner_name)(
        hypermodel, objective="val_loss", seed=index, directory=str(tmp_path),
        overwrite=True, **kwargs,
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tuner.search(x, y, validation_split=0.25, epochs=1, verbose=0)
    rebuilt = [str(w.message) for w in caught if "build_from_config" in str(w.message)]
    assert not rebuilt, rebuilt[0]
    trials = list(tuner.oracle.trials.values())
    assert len(trials) >= 2, [t.hyperparameters.values for t in trials]
    completed = [t for t in trials if t.status == "COMPLETED"]
    assert len(completed) >= 2 and all(np.isfinite(t.score) for t in completed), [
        (t.status, t.score) for t in trials
    ]
    best = tuner.get_best_models(1)[0]
    assert isinstance(best, getattr(kx.models, name))
