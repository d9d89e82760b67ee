"""Batched, per-example-random augmentations and the multi-view pipeline.

Waveform augmentations map ``[B, T] -> [B, T]`` on the batch's device, draw their
parameters per example from torch's global RNG and apply themselves to each example with
probability ``p`` (see :class:`WaveformAugmentation`).
"""

from audiofsl.augmentations.amplitude import FADE_SHAPES, Fade, Gain, PolarityInversion
from audiofsl.augmentations.base import WaveformAugmentation
from audiofsl.augmentations.compose import OneOf, Sequence, SomeOf
from audiofsl.augmentations.filters import BandPass, BandStop, HighPass, LowPass
from audiofsl.augmentations.impulse_response import ImpulseResponse
from audiofsl.augmentations.masking import SpliceOut, TimeMasking
from audiofsl.augmentations.mixup import Mixup
from audiofsl.augmentations.noise import NOISE_COLORS, BackgroundNoise, ColoredNoise
from audiofsl.augmentations.phase_vocoder import PitchShift, TimeStretch
from audiofsl.augmentations.pipeline import AugmentationPipeline
from audiofsl.augmentations.specaugment import SpecAugment, random_band_mask, time_warp
from audiofsl.augmentations.time_domain import Shift, TimeInversion

__all__ = [
    "FADE_SHAPES",
    "NOISE_COLORS",
    "AugmentationPipeline",
    "BackgroundNoise",
    "BandPass",
    "BandStop",
    "ColoredNoise",
    "Fade",
    "Gain",
    "HighPass",
    "ImpulseResponse",
    "LowPass",
    "Mixup",
    "OneOf",
    "PitchShift",
    "PolarityInversion",
    "Sequence",
    "Shift",
    "SomeOf",
    "SpecAugment",
    "SpliceOut",
    "TimeInversion",
    "TimeMasking",
    "TimeStretch",
    "WaveformAugmentation",
    "random_band_mask",
    "time_warp",
]
