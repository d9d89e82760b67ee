"""Audio clips, their classes and splits, and the LightningDataModules that serve them."""

from audiofsl.data.audio_io import AUDIO_EXTENSIONS, AudioLoadError, fit_length, load_audio
from audiofsl.data.base import AudioDataModule
from audiofsl.data.clips import ClipDataset, ClipRecord
from audiofsl.data.datamodules import FolderDataModule, SyntheticDataModule
from audiofsl.data.feasibility import EpisodeNeed
from audiofsl.data.folder import apply_class_pattern, read_manifest, scan_folder
from audiofsl.data.splits import ClassSplit
from audiofsl.data.synthetic import generate_synthetic_dataset
from audiofsl.data.validation import validate_records
from audiofsl.data.windows import WindowDataset, window_starts

__all__ = [
    "AUDIO_EXTENSIONS",
    "AudioDataModule",
    "AudioLoadError",
    "ClassSplit",
    "ClipDataset",
    "ClipRecord",
    "EpisodeNeed",
    "FolderDataModule",
    "SyntheticDataModule",
    "WindowDataset",
    "apply_class_pattern",
    "fit_length",
    "generate_synthetic_dataset",
    "load_audio",
    "read_manifest",
    "scan_folder",
    "validate_records",
    "window_starts",
]
