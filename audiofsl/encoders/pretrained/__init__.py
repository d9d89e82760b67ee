"""Encoders with published weights, loaded from local files (downloads only when allowed):
waveform ``[B, 1, 1, T]`` (``frontend=waveform``) -> embeddings ``[B, D]``."""

from audiofsl.encoders.pretrained.base import Adapter, PretrainedEncoder
from audiofsl.encoders.pretrained.cache import EmbeddingCache
from audiofsl.encoders.pretrained.efficientat import EfficientATMN
from audiofsl.encoders.pretrained.panns import CNN14
from audiofsl.encoders.pretrained.resample import DeviceResampler
from audiofsl.encoders.pretrained.transformers_audio import TransformersAudioEncoder

__all__ = [
    "CNN14",
    "Adapter",
    "DeviceResampler",
    "EfficientATMN",
    "EmbeddingCache",
    "PretrainedEncoder",
    "TransformersAudioEncoder",
]
