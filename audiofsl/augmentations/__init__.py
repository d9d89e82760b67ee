"""Batched, per-example-random augmentations and the multi-view pipeline."""

from audiofsl.augmentations.pipeline import AugmentationPipeline
from audiofsl.augmentations.specaugment import SpecAugment, random_band_mask

__all__ = ["AugmentationPipeline", "SpecAugment", "random_band_mask"]
