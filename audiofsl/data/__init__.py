"""Audio sources: records and their index, split strategies, streaming clip datasets and the
LightningDataModules that serve them."""

from audiofsl.data.audio_io import (
    AUDIO_EXTENSIONS,
    AudioLoadError,
    fit_length,
    load_audio,
    read_window,
)
from audiofsl.data.base import AudioDataModule
from audiofsl.data.clips import ClipDataset
from audiofsl.data.datamodules import FolderDataModule, SyntheticDataModule
from audiofsl.data.facts import DataFacts
from audiofsl.data.feasibility import EpisodeNeed
from audiofsl.data.folder import apply_class_pattern, read_manifest, scan_folder
from audiofsl.data.index import index_clips
from audiofsl.data.records import ClipRecord, IndexedClip
from audiofsl.data.settings import LoaderSettings
from audiofsl.data.splits import ClassSplit, FoldSplit, OfficialSplit, TrainSubset, read_split_file
from audiofsl.data.stratified import ClipSplit, stratified_folds
from audiofsl.data.synthetic import generate_synthetic_dataset
from audiofsl.data.windows import WindowDataset, window_starts

__all__ = [
    "AUDIO_EXTENSIONS",
    "AudioDataModule",
    "AudioLoadError",
    "ClassSplit",
    "ClipDataset",
    "ClipRecord",
    "ClipSplit",
    "DataFacts",
    "EpisodeNeed",
    "FoldSplit",
    "FolderDataModule",
    "IndexedClip",
    "LoaderSettings",
    "OfficialSplit",
    "SyntheticDataModule",
    "TrainSubset",
    "WindowDataset",
    "apply_class_pattern",
    "fit_length",
    "generate_synthetic_dataset",
    "index_clips",
    "load_audio",
    "read_manifest",
    "read_split_file",
    "read_window",
    "scan_folder",
    "stratified_folds",
    "window_starts",
]
