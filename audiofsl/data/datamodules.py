"""Data modules for the audio sources: a folder or manifest of your own, and synthetic audio."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from audiofsl.data.base import AudioDataModule
from audiofsl.data.clips import ClipRecord
from audiofsl.data.feasibility import EpisodeNeed
from audiofsl.data.folder import apply_class_pattern, read_manifest, scan_folder
from audiofsl.data.splits import ClassSplit
from audiofsl.data.synthetic import generate_synthetic_dataset
from audiofsl.samplers import EpisodeSpec, MiniBatchSpec


class FolderDataModule(AudioDataModule):
    """Audio files in class folders ``root/<class>/<clip>.{wav,flac,mp3,ogg}`` or a manifest.

    With ``manifest`` (a CSV with columns ``path,label``, paths relative to its folder) the
    manifest lists the clips and ``root`` is ignored. ``class_pattern`` optionally derives the
    class from each file name instead (see :func:`apply_class_pattern`). Explicit class lists
    win over the seeded ``split_sizes``, which win over ``split_ratios``.

    Args:
        root: folder with one sub-folder per class.
        manifest: CSV listing the clips (used instead of ``root``).
        sample_rate: sample rate of the loaded audio in Hz.
        clip_seconds: clip length in seconds.
        train_classes: class names of the train split (default: every class not in val/test).
        val_classes: class names of the val split.
        test_classes: class names of the test split.
        split_ratios: fractions of classes for train, val and test.
        split_seed: seed of the class split.
        num_workers: DataLoader worker processes (also the threads checking files).
        eval_batch_size: clips per evaluation batch.
        cache_audio: keep the decoded clips in memory.
        split_sizes: numbers of classes for train, val and test (wins over the ratios).
        class_pattern: regex whose first group, searched in the file stem, is the class.
        train_sampler: episodes or mini-batches for training (see :class:`AudioDataModule`).
        eval_needs: evaluation episodes per split (see :class:`AudioDataModule`).
        eval_episode: one evaluation episode for val and test (see :class:`AudioDataModule`).
        seed: seed of the training sampler.
        min_clip_seconds: shorter clips are reported and left out.
        eval_hop_seconds: evaluate every window of each clip (see :class:`AudioDataModule`).
    """

    def __init__(
        self,
        root: str | os.PathLike | None = None,
        manifest: str | os.PathLike | None = None,
        sample_rate: int = 16000,
        clip_seconds: float = 1.0,
        train_classes: Sequence[str] | None = None,
        val_classes: Sequence[str] | None = None,
        test_classes: Sequence[str] | None = None,
        split_ratios: Sequence[float] = (0.7, 0.1, 0.2),
        split_seed: int = 0,
        num_workers: int = 0,
        eval_batch_size: int = 64,
        cache_audio: bool = True,
        *,
        split_sizes: Sequence[int] | None = None,
        class_pattern: str | None = None,
        train_sampler: EpisodeSpec | MiniBatchSpec | None = None,
        eval_needs: dict[str, list[EpisodeNeed]] | None = None,
        eval_episode: EpisodeSpec | None = None,
        seed: int = 0,
        min_clip_seconds: float = 0.1,
        eval_hop_seconds: float | None = None,
    ) -> None:
        if root is None and manifest is None:
            raise ValueError(
                "FolderDataModule needs data.root (a folder of <class>/<clip> audio files) or "
                "data.manifest (a CSV with columns path,label)."
            )
        split = ClassSplit(
            train_classes, val_classes, test_classes, split_ratios, split_sizes, split_seed
        )
        super().__init__(
            sample_rate=sample_rate,
            clip_seconds=clip_seconds,
            split=split,
            train_sampler=train_sampler,
            eval_needs=eval_needs,
            eval_episode=eval_episode,
            seed=seed,
            num_workers=num_workers,
            eval_batch_size=eval_batch_size,
            cache_audio=cache_audio,
            min_clip_seconds=min_clip_seconds,
            eval_hop_seconds=eval_hop_seconds,
        )
        self.root = None if root is None else Path(root)
        self.manifest = None if manifest is None else Path(manifest)
        self.class_pattern = class_pattern

    def load_records(self) -> list[ClipRecord]:
        if self.manifest is not None:
            if not self.manifest.is_file():
                raise FileNotFoundError(
                    f"data.manifest: '{self.manifest}' does not exist; point it at a CSV with "
                    "columns path,label."
                )
            records = read_manifest(self.manifest)
        else:
            if not self.root.is_dir():
                raise FileNotFoundError(
                    f"data.root: folder '{self.root}' does not exist; set data.root to a folder "
                    "laid out as <root>/<class>/<clip>.wav (or set data.manifest)."
                )
            records = scan_folder(self.root)
        if self.class_pattern is not None:
            records = apply_class_pattern(records, self.class_pattern)
        return records


class SyntheticDataModule(AudioDataModule):
    """Procedural audio classes generated once into the data cache ``cache_dir`` (no download).

    ``prepare_data`` renders the files and their manifest with
    :func:`audiofsl.data.synthetic.generate_synthetic_dataset` (a no-op when a complete dataset
    with the same settings exists); ``setup`` reads them back through the manifest code. The
    default split of 100 classes is 64/16/20, as in the miniImageNet-style splits of
    Ravi & Larochelle (2017).

    The generated files are only ever written below ``cache_dir`` (``paths.data_dir/synthetic``
    in configs). ``root`` exists only to catch a common slip: setting ``data.root`` without
    ``data=folder`` is an error instead of generating audio into that folder.

    Args:
        cache_dir: cache folder of the generated datasets.
        n_classes: number of generated classes.
        clips_per_class: clips generated per class.
        clip_seconds: length of the generated clips and of the loaded clips, in seconds.
        sample_rate: sample rate in Hz.
        generation_seed: seed of the generated audio.
        split_ratios: fractions of classes for train, val and test.
        split_sizes: numbers of classes for train, val and test (wins over the ratios).
        split_seed: seed of the class split.
        train_sampler: episodes or mini-batches for training (see :class:`AudioDataModule`).
        eval_episode: the largest val/test episode (see :class:`AudioDataModule`).
        seed: seed of the training sampler.
        num_workers: DataLoader worker processes (also the threads checking files).
        eval_batch_size: clips per evaluation batch.
        cache_audio: keep the decoded clips in memory.
        eval_needs: evaluation episodes per split (see :class:`AudioDataModule`).
        min_clip_seconds: shorter clips are reported and left out.
        root: must be None (see above).
        clip_seconds_range: generate clips of seeded random lengths in this range (seconds)
            instead of ``clip_seconds`` each; training and evaluation still use windows of
            ``clip_seconds``.
        eval_hop_seconds: evaluate every window of each clip (see :class:`AudioDataModule`).
    """

    def __init__(
        self,
        cache_dir: str | os.PathLike = "data_cache/synthetic",
        n_classes: int = 100,
        clips_per_class: int = 20,
        clip_seconds: float = 1.0,
        sample_rate: int = 16000,
        generation_seed: int = 0,
        *,
        split_ratios: Sequence[float] = (0.64, 0.16, 0.2),
        split_sizes: Sequence[int] | None = None,
        split_seed: int = 0,
        train_sampler: EpisodeSpec | MiniBatchSpec | None = None,
        eval_episode: EpisodeSpec | None = None,
        seed: int = 0,
        num_workers: int = 0,
        eval_batch_size: int = 64,
        cache_audio: bool = True,
        eval_needs: dict[str, list[EpisodeNeed]] | None = None,
        min_clip_seconds: float = 0.1,
        root: str | os.PathLike | None = None,
        clip_seconds_range: tuple[float, float] | None = None,
        eval_hop_seconds: float | None = None,
    ) -> None:
        if root is not None:
            raise ValueError(
                f"data.root={root} is set, but data=synthetic generates its own audio into the "
                "data cache (paths.data_dir). To train on your folder, add data=folder: "
                f"python -m audiofsl.train data=folder data.root={root}"
            )
        super().__init__(
            sample_rate=sample_rate,
            clip_seconds=clip_seconds,
            split=ClassSplit(ratios=split_ratios, sizes=split_sizes, seed=split_seed),
            train_sampler=train_sampler,
            eval_needs=eval_needs,
            eval_episode=eval_episode,
            seed=seed,
            num_workers=num_workers,
            eval_batch_size=eval_batch_size,
            cache_audio=cache_audio,
            min_clip_seconds=min_clip_seconds,
            eval_hop_seconds=eval_hop_seconds,
        )
        self.cache_dir = Path(cache_dir)
        self.clip_seconds_range = clip_seconds_range
        self.n_classes = n_classes
        self.clips_per_class = clips_per_class
        self.generation_seed = generation_seed

    def prepare_data(self) -> None:
        self._generate()

    def load_records(self) -> list[ClipRecord]:
        # Idempotent: returns at once when prepare_data (or an earlier run) made the files.
        return read_manifest(self._generate())

    def _generate(self) -> Path:
        return generate_synthetic_dataset(
            self.cache_dir,
            n_classes=self.n_classes,
            clips_per_class=self.clips_per_class,
            clip_seconds=self.clip_seconds,
            sample_rate=self.sample_rate,
            seed=self.generation_seed,
            clip_seconds_range=self.clip_seconds_range,
        )
