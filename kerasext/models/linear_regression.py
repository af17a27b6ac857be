"""LinearRegression: y = x W + b, fitted by gradient descent on the mean squared error."""

import keras

from kerasext import _validation as v
from kerasext.api_export import kerasext_export
from kerasext.layers._regularizers import l1_l2
from kerasext.models._common import LinearModel, output_dtype


@kerasext_export
class LinearRegression(LinearModel):
    """Linear regression as a Keras model: `y = theta0 + theta1 x1 + ... + thetan xn`.

    One linear `Dense` layer, so any Keras optimizer fits it by gradient
    descent on the loss you compile it with (usually `"mse"`); `l1` / `l2`
    turn it into lasso / ridge / elastic-net regression (penalties on the
    coefficients only, not the intercept). After fitting, `coef_` and
    `intercept_` read the weights in scikit-learn's layout.

    Args:
        units: number of targets predicted together. Defaults to `1`.
        l1: L1 penalty factor on the coefficients. Defaults to `0.0`.
        l2: L2 penalty factor on the coefficients. Defaults to `0.0`.
        **kwargs: base model keyword arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: a tensor of shape `(batch_size, ..., features)`.

    Returns:
        A float32 tensor of shape `(batch_size, ..., units)`.

    Attributes:
        coef_: NumPy array of shape `(features,)` when `units == 1`, else
            `(units, features)`, as `sklearn.linear_model.LinearRegression`.
        intercept_: a float when `units == 1`, else an array of shape
            `(units,)`.

    Example:

    ```python
    import numpy as np
    import keras
    x = np.linspace(-1, 1, 64).reshape(-1, 1).astype("float32")
    model = kx.models.LinearRegression()
    model.compile(optimizer=keras.optimizers.SGD(0.5), loss="mse")
    model.fit(x, 2 * x + 1, epochs=30, verbose=0)
    assert abs(model.coef_[0] - 2) < 0.1 and abs(model.intercept_ - 1) < 0.1
    ```

    Reference:
        - [Legendre, 1805; Gauss, 1809](https://en.wikipedia.org/wiki/Least_squares) (least squares)
    """

    def __init__(self, units=1, l1=0.0, l2=0.0, **kwargs):
        super().__init__(**kwargs)
        v.check_positive_int("units", units)
        v.check_non_negative("l1", l1)
        v.check_non_negative("l2", l2)
        self.units = units
        self.l1 = l1
        self.l2 = l2
        self.linear = keras.layers.Dense(
            units,
            kernel_regularizer=l1_l2(l1, l2),
            dtype=output_dtype(self.dtype_policy),
            name="linear",
        )

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)

    @property
    def coef_(self):
        kernel, _ = self._fitted()
        return kernel[:, 0] if self.units == 1 else kernel.T

    @property
    def intercept_(self):
        _, bias = self._fitted()
        return float(bias[0]) if self.units == 1 else bias

    def get_config(self):
        return {**super().get_config(), "units": self.units, "l1": self.l1, "l2": self.l2}
