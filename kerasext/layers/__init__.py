"""kerasext.layers: reusable building blocks, each a subclassed `keras.layers.Layer`."""

from kerasext.layers.conv_block import ConvBlock
from kerasext.layers.dense_block import DenseBlock
from kerasext.layers.inception_block import InceptionBlock
from kerasext.layers.parallel_conv import ParallelConv1D
from kerasext.layers.positional_embedding import PositionalEmbedding
from kerasext.layers.recurrent_block import RecurrentBlock
from kerasext.layers.transformer_encoder_block import TransformerEncoderBlock

__all__ = [
    "ConvBlock",
    "DenseBlock",
    "InceptionBlock",
    "ParallelConv1D",
    "PositionalEmbedding",
    "RecurrentBlock",
    "TransformerEncoderBlock",
]
