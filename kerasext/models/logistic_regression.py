"""LogisticRegression: a linear model with a sigmoid (2 classes) or softmax (more) output."""

import keras

from kerasext import _validation as v
from kerasext.api_export import kerasext_export
from kerasext.layers._regularizers import l1_l2
from kerasext.models._common import LinearModel, output_dtype


@kerasext_export
class LogisticRegression(LinearModel):
    """Logistic regression as a Keras model: binary (sigmoid) or multinomial (softmax).

    One `Dense` layer: a single sigmoid unit for `num_classes=2` (compile with
    `"binary_crossentropy"`, labels 0 / 1) or `num_classes` softmax units for
    more (compile with `"sparse_categorical_crossentropy"` or
    `"categorical_crossentropy"`). `predict` gives probabilities, like
    scikit-learn's `predict_proba` (for 2 classes: the probability of class
    1). `l1` / `l2` penalize the coefficients, not the intercept.

    Args:
        num_classes: integer >= 2. Defaults to `2`.
        l1: L1 penalty factor on the coefficients. Defaults to `0.0`.
        l2: L2 penalty factor on the coefficients. Defaults to `0.0`.
        **kwargs: base model keyword arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: a tensor of shape `(batch_size, ..., features)`.

    Returns:
        Float32 probabilities of shape `(batch_size, ..., 1)` for 2 classes,
        else `(batch_size, ..., num_classes)`.

    Attributes:
        coef_: NumPy array of shape `(1, features)` for 2 classes, else
            `(num_classes, features)`, as `sklearn.linear_model.LogisticRegression`.
        intercept_: NumPy array of shape `(1,)` or `(num_classes,)`.

    Example:

    ```python
    import numpy as np
    import keras
    x = np.random.default_rng(0).normal(size=(128, 1)).astype("float32")
    y = (x[:, 0] > 0).astype("float32")
    model = kx.models.LogisticRegression()
    model.compile(optimizer=keras.optimizers.Adam(0.1), loss="binary_crossentropy",
                  metrics=["accuracy"])
    model.fit(x, y, epochs=20, verbose=0)
    assert model.evaluate(x, y, verbose=0)[1] > 0.9
    ```

    Reference:
        - [Cox, 1958](https://doi.org/10.1111/j.2517-6161.1958.tb00292.x)
    """

    def __init__(self, num_classes=2, l1=0.0, l2=0.0, **kwargs):
        super().__init__(**kwargs)
        v.check_num_classes(num_classes, allow_none=False)
        v.check_non_negative("l1", l1)
        v.check_non_negative("l2", l2)
        self.num_classes = num_classes
        self.l1 = l1
        self.l2 = l2
        binary = num_classes == 2
        self.linear = keras.layers.Dense(
            1 if binary else num_classes,
            activation="sigmoid" if binary else "softmax",
            kernel_regularizer=l1_l2(l1, l2),
            dtype=output_dtype(self.dtype_policy),
            name="linear",
        )

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], 1 if self.num_classes == 2 else self.num_classes)

    @property
    def coef_(self):
        return self._fitted()[0].T

    @property
    def intercept_(self):
        return self._fitted()[1]

    def get_config(self):
        return {
            **super().get_config(),
            "num_classes": self.num_classes,
            "l1": self.l1,
            "l2": self.l2,
        }
