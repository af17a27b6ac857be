"""TrainStep: the reference custom step must train exactly like Keras' built-in step.

On every backend (TensorFlow, JAX, torch): the reference is Keras' own
built-in step (`model.fit` of the same model).
"""

import keras
import numpy as np
import pytest
from keras import ops

import kerasext as kx
from kerasext._compat import set_random_seed
from tests import conformance

pytestmark = pytest.mark.cross_backend

PACKAGE = "kerasext_tests_training"
BACKEND = keras.backend.backend()
#: torch.compile costs ~30 s per model on CPU: the conformance harness' jit
#: fit is left to TensorFlow and JAX, and torch compiles once, in
#: `test_jit_compile_gives_the_eager_weights`.
HARNESS_JIT = BACKEND != "torch"


def small_model():
    return keras.Sequential(
        [keras.Input((5,)), keras.layers.Dense(4, activation="tanh"), keras.layers.Dense(1)]
    )


def regression_data(n=64, d=5, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)).astype("float32")
    y = (x @ rng.normal(size=(d, 1)) + 0.1 * rng.normal(size=(n, 1))).astype("float32")
    return x, y


@keras.saving.register_keras_serializable(package=PACKAGE)
class AddsActivityLoss(keras.layers.Layer):
    """Identity that adds an `add_loss` term, so the step must count `self.losses`."""

    def call(self, inputs):
        self.add_loss(0.01 * ops.mean(ops.square(inputs)))
        return inputs


@keras.saving.register_keras_serializable(package=PACKAGE)
class SubclassedRegressor(keras.Model):
    """A subclassed model whose `call` has no `training` argument."""

    def __init__(self, units=4, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.hidden = keras.layers.Dense(units, activation="tanh")
        self.out = keras.layers.Dense(1)

    def call(self, inputs):
        return self.out(self.hidden(inputs))

    def get_config(self):
        return {**super().get_config(), "units": self.units}


def regularized_model():
    """Regularization and `add_loss` terms, batch-norm statistics and dropout seeds.

    The step must count the losses and carry the non-trainable state from step
    to step (on JAX through the stateless step) exactly as the built-in one.
    """
    set_random_seed(3)
    return keras.Sequential(
        [
            keras.Input((5,)),
            keras.layers.Dense(8, activation="relu", kernel_regularizer=keras.regularizers.L2(0.01)),
            AddsActivityLoss(),
            keras.layers.BatchNormalization(),
            keras.layers.Dropout(0.25, seed=4),
            keras.layers.Dense(1),
        ]
    )


def max_abs_difference(weights_a, weights_b):
    return max(float(np.max(np.abs(a - b))) for a, b in zip(weights_a, weights_b))


def test_train_step_conformance():
    x, y = regression_data(n=8)
    conformance.run_training_step_test(kx.training.TrainStep, {}, small_model, x, y,
                                       run_jit=HARNESS_JIT)


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "sample_weight"])
def test_same_weights_as_built_in_step(weighted):
    x, y = regression_data()
    sample_weight = np.random.default_rng(1).uniform(size=len(x)).astype("float32")
    fit_kwargs = {"sample_weight": sample_weight} if weighted else {}

    def train(model):
        model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse", metrics=["mae"])
        history = model.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0, **fit_kwargs)
        return history.history

    built_in = regularized_model()
    built_in_history = train(built_in)
    trainer = kx.training.TrainStep(regularized_model())
    history = train(trainer)
    assert max_abs_difference(trainer.get_weights(), built_in.get_weights()) < 1e-5
    for key in ("loss", "mae"):
        np.testing.assert_allclose(history[key], built_in_history[key], rtol=1e-5)
    # The model does have a regularization and an add_loss term to minimise.
    trainer(x[:4])
    assert len(trainer.losses) == 2


