"""kerasext.models: architectures as subclassed `keras.Model`s, built from kerasext.layers."""

from kerasext.models.conv_net import ConvNet
from kerasext.models.encoder_decoder import EncoderDecoder
from kerasext.models.inception_net import InceptionNet
from kerasext.models.linear_regression import LinearRegression
from kerasext.models.logistic_regression import LogisticRegression
from kerasext.models.recurrent_net import RecurrentNet
from kerasext.models.text_cnn import TextCNN
from kerasext.models.transformer_classifier import TransformerClassifier

__all__ = [
    "ConvNet",
    "EncoderDecoder",
    "InceptionNet",
    "LinearRegression",
    "LogisticRegression",
    "RecurrentNet",
    "TextCNN",
    "TransformerClassifier",
]
