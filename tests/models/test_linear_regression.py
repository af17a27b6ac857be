import keras
import numpy as np
import pytest
from sklearn.datasets import load_diabetes
from sklearn.linear_model import LinearRegression as SklearnLinearRegression
from sklearn.preprocessing import StandardScaler

import kerasext as kx
from tests import conformance

pytestmark = pytest.mark.cross_backend

X = np.random.default_rng(0).normal(size=(8, 4)).astype("float32")


@pytest.mark.parametrize(
    "init_kwargs", [{"units": 2, "l1": 0.01, "l2": 0.1}], ids=["regularized"]
)
def test_conformance(init_kwargs):
    conformance.run_model_test(
        kx.models.LinearRegression, init_kwargs, X,
        expected_output_shape=(8, init_kwargs.get("units", 1)),
    )


def test_prediction_is_x_times_coef_plus_intercept():
    model = kx.models.LinearRegression(units=3)
    out = keras.ops.convert_to_numpy(model(X))
    assert model.coef_.shape == (3, 4) and model.intercept_.shape == (3,)
    np.testing.assert_allclose(out, X @ model.coef_.T + model.intercept_, rtol=1e-5, atol=1e-6)


def test_penalty_covers_the_coefficients_not_the_intercept():
    model = kx.models.LinearRegression(l1=0.5, l2=0.25)
    model(X)
    model.linear.bias.assign([10.0])
    coef = model.coef_
    expected = 0.5 * np.abs(coef).sum() + 0.25 * np.square(coef).sum()
    np.testing.assert_allclose(keras.ops.convert_to_numpy(sum(model.losses)), expected, rtol=1e-5)


def test_coefficients_need_a_build():
    with pytest.raises(ValueError, match="no coefficients yet"):
        _ = kx.models.LinearRegression().coef_


@pytest.mark.parametrize(
    "kwargs, argument", [({"units": 0}, "units"), ({"l1": -1.0}, "l1"), ({"l2": "x"}, "l2")]
)
def test_invalid_arguments(kwargs, argument):
    with pytest.raises(ValueError, match=f"Invalid `{argument}` argument value"):
        kx.models.LinearRegression(**kwargs)


def _full_batch_gradient_descent(model, x, y, steps):
    """`steps` steps of full-batch gradient descent (Nesterov momentum) in one epoch."""
    model.compile(optimizer=keras.optimizers.SGD(0.1, momentum=0.9, nesterov=True), loss="mse")
    # The whole set, `steps` times over: each batch of one unshuffled epoch is the full set.
    model.fit(np.tile(x, (steps, 1)), np.tile(y, steps), batch_size=len(x), epochs=1, verbose=0,
              shuffle=False)


@pytest.mark.slow
def test_recovers_the_slope_of_a_noisy_line(rng):
    x = rng.uniform(-1.0, 1.0, size=(200, 1)).astype("float32")
    y = (2.0 * x[:, 0] + 0.5 + rng.normal(scale=0.3, size=200)).astype("float32")
    model = kx.models.LinearRegression()
    _full_batch_gradient_descent(model, x, y, steps=200)
    assert abs(model.coef_[0] - 2.0) < 0.1
    slope, intercept = np.polyfit(x[:, 0], y, deg=1)
    np.testing.assert_allclose([model.coef_[0], model.intercept_], [slope, intercept], atol=1e-3)


@pytest.mark.slow
def test_diabetes_coefficients_match_scikit_learn():
    x, y = load_diabetes(return_X_y=True)
    x = StandardScaler().fit_transform(x).astype("float32")
    y = ((y - y.mean()) / y.std()).astype("float32")
    reference = SklearnLinearRegression().fit(x, y)
    model = kx.models.LinearRegression()
    _full_batch_gradient_descent(model, x, y, steps=500)
    # The standardized features are collinear (s1, s2, s3, s5; condition number of X^T X ~ 470),
    # which makes gradient descent slowest along one direction. Nesterov momentum contracts it by
    # about (1 - 1/sqrt(470))^500 ~ 1e-10, so what is left is float32 round-off (~1e-6): an
    # absolute 1e-3 on coefficients of size 0.01-0.5 (0.2% of the largest) is a wide margin
    # that still catches any wrong coefficient.
    np.testing.assert_allclose(model.coef_, reference.coef_, rtol=0, atol=1e-3)
    np.testing.assert_allclose(model.intercept_, reference.intercept_, rtol=0, atol=1e-3)
