"""SAM / ASAM: one step equals the update computed by hand in NumPy, on every backend."""

import re

import keras
import numpy as np
import pytest

import kerasext as kx
from kerasext._compat import set_random_seed
from tests import conformance
from tests.training.test_train_step import HARNESS_JIT, regression_data, small_model

pytestmark = pytest.mark.cross_backend

RHO = 0.3
LEARNING_RATE = 0.1
ETA = 0.01


def linear_problem(n=12, d=3, k=2, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d))
    y = rng.normal(size=(n, k))
    kernel = rng.normal(size=(d, k))
    bias = rng.normal(size=(k,))
    return x, y, kernel, bias


def mse_gradients(x, y, kernel, bias):
    """Gradients of Keras' MSE (mean over outputs, then over the batch) for x @ W + b."""
    residual = x @ kernel + bias - y
    scale = 2.0 / residual.size
    return scale * x.T @ residual, scale * residual.sum(axis=0)


def numpy_sam_gradient(x, y, kernel, bias, rho, adaptive):
    """Foret et al. (2021) / Kwon et al. (2021), written out by hand."""
    grad_kernel, grad_bias = mse_gradients(x, y, kernel, bias)
    if adaptive:
        t_kernel, t_bias = np.abs(kernel) + ETA, np.abs(bias) + ETA
    else:
        t_kernel, t_bias = np.ones_like(kernel), np.ones_like(bias)
    norm = np.sqrt(np.sum((t_kernel * grad_kernel) ** 2) + np.sum((t_bias * grad_bias) ** 2))
    e_kernel = rho * t_kernel**2 * grad_kernel / (norm + 1e-12)
    e_bias = rho * t_bias**2 * grad_bias / (norm + 1e-12)
    return mse_gradients(x, y, kernel + e_kernel, bias + e_bias)


def linear_trainer(kernel, bias, **sam_kwargs):
    model = keras.Sequential([keras.Input((kernel.shape[0],)), keras.layers.Dense(kernel.shape[1])])
    model.set_weights([kernel.astype("float32"), bias.astype("float32")])
    return kx.training.SAM(model, **sam_kwargs)


@pytest.mark.parametrize("adaptive", [False, True], ids=["SAM", "ASAM"])
def test_one_step_equals_numpy(adaptive):
    x, y, kernel, bias = linear_problem()
    trainer = linear_trainer(kernel, bias, rho=RHO, adaptive=adaptive, eta=ETA)
    trainer.compile(optimizer=keras.optimizers.SGD(LEARNING_RATE), loss="mse")
    trainer.fit(x.astype("float32"), y.astype("float32"), batch_size=len(x), epochs=1,
                shuffle=False, verbose=0)

    grad_kernel, grad_bias = numpy_sam_gradient(x, y, kernel, bias, RHO, adaptive)
    new_kernel, new_bias = trainer.get_weights()
    np.testing.assert_allclose(new_kernel, kernel - LEARNING_RATE * grad_kernel, rtol=0, atol=1e-6)
    np.testing.assert_allclose(new_bias, bias - LEARNING_RATE * grad_bias, rtol=0, atol=1e-6)
    # and it is not the plain gradient step
    plain_kernel, _ = mse_gradients(x, y, kernel, bias)
    assert np.max(np.abs(new_kernel - (kernel - LEARNING_RATE * plain_kernel))) > 1e-3


def test_composes_with_gradient_accumulation_and_clipping():
    """Each micro-batch makes its own ascent step; the optimizer averages, then clips."""
    x, y, kernel, bias = linear_problem(n=16)
    clip = 0.2
    trainer = linear_trainer(kernel, bias, rho=RHO)
    trainer.compile(
        optimizer=keras.optimizers.SGD(
            LEARNING_RATE, gradient_accumulation_steps=2, global_clipnorm=clip
        ),
        loss="mse",
    )
    trainer.fit(x.astype("float32"), y.astype("float32"), batch_size=8, epochs=1,
                shuffle=False, verbose=0)

    first = numpy_sam_gradient(x[:8], y[:8], kernel, bias, RHO, adaptive=False)
    second = numpy_sam_gradient(x[8:], y[8:], kernel, bias, RHO, adaptive=False)
    grads = [(a + b) / 2 for a, b in zip(first, second)]
    norm = np.sqrt(sum(np.sum(g**2) for g in grads))
    assert norm > clip  # the clipping is exercised
    grads = [g * clip / norm for g in grads]
    new_kernel, new_bias = trainer.get_weights()
    np.testing.assert_allclose(new_kernel, kernel - LEARNING_RATE * grads[0], rtol=0, atol=1e-6)
    np.testing.assert_allclose(new_bias, bias - LEARNING_RATE * grads[1], rtol=0, atol=1e-6)


