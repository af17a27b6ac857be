"""Every model of kerasext.models has a HyperModel that builds across its space and tunes."""

import inspect

import keras
import keras_tuner
import numpy as np
import pytest

import kerasext as kx
from tests.tuning._helpers import SMALL, random_values, tiny_cases

CASES = tiny_cases()
#: Each tuner class runs at least once, on the cheapest models; the others use RandomSearch.
TUNER_OF = {
    "LinearRegression": "Hyperband",
    "LogisticRegression": "GridSearch",
    "ConvNet": "BayesianOptimization",
}


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


def test_every_tuner_class_is_exercised():
    assert set(TUNER_OF.values()) | {"RandomSearch"} == {
        "RandomSearch", "BayesianOptimization", "Hyperband", "GridSearch"
    }


@pytest.mark.parametrize("index,name", list(enumerate(sorted(CASES))))
def test_two_trial_search_completes(index, name, tmp_path):
    """Each model runs a 2-trial search (architecture pinned small to keep it cheap)."""
    factory, x, y = CASES[name]
    tuner_name = TUNER_OF.get(name, "RandomSearch")
    hypermodel = factory(fixed=SMALL[name])
    kwargs = {"max_trials": 2} if tuner_name != "Hyperband" else {"max_epochs": 2, "factor": 2}
    tuner = getattr(keras_tuner, tuner_name)(
        hypermodel, objective="val_loss", seed=index, directory=str(tmp_path),
        overwrite=True, **kwargs,
    )
    tuner.search(x, y, validation_split=0.25, epochs=1, verbose=0)
    trials = list(tuner.oracle.trials.values())
    assert len(trials) >= 2 if tuner_name != "Hyperband" else len(trials) >= 1
    completed = [t for t in trials if t.status == "COMPLETED"]
    assert completed and all(np.isfinite(t.score) for t in completed), [t.status for t in trials]
