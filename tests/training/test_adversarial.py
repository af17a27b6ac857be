"""AdversarialTraining: FGSM equals epsilon * sign(grad) computed by hand; PGD stays in the ball.

On every backend; the references are closed-form NumPy gradients of a
logistic model.
"""

import re

import keras
import numpy as np
import pytest
from keras import ops

import kerasext as kx
from kerasext._compat import set_random_seed
from tests import conformance
from tests.training.test_train_step import HARNESS_JIT, regression_data, small_model

EPSILON = 0.1
LEARNING_RATE = 0.5


def logistic_problem(n=16, d=4, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d))
    y = (rng.uniform(size=(n, 1)) < 0.5).astype("float64")
    kernel = rng.normal(size=(d, 1))
    bias = rng.normal(size=(1,))
    return x, y, kernel, bias


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def logistic_gradients(x, y, kernel, bias):
    """Gradients of the mean binary cross-entropy of sigmoid(x @ w + b), by hand."""
    dz = (sigmoid(x @ kernel + bias) - y) / len(x)
    return x.T @ dz, dz.sum(axis=0), dz @ kernel.T  # d/dw, d/db, d/dx


def logistic_trainer(kernel, bias, learning_rate=LEARNING_RATE, **kwargs):
    model = keras.Sequential([keras.Input((kernel.shape[0],)), keras.layers.Dense(1)])
    model.set_weights([kernel.astype("float32"), bias.astype("float32")])
    trainer = kx.training.AdversarialTraining(model, **kwargs)
    trainer.compile(
        optimizer=keras.optimizers.SGD(learning_rate),
        loss=keras.losses.BinaryCrossentropy(from_logits=True),
    )
    return trainer


@pytest.mark.cross_backend
def test_fgsm_perturbation_is_epsilon_sign_of_the_input_gradient():
    x, y, kernel, bias = logistic_problem()
    trainer = logistic_trainer(kernel, bias, epsilon=EPSILON)
    x_adv = ops.convert_to_numpy(trainer.perturb(x.astype("float32"), y.astype("float32")))
    _, _, grad_x = logistic_gradients(x, y, kernel, bias)
    np.testing.assert_allclose(x_adv - x, EPSILON * np.sign(grad_x), rtol=0, atol=1e-6)


@pytest.mark.cross_backend
@pytest.mark.parametrize("adversarial_weight", [0.5, 0.8])
def test_one_fgsm_training_step_equals_numpy(adversarial_weight):
    x, y, kernel, bias = logistic_problem()
    trainer = logistic_trainer(kernel, bias, epsilon=EPSILON,
                               adversarial_weight=adversarial_weight)
    history = trainer.fit(x.astype("float32"), y.astype("float32"), batch_size=len(x),
                          epochs=1, shuffle=False, verbose=0).history

    clean_w, clean_b, grad_x = logistic_gradients(x, y, kernel, bias)
    x_adv = x + EPSILON * np.sign(grad_x)
    adv_w, adv_b, _ = logistic_gradients(x_adv, y, kernel, bias)
    a = adversarial_weight
    new_kernel, new_bias = trainer.get_weights()
    np.testing.assert_allclose(new_kernel, kernel - LEARNING_RATE * ((1 - a) * clean_w + a * adv_w),
                               rtol=0, atol=1e-6)
    np.testing.assert_allclose(new_bias, bias - LEARNING_RATE * ((1 - a) * clean_b + a * adv_b),
                               rtol=0, atol=1e-6)

    def bce(inputs):
        return mean_bce(inputs, y, kernel, bias)

    assert history["clean_loss"][0] == pytest.approx(bce(x), rel=1e-5)
    assert history["adversarial_loss"][0] == pytest.approx(bce(x_adv), rel=1e-5)
    assert history["loss"][0] == pytest.approx((1 - a) * bce(x) + a * bce(x_adv), rel=1e-5)


@pytest.mark.cross_backend
def test_pgd_stays_in_the_ball_and_valid_range_and_raises_the_loss():
    x, y, kernel, bias = logistic_problem(n=32)
    x = np.clip(x, -1.0, 1.0)
    trainer = logistic_trainer(kernel, bias, epsilon=0.3, method="pgd", steps=5, clip_min=-1.0,
                               clip_max=1.0, seed=1)
    x_adv = ops.convert_to_numpy(trainer.perturb(x.astype("float32"), y.astype("float32")))
    assert np.all(np.abs(x_adv - x) <= 0.3 + 1e-6)
    assert x_adv.min() >= -1.0 and x_adv.max() <= 1.0
    loss = keras.losses.BinaryCrossentropy(from_logits=True)
    clean = float(loss(y, x @ kernel + bias))
    attacked = float(loss(y, x_adv @ kernel + bias))
    assert attacked > clean + 0.1
    # Without a random start, one full-size PGD step is FGSM.
    one_step = logistic_trainer(kernel, bias, epsilon=0.3, method="pgd", steps=1, step_size=0.3,
                                random_start=False)
    fgsm = logistic_trainer(kernel, bias, epsilon=0.3)
    np.testing.assert_allclose(
        ops.convert_to_numpy(one_step.perturb(x.astype("float32"), y.astype("float32"))),
        ops.convert_to_numpy(fgsm.perturb(x.astype("float32"), y.astype("float32"))), atol=1e-6,
    )


