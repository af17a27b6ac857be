"""kerasext.tuning: a keras_tuner.HyperModel per architecture, and `describe` to inspect a space."""

from kerasext.tuning.base import KerasextHyperModel
from kerasext.tuning.cross_validated import CrossValidated
from kerasext.tuning.describe import describe
from kerasext.tuning.reading_list import (
    HyperEncoderDecoder,
    HyperInceptionNet,
    HyperTextCNN,
    HyperTransformerClassifier,
)
from kerasext.tuning.seed_models import (
    HyperConvNet,
    HyperLinearRegression,
    HyperLogisticRegression,
    HyperRecurrentNet,
)

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
