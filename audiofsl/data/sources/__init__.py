"""One thin data module per dataset family: each turns its official layout into records."""

from audiofsl.data.sources.birdclef2020 import BirdCLEF2020DataModule
from audiofsl.data.sources.esc50 import ESC50DataModule
from audiofsl.data.sources.esc50_folds import ESC50FoldsDataModule
from audiofsl.data.sources.fma import FMADataModule
from audiofsl.data.sources.fsdkaggle18 import FSDKaggle18DataModule
from audiofsl.data.sources.irmas import IRMASDataModule
from audiofsl.data.sources.metaaudio import MetaAudioDataModule, split_file
from audiofsl.data.sources.nsynth import NSynthDataModule
from audiofsl.data.sources.urbansound8k import UrbanSound8KDataModule
from audiofsl.data.sources.voxceleb1 import VoxCeleb1DataModule

__all__ = [
    "BirdCLEF2020DataModule",
    "ESC50DataModule",
    "ESC50FoldsDataModule",
    "FMADataModule",
    "FSDKaggle18DataModule",
    "IRMASDataModule",
    "MetaAudioDataModule",
    "NSynthDataModule",
    "UrbanSound8KDataModule",
    "VoxCeleb1DataModule",
    "split_file",
]
