"""Frontends: waveform ``[B, T]`` -> features ``[B, C, F, L]``."""

from audiofsl.frontends.base import Frontend
from audiofsl.frontends.logmel import LogMel, power_to_db
from audiofsl.frontends.mfcc import MFCC
from audiofsl.frontends.normalization import FeatureNormalization

__all__ = ["FeatureNormalization", "Frontend", "LogMel", "MFCC", "power_to_db"]
