"""Encoders: features ``[B, C, F, L]`` -> embeddings ``[B, D]``."""

from audiofsl.encoders.conv4 import Conv4
from audiofsl.encoders.conv_blocks import ConvStack, conv_block
from audiofsl.encoders.crnn import CRNN

__all__ = ["CRNN", "Conv4", "ConvStack", "conv_block"]