def mean_bce(x, y, kernel, bias):
    p = sigmoid(x @ kernel + bias)
    return float(np.mean(-(y * np.log(p) + (1 - y) * np.log(1 - p))))


@pytest.mark.cross_backend
def test_pgd_random_start_is_drawn_afresh_every_step_inside_the_ball():
    """The seed state advances from step to step (on JAX, through the stateless step).

    With a learning rate of zero and one batch per epoch, every step attacks
    the same model on the same batch: the adversarial loss can only change
    from epoch to epoch through the random start. For a linear logistic model
    the loss over the L-infinity ball lies between its values at
    `x -/+ epsilon * sign(grad_x)` (NumPy), which checks that `x_adv` stayed in
    the ball inside the compiled step.
    """
    x, y, kernel, bias = logistic_problem(n=16)
    epsilon = 0.3
    _, _, grad_x = logistic_gradients(x, y, kernel, bias)
    lowest = mean_bce(x - epsilon * np.sign(grad_x), y, kernel, bias)
    highest = mean_bce(x + epsilon * np.sign(grad_x), y, kernel, bias)

    def adversarial_losses(random_start):
        trainer = logistic_trainer(kernel, bias, learning_rate=0.0, epsilon=epsilon,
                                   method="pgd", steps=1, step_size=1e-3,
                                   random_start=random_start, seed=2)
        state = ops.convert_to_numpy(trainer.seed_generator.state)
        history = trainer.fit(x.astype("float32"), y.astype("float32"), batch_size=len(x),
                              epochs=3, shuffle=False, verbose=0).history
        advanced = not np.array_equal(ops.convert_to_numpy(trainer.seed_generator.state), state)
        return np.array(history["adversarial_loss"]), advanced

    random_losses, advanced = adversarial_losses(random_start=True)
    assert advanced
    assert np.all(np.abs(np.diff(random_losses)) > 1e-4), random_losses
    assert np.all((random_losses >= lowest - 1e-5) & (random_losses <= highest + 1e-5)), (
        random_losses, lowest, highest)
    fixed_losses, _ = adversarial_losses(random_start=False)
    np.testing.assert_allclose(fixed_losses, fixed_losses[0], rtol=1e-6)

    # Eagerly too: two attacks draw two random starts, both inside the ball.
    trainer = logistic_trainer(kernel, bias, epsilon=epsilon, method="pgd", steps=1,
                               step_size=1e-3, seed=4)
    first, second = (
        ops.convert_to_numpy(trainer.perturb(x.astype("float32"), y.astype("float32")))
        for _ in range(2)
    )
    assert np.max(np.abs(first - second)) > 1e-3
    for x_adv in (first, second):
        assert np.all(np.abs(x_adv - x) <= epsilon + 1e-6)


@pytest.mark.cross_backend
def test_fgsm_conformance():
    x, y = regression_data(n=8)
    conformance.run_training_step_test(
        kx.training.AdversarialTraining, {"epsilon": 0.1}, small_model, x, y,
        run_jit=HARNESS_JIT,
    )


@pytest.mark.cross_backend
def test_pgd_conformance():
    # Without the random start PGD is deterministic, so two replicas must take
    # the same step as one device.
    x, y = regression_data(n=8)
    conformance.run_training_step_test(
        kx.training.AdversarialTraining,
        {"epsilon": 0.1, "method": "pgd", "steps": 2, "random_start": False},
        small_model, x, y, run_jit=HARNESS_JIT,
    )


@pytest.mark.tensorflow_only("tf.distribute is TensorFlow-only")
def test_pgd_random_start_under_mirrored_strategy():
    # The random start is drawn per replica (stochastic), so only finiteness and
    # its effect are checked here.
    x, y = regression_data(n=16)
    with conformance.mirrored_strategy().scope():
        trainer = kx.training.AdversarialTraining(small_model(), epsilon=0.1, method="pgd",
                                                  steps=2, seed=3)
        trainer.compile(optimizer="sgd", loss="mse")
    history = trainer.fit(x, y, batch_size=8, epochs=1, verbose=0).history
    assert np.all(np.isfinite(history["loss"]))
    assert history["adversarial_loss"][0] > history["clean_loss"][0]


