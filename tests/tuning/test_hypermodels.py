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


#: The tuner each HyperModel searches with on every backend (every tuner used; Hyperband,
#: which trains the most models, once, with the cheapest). JAX and torch run only these
#: pairs (the CI budget); TensorFlow runs every pair.
CROSS_BACKEND_TUNER = {
    "LinearRegression": "Hyperband", "LogisticRegression": "RandomSearch",
    "ConvNet": "BayesianOptimization", "TextCNN": "BayesianOptimization",
    "InceptionNet": "GridSearch", "EncoderDecoder": "RandomSearch",
    "RecurrentNet": "BayesianOptimization", "TransformerClassifier": "GridSearch",
}


def _search_cases():
    cases = []
    for index, name in enumerate(sorted(CASES)):
        for tuner_name in TUNERS:
            marks = [pytest.mark.cross_backend] if CROSS_BACKEND_TUNER[name] == tuner_name else []
            cases.append(pytest.param(index, name, tuner_name, marks=marks,
                                      id=f"{tuner_name}-{name}"))
    return cases


def test_every_model_searches_on_every_backend_and_every_tuner_is_used():
    assert set(CROSS_BACKEND_TUNER) == set(CASES)
    assert set(CROSS_BACKEND_TUNER.values()) == set(TUNERS)


@pytest.mark.parametrize("index,name,tuner_name", _search_cases())
def test_two_trial_search_completes(index, name, tuner_name, tmp_path):
    """Every model runs a 2-trial search with every tuner class (architecture pinned small)."""
    factory, x, y = CASES[name]
    # One batch of the 24 samples: one compiled train step per model (a batch size of 16
    # would compile a second one for the last, smaller batch).
    hypermodel = factory(fixed={**SMALL[name], "batch_size": 32})
    if tuner_name == "Hyperband":
        kwargs = {"max_epochs": 2, "factor": 2}  # 1-epoch trials, the best goes on to 2
    else:
        kwargs = {"max_trials": 2}
    # Scored on the training loss: no validation pass, whose compilation for every model
    # nearly doubled the InceptionNet search on JAX (the CI budget runs these on three
    # backends); searches on validation data are checked in test_base.py.
    tuner = getattr(keras_tuner, tuner_name)(
        hypermodel, objective="loss", seed=index, directory=str(tmp_path),
        overwrite=True, **kwargs,
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tuner.search(x, y, epochs=1, verbose=0)
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