def test_sam_conformance():
    x, y = regression_data(n=8)
    conformance.run_training_step_test(kx.training.SAM, {"rho": 0.1}, small_model, x, y,
                                       run_jit=HARNESS_JIT)


@pytest.mark.tensorflow_only("tf.distribute is TensorFlow-only")
def test_asam_under_mirrored_strategy_over_several_steps_with_sample_weights():
    """Two replicas equal one device with the same global batch, step after step."""
    x, y = regression_data(n=32)
    sample_weight = np.random.default_rng(3).uniform(size=len(x)).astype("float32")
    set_random_seed(0)
    initial = small_model().get_weights()

    def train():
        model = small_model()
        model.set_weights(initial)
        trainer = kx.training.SAM(model, rho=0.5, adaptive=True)
        trainer.compile(optimizer=keras.optimizers.Adam(0.05), loss="mse")
        return trainer

    one_device = train()
    one_device.fit(x, y, sample_weight=sample_weight, batch_size=8, epochs=1, shuffle=False,
                   verbose=0)
    with conformance.mirrored_strategy().scope():
        replicated = train()
    replicated.fit(x, y, sample_weight=sample_weight, batch_size=8, epochs=1, shuffle=False,
                   verbose=0)
    for got, want in zip(replicated.get_weights(), one_device.get_weights()):
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-5)


def test_logs_reset_every_epoch_and_stay_out_of_evaluate():
    x, y = regression_data(n=32)
    trainer = kx.training.SAM(small_model(), rho=0.5)
    # A learning rate of zero keeps the weights, so every epoch sees the same batches.
    trainer.compile(optimizer=keras.optimizers.SGD(0.0), loss="mse")
    batch_logs = []
    record = keras.callbacks.LambdaCallback(
        on_train_batch_end=lambda batch, logs: batch_logs.append(dict(logs))
    )
    history = trainer.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0,
                          callbacks=[record]).history
    assert sorted(history) == ["loss", "perturbed_loss", "sharpness"]
    first_epoch, second_epoch = batch_logs[:4], batch_logs[4:]
    for name in ("loss", "perturbed_loss", "sharpness"):
        assert second_epoch[0][name] == pytest.approx(first_epoch[0][name], rel=1e-6)
        np.testing.assert_allclose(history[name][0], history[name][1], rtol=1e-6)
    np.testing.assert_allclose(
        history["sharpness"], np.subtract(history["perturbed_loss"], history["loss"]), atol=1e-5
    )
    assert min(history["sharpness"]) > 0  # the ascent step does go uphill
    logs = trainer.evaluate(x, y, verbose=0, return_dict=True)
    assert sorted(logs) == ["loss"]


def test_rho_zero_is_the_plain_step():
    x, y = regression_data(n=32)
    set_random_seed(0)
    initial = small_model().get_weights()
    trained = []
    for cls, kwargs in ((kx.training.TrainStep, {}), (kx.training.SAM, {"rho": 0.0})):
        model = small_model()
        model.set_weights(initial)
        trainer = cls(model, **kwargs)
        trainer.compile(optimizer="adam", loss="mse")
        trainer.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
        trained.append(trainer.get_weights())
    for a, b in zip(*trained):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)


def test_learns_under_mixed_float16():
    x, y = regression_data(n=64)
    keras.config.set_dtype_policy("mixed_float16")
    trainer = kx.training.SAM(small_model(), rho=0.05)
    trainer.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse")
    loss = trainer.fit(x, y, batch_size=16, epochs=4, shuffle=False, verbose=0).history["loss"]
    assert loss[-1] < 0.7 * loss[0], loss


def test_invalid_arguments():
    model = small_model()
    for kwargs, match in (
        ({"rho": -0.1}, "Invalid `rho` argument value. Expected a number >= 0. Received: rho=-0.1"),
        ({"adaptive": "yes"}, "Invalid `adaptive` argument value"),
        ({"eta": -1.0}, "Invalid `eta` argument value"),
    ):
        with pytest.raises(ValueError, match=re.escape(match)):
            kx.training.SAM(model, **kwargs)
