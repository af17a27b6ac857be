"""kerasext.tuning: a keras_tuner.HyperModel per architecture, and `describe` to inspect a space."""

from kerasext.tuning.base import KerasextHyperModel
from kerasext.tuning.conv_net import HyperConvNet
from kerasext.tuning.cross_validated import CrossValidated
from kerasext.tuning.describe import describe
from kerasext.tuning.encoder_decoder import HyperEncoderDecoder
from kerasext.tuning.inception_net import HyperInceptionNet
from kerasext.tuning.linear_regression import HyperLinearRegression
from kerasext.tuning.logistic_regression import HyperLogisticRegression
from kerasext.tuning.recurrent_net import HyperRecurrentNet
from kerasext.tuning.text_cnn import HyperTextCNN
from kerasext.tuning.transformer_classifier import HyperTransformerClassifier

__all__ = [
    "CrossValidated",
    "HyperConvNet",
    "HyperEncoderDecoder",
    "HyperInceptionNet",
    "HyperLinearRegression",
    "HyperLogisticRegression",
    "HyperRecurrentNet",
    "HyperTextCNN",
    "HyperTransformerClassifier",
    "KerasextHyperModel",
    "describe",
]
