"""kerasext.models: architectures as subclassed `keras.Model`s, built from kerasext.layers."""

from kerasext.models.conv_net import ConvNet
from kerasext.models.linear_regression import LinearRegression
from kerasext.models.logistic_regression import LogisticRegression
from kerasext.models.recurrent_net import RecurrentNet

__all__ = [
    "ConvNet",
    "LinearRegression",
    "LogisticRegression",
    "RecurrentNet",
]