def test_gradient_accumulation_and_clipping_match_built_in():
    """Accumulation and clipping stay with the optimizer: the same weights as `fit`."""
    x, y = regression_data(n=32)

    def train(model):
        model.compile(
            optimizer=keras.optimizers.Adam(0.05, clipnorm=0.1, gradient_accumulation_steps=2),
            loss="mse",
        )
        model.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
        return model.get_weights()

    set_random_seed(0)
    initial = small_model().get_weights()

    def model_fn():
        model = small_model()
        model.set_weights(initial)
        return model

    built_in = train(model_fn())
    ours = train(kx.training.TrainStep(model_fn()))
    assert max_abs_difference(ours, built_in) < 1e-5
    # Both moved, and clipping shaped the steps (Adam without clipping goes elsewhere).
    assert max_abs_difference(built_in, initial) > 1e-3
    unclipped = model_fn()
    unclipped.compile(optimizer=keras.optimizers.Adam(0.05, gradient_accumulation_steps=2),
                      loss="mse")
    unclipped.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    assert max_abs_difference(unclipped.get_weights(), built_in) > 1e-4


@pytest.mark.parametrize("step", ["TrainStep", "SAM", "PGD"])
def test_jit_compile_gives_the_eager_weights(step):
    """XLA (TensorFlow, JAX) or torch.compile trains to the eager weights."""
    if BACKEND == "torch" and step != "TrainStep":
        pytest.skip("torch.compile costs ~30 s per model on CPU: TrainStep only on torch")
    wrappers = {
        "TrainStep": kx.training.TrainStep,
        "SAM": lambda m: kx.training.SAM(m, rho=0.1),
        "PGD": lambda m: kx.training.AdversarialTraining(m, epsilon=0.1, method="pgd",
                                                         steps=2, random_start=False),
    }
    x, y = regression_data(n=16)
    set_random_seed(0)
    initial = small_model().get_weights()
    weights = []
    for compile_kwargs in ({"run_eagerly": True}, {"jit_compile": True}):
        model = small_model()
        model.set_weights(initial)
        trainer = wrappers[step](model)
        trainer.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse", **compile_kwargs)
        trainer.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
        weights.append(trainer.get_weights())
    assert max_abs_difference(*weights) < 1e-5
    assert max_abs_difference(weights[0], initial) > 1e-3


class KerasIoGuideStep(keras.Model):
    """The `train_step` of keras.io's "Customizing what happens in `fit()` with
    TensorFlow" guide, copied as written there, in a wrapper like ours.
    """

    def __init__(self, model, **kwargs):
        super().__init__(**kwargs)
        self.model = model

    def call(self, inputs, training=False):
        return self.model(inputs, training=training)

    def train_step(self, data):
        import tensorflow as tf

        x, y = data

        with tf.GradientTape() as tape:
            y_pred = self(x, training=True)  # Forward pass
            # Compute the loss value
            # (the loss function is configured in `compile()`)
            loss = self.compute_loss(y=y, y_pred=y_pred)

        # Compute gradients
        trainable_vars = self.trainable_variables
        gradients = tape.gradient(loss, trainable_vars)

        # Update weights
        self.optimizer.apply(gradients, trainable_vars)

        # Update metrics (includes the metric that tracks the loss)
        for metric in self.metrics:
            if metric.name == "loss":
                metric.update_state(loss)
            else:
                metric.update_state(y, y_pred)

        # Return a dict mapping metric names to current value
        return {m.name: m.result() for m in self.metrics}


def _mixed_float16_loss_curve(wrap):
    x, y = regression_data(n=256, d=8, seed=2)
    y = y + 3.0
    keras.config.set_dtype_policy("mixed_float16")
    set_random_seed(5)
    model = wrap(keras.Sequential(
        [keras.Input((8,)), keras.layers.Dense(16, activation="relu"), keras.layers.Dense(1)]
    ))
    model.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse")
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    return np.array(
        model.fit(x, y, batch_size=32, epochs=3, shuffle=False, verbose=0).history["loss"]
    )


def test_mixed_float16_matches_built_in():
    built_in = _mixed_float16_loss_curve(lambda m: m)
    ours = _mixed_float16_loss_curve(kx.training.TrainStep)
    np.testing.assert_allclose(ours, built_in, rtol=0.01)
    assert built_in[-1] < 0.5 * built_in[0], built_in  # the task is learnable in 3 epochs


