"""Encoders: features ``[B, C, F, L]`` -> embeddings ``[B, D]``."""

from audiofsl.encoders.conv4 import Conv4
from audiofsl.encoders.conv_blocks import ConvStack, OutputBlock, OutputBlockSettings, conv_block
from audiofsl.encoders.crnn import CRNN
from audiofsl.encoders.efficientnet import EfficientNetB0
from audiofsl.encoders.resnet import ResNet1D18, ResNet18
from audiofsl.encoders.vgg import PonsVGG

__all__ = [
    "CRNN",
    "Conv4",
    "ConvStack",
    "EfficientNetB0",
    "OutputBlock",
    "OutputBlockSettings",
    "PonsVGG",
    "ResNet18",
    "ResNet1D18",
    "conv_block",
]
