import keras
import numpy as np
import pytest

import kerasext as kx
from tests import conformance

pytestmark = pytest.mark.cross_backend

X = np.random.default_rng(0).normal(size=(8, 5)).astype("float32")


@pytest.mark.parametrize(
    "init_kwargs",
    [
        {"units": 3, "activation": "tanh", "batch_norm": True, "batch_norm_momentum": 0.8,
         "dropout": 0.25, "l1": 1e-3, "l2": 1e-2, "seed": 3},
    ],
    ids=["regularized"],
)
def test_conformance(init_kwargs):
    conformance.run_layer_test(
        kx.layers.DenseBlock, init_kwargs, X, expected_output_shape=(8, init_kwargs["units"])
    )


def test_matches_numpy_dense_relu():
    block = kx.layers.DenseBlock(3)
    out = keras.ops.convert_to_numpy(block(X))
    kernel, bias = block.dense.get_weights()
    np.testing.assert_allclose(out, np.maximum(X @ kernel + bias, 0.0), rtol=1e-5, atol=1e-6)


def test_batch_norm_inference_matches_formula():
    block = kx.layers.DenseBlock(3, activation=None, batch_norm=True)
    block(X)
    assert len(block.dense.weights) == 1  # no bias: the normalization's beta replaces it
    gamma = np.array([1.0, 2.0, 0.5], "float32")
    beta = np.array([0.1, -0.2, 0.3], "float32")
    mean = np.array([0.5, 0.0, -1.0], "float32")
    var = np.array([4.0, 1.0, 0.25], "float32")
    block.normalization.set_weights([gamma, beta, mean, var])
    (kernel,) = block.dense.get_weights()
    expected = (X @ kernel - mean) / np.sqrt(var + block.normalization.epsilon) * gamma + beta
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(block(X, training=False)), expected, rtol=1e-5, atol=1e-5
    )


@pytest.mark.parametrize("momentum", [0.9, 0.5])
def test_batch_norm_moving_statistics_follow_the_momentum(momentum):
    kwargs = {} if momentum == 0.9 else {"batch_norm_momentum": momentum}  # 0.9: the default
    block = kx.layers.DenseBlock(3, activation=None, batch_norm=True, **kwargs)
    block(X)
    (kernel,) = block.dense.get_weights()
    block(X, training=True)  # one update from mean 0, variance 1
    h = X.astype("float64") @ kernel
    _, _, mean, var = block.normalization.get_weights()
    np.testing.assert_allclose(mean, (1 - momentum) * h.mean(0), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(var, momentum + (1 - momentum) * h.var(0), rtol=1e-4, atol=1e-6)


def test_dropout_only_in_training():
    block = kx.layers.DenseBlock(64, activation=None, dropout=0.5, seed=1)
    x = np.ones((4, 5), "float32")
    inference = keras.ops.convert_to_numpy(block(x, training=False))
    trained = keras.ops.convert_to_numpy(block(x, training=True))
    dropped = trained == 0
    assert 0.2 < dropped.mean() < 0.8
    np.testing.assert_allclose(trained[~dropped], 2 * inference[~dropped], rtol=1e-5)


def test_l1_l2_penalty_is_added_to_losses():
    block = kx.layers.DenseBlock(2, l1=0.1, l2=0.01)
    block(X)
    (kernel, _) = block.dense.get_weights()
    expected = 0.1 * np.abs(kernel).sum() + 0.01 * np.square(kernel).sum()
    np.testing.assert_allclose(keras.ops.convert_to_numpy(sum(block.losses)), expected, rtol=1e-5)


@pytest.mark.parametrize(
    "kwargs, argument",
    [({"units": 0}, "units"), ({"units": 2, "dropout": 1.0}, "dropout"),
     ({"units": 2, "dropout": -0.1}, "dropout"), ({"units": 2, "l2": -1.0}, "l2"),
     ({"units": 2, "batch_norm_momentum": 1.0}, "batch_norm_momentum")],
)
def test_invalid_arguments(kwargs, argument):
    with pytest.raises(ValueError, match=f"Invalid `{argument}` argument value"):
        kx.layers.DenseBlock(**kwargs)