@pytest.mark.tensorflow_only("the keras.io guide's step is written with tf.GradientTape")
def test_mixed_float16_guide_step_stalls_where_ours_learns():
    ours = _mixed_float16_loss_curve(kx.training.TrainStep)
    guide = _mixed_float16_loss_curve(KerasIoGuideStep)
    # The guide's step never scales the loss, yet the LossScaleOptimizer unscales
    # its gradients by 2**15: its steps are ~30000 times too small and it stalls.
    assert abs(guide[-1] - guide[0]) < 0.01 * guide[0], guide
    assert ours[-1] < 0.5 * guide[-1]


@pytest.mark.parametrize("kind", ["sequential", "functional", "subclassed", "kerasext"])
def test_wraps_any_model_and_forwards_calls(kind, tmp_path):
    x, y = regression_data(n=32)
    if kind == "sequential":
        inner = small_model()
    elif kind == "functional":
        inputs = keras.Input((5,))
        inner = keras.Model(inputs, keras.layers.Dense(1)(keras.layers.Dense(3)(inputs)))
    elif kind == "subclassed":
        inner = SubclassedRegressor()
    else:
        inner = kx.models.LogisticRegression(num_classes=2)
    trainer = kx.training.TrainStep(inner)
    assert trainer.model is inner
    trainer.compile(optimizer="sgd", loss="mse")
    trainer.fit(x, y, epochs=1, batch_size=8, verbose=0)
    np.testing.assert_allclose(
        trainer.predict(x, verbose=0), ops.convert_to_numpy(inner(x)), rtol=1e-6, atol=1e-6
    )
    logs = trainer.evaluate(x, y, verbose=0, return_dict=True)
    np.testing.assert_allclose(
        logs["loss"], np.mean((ops.convert_to_numpy(inner(x)) - y) ** 2), rtol=1e-5
    )
    path = str(tmp_path / "trainer.keras")
    trainer.save(path)
    loaded = keras.saving.load_model(path)
    assert type(loaded) is kx.training.TrainStep
    np.testing.assert_allclose(loaded.predict(x, verbose=0), trainer.predict(x, verbose=0),
                               rtol=1e-6, atol=1e-6)


def test_subclass_overrides_only_the_gradient_hook():
    class FrozenFirstLayer(kx.training.TrainStep):
        def compute_gradients(self, x, y, sample_weight):
            loss, y_pred, gradients = super().compute_gradients(x, y, sample_weight)
            frozen = {id(v) for v in self.model.layers[0].trainable_weights}
            return loss, y_pred, [
                ops.zeros_like(g) if id(v) in frozen else g
                for g, v in zip(gradients, self.trainable_weights)
            ]

    x, y = regression_data(n=32)
    trainer = FrozenFirstLayer(small_model())
    trainer.compile(optimizer="sgd", loss="mse", metrics=["mae"])
    first = [w.copy() for w in trainer.model.layers[0].get_weights()]
    second = [w.copy() for w in trainer.model.layers[1].get_weights()]
    history = trainer.fit(x, y, epochs=2, batch_size=8, verbose=0).history
    assert sorted(history) == ["loss", "mae"]
    for before, after in zip(first, trainer.model.layers[0].get_weights()):
        np.testing.assert_array_equal(before, after)
    assert max_abs_difference(second, trainer.model.layers[1].get_weights()) > 1e-4


def test_invalid_model_argument():
    with pytest.raises(ValueError, match="Invalid `model` argument value"):
        kx.training.TrainStep("not a model")


def test_multi_output_losses_by_output_name_match_built_in():
    x, y = regression_data(n=32)
    targets = [y, np.concatenate([y, -y], axis=1)]

    def model_fn():
        set_random_seed(7)
        inputs = keras.Input((5,))
        hidden = keras.layers.Dense(6, activation="tanh")(inputs)
        return keras.Model(inputs, [keras.layers.Dense(1, name="first")(hidden),
                                    keras.layers.Dense(2, name="second")(hidden)])

    def train(model):
        model.compile(optimizer="sgd", loss={"first": "mse", "second": "mae"},
                      loss_weights={"first": 1.0, "second": 0.5})
        return model.fit(x, targets, batch_size=8, epochs=2, shuffle=False, verbose=0).history

    built_in = model_fn()
    built_in_history = train(built_in)
    trainer = kx.training.TrainStep(model_fn())
    history = train(trainer)
    assert sorted(history) == sorted(built_in_history)
    assert max_abs_difference(trainer.get_weights(), built_in.get_weights()) < 1e-5
