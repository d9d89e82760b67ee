"""Frontends: waveform ``[B, T]`` -> features ``[B, C, F, L]``."""

from audiofsl.frontends.base import Frontend
from audiofsl.frontends.clar import CLARSpectrogram
from audiofsl.frontends.logmel import LogMel, power_to_db
from audiofsl.frontends.mfcc import MFCC
from audiofsl.frontends.normalization import FeatureNormalization
from audiofsl.frontends.waveform import Waveform

__all__ = [
    "CLARSpectrogram",
    "FeatureNormalization",
    "Frontend",
    "LogMel",
    "MFCC",
    "Waveform",
    "power_to_db",
]