@pytest.mark.cross_backend
def test_integer_inputs_raise_a_clear_error():
    model = keras.Sequential(
        [keras.Input((6,), dtype="int32"), keras.layers.Embedding(20, 4),
         keras.layers.GlobalAveragePooling1D(), keras.layers.Dense(1)]
    )
    trainer = kx.training.AdversarialTraining(model, epsilon=0.1)
    trainer.compile(optimizer="sgd", loss="mse")
    tokens = np.random.default_rng(0).integers(0, 20, size=(8, 6)).astype("int32")
    with pytest.raises(ValueError, match="must be floating point.*int32.*token ids"):
        trainer.fit(tokens, np.zeros((8, 1), "float32"), epochs=1, verbose=0)


@pytest.mark.cross_backend
def test_logs_reset_every_epoch_and_stay_out_of_evaluate():
    x, y = regression_data(n=32)
    trainer = kx.training.AdversarialTraining(small_model(), epsilon=0.2)
    trainer.compile(optimizer=keras.optimizers.SGD(0.0), loss="mse", metrics=["mae"])
    batch_logs = []
    record = keras.callbacks.LambdaCallback(
        on_train_batch_end=lambda batch, logs: batch_logs.append(dict(logs))
    )
    history = trainer.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0,
                          callbacks=[record]).history
    assert sorted(history) == ["adversarial_loss", "clean_loss", "loss", "mae"]
    for name in ("clean_loss", "adversarial_loss"):
        assert batch_logs[4][name] == pytest.approx(batch_logs[0][name], rel=1e-6)
        np.testing.assert_allclose(history[name][0], history[name][1], rtol=1e-6)
    assert history["adversarial_loss"][0] > history["clean_loss"][0]
    logs = trainer.evaluate(x, y, verbose=0, return_dict=True)
    assert sorted(logs) == ["loss", "mae"]
    assert logs["loss"] == pytest.approx(history["clean_loss"][-1], rel=1e-5)


@pytest.mark.cross_backend
def test_invalid_arguments():
    model = small_model()
    for kwargs, match in (
        ({"epsilon": 0.0}, "Invalid `epsilon` argument value"),
        ({"epsilon": 0.1, "method": "cw"},
         "Invalid `method` argument value. Expected one of ('fgsm', 'pgd')"),
        ({"epsilon": 0.1, "steps": 0}, "Invalid `steps` argument value"),
        ({"epsilon": 0.1, "step_size": -1.0}, "Invalid `step_size` argument value"),
        ({"epsilon": 0.1, "adversarial_weight": 1.5}, "Invalid `adversarial_weight`"),
        ({"epsilon": 0.1, "clip_min": 1.0, "clip_max": 0.0}, "Invalid `clip_max` argument value. Expected a number > clip_min (clip_min=1.0)"),
    ):
        with pytest.raises(ValueError, match=re.escape(match)):
            kx.training.AdversarialTraining(model, **kwargs)


def fgsm_attack(model, x, y, epsilon):
    """An FGSM attack written independently of kerasext, for evaluation."""
    import tensorflow as tf

    x = tf.convert_to_tensor(x)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    with tf.GradientTape() as tape:
        tape.watch(x)
        loss = loss_fn(y, model(x, training=False))
    return np.clip(x.numpy() + epsilon * np.sign(tape.gradient(loss, x).numpy()), 0.0, 1.0)


@pytest.mark.slow
def test_adversarially_trained_digits_model_is_more_robust():
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = (digits.data / 16.0).astype("float32")
    y = digits.target.astype("int32")
    order = np.random.default_rng(0).permutation(len(x))
    x, y = x[order], y[order]
    x_train, y_train, x_val, y_val = x[:1400], y[:1400], x[1400:], y[1400:]
    epsilon = 0.1

    def robust_accuracy(wrap):
        set_random_seed(0)
        model = keras.Sequential(
            [keras.Input((64,)), keras.layers.Dense(64, activation="relu"), keras.layers.Dense(10)]
        )
        trainer = wrap(model)
        trainer.compile(
            optimizer=keras.optimizers.Adam(0.005),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=["accuracy"],
        )
        trainer.fit(x_train, y_train, batch_size=64, epochs=10, verbose=0)
        clean = np.mean(np.argmax(model.predict(x_val, verbose=0), -1) == y_val)
        x_attacked = fgsm_attack(model, x_val, y_val, epsilon)
        return clean, np.mean(np.argmax(model.predict(x_attacked, verbose=0), -1) == y_val)

    plain_clean, plain_robust = robust_accuracy(kx.training.TrainStep)
    adv_clean, adv_robust = robust_accuracy(
        lambda m: kx.training.AdversarialTraining(m, epsilon=epsilon, clip_min=0.0, clip_max=1.0)
    )
    print(f"plain: clean {plain_clean:.3f} FGSM {plain_robust:.3f}; "
          f"adversarial: clean {adv_clean:.3f} FGSM {adv_robust:.3f}")
    assert plain_clean > 0.9 and adv_clean > 0.9
    assert adv_robust > plain_robust + 0.1
