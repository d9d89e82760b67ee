"""Data modules for the audio sources: a folder or manifest of your own, and synthetic audio."""

from __future__ import annotations

import dataclasses
import os
import shlex
from collections.abc import Sequence
from pathlib import Path

from audiofsl.data.base import AudioDataModule
from audiofsl.data.folder import apply_class_pattern, read_manifest, scan_folder
from audiofsl.data.records import ClipRecord, IndexedClip
from audiofsl.data.splits import OfficialSplit
from audiofsl.data.stratified import stratified_folds
from audiofsl.data.synthetic import generate_synthetic_dataset


class FolderDataModule(AudioDataModule):
    """Audio files in class folders ``root/<class>/<clip>.{wav,flac,mp3,ogg}`` or a manifest.

    With ``manifest`` (a CSV with columns ``path,label``, paths relative to its folder, and
    optionally ``labels``, ``split`` and ``fold``: see :func:`read_manifest`) the manifest lists
    the clips and ``root`` is ignored. ``class_pattern`` optionally derives the class from each
    file name instead (see :func:`apply_class_pattern`). ``folds`` gives clips without folds
    seeded, stratified folds (:func:`~audiofsl.data.stratified.stratified_folds`, over the usable
    clips), for ``data/split=folds`` and the few-data study.

    A folder of your own fits the episodes to its size (``fit_to_data``, on by default): see
    :class:`AudioDataModule`.

    Args:
        root: folder with one sub-folder per class.
        manifest: CSV listing the clips (used instead of ``root``).
        class_pattern: regex whose first group, searched in the file stem, is the class.
        folds: number of seeded, stratified folds to make (None: the manifest's, or none).
        fold_seed: seed of those folds (fixed across runs of different seeds).
        fit_to_data: lower ``n_way`` and the mini-batch size to what the data holds.
        **kwargs: loader, split, subset, sampler and seed settings of
            :class:`AudioDataModule`.
    """

    def __init__(
        self,
        root: str | os.PathLike | None = None,
        manifest: str | os.PathLike | None = None,
        class_pattern: str | None = None,
        folds: int | None = None,
        fold_seed: int = 0,
        fit_to_data: bool = True,
        **kwargs,
    ) -> None:
        if root is None and manifest is None:
            raise ValueError(
                "FolderDataModule needs data.root (a folder of <class>/<clip> audio files) or "
                "data.manifest (a CSV with columns path,label)."
            )
        super().__init__(fit_to_data=fit_to_data, **kwargs)
        self.root = None if root is None else Path(root)
        self.manifest = None if manifest is None else Path(manifest)
        self.class_pattern = class_pattern
        self.folds = folds
        self.fold_seed = fold_seed

    def index_key(self) -> str:
        source = self.manifest if self.manifest is not None else self.root
        return f"{Path(source).resolve()}|{self.class_pattern}"

    def source_overrides(self) -> str:
        if self.manifest is not None:
            return f"data=folder data.manifest={shlex.quote(str(self.manifest))}"
        return f"data=folder data.root={shlex.quote(str(self.root))}"

    def example_folder(self) -> str:
        return "DIR" if self.manifest is not None else shlex.quote(str(self.root))

    def indexed_clips(self) -> list[IndexedClip]:
        """The usable clips, with the folds of ``folds`` when set."""
        if self._clips is None and self.folds is not None:
            clips = super().indexed_clips()
            if any(clip.record.fold is not None for clip in clips):
                raise ValueError(
                    f"data.folds={self.folds}: the manifest '{self.manifest}' gives folds of its "
                    "own (its fold column); remove data.folds to use them."
                )
            folds = stratified_folds([c.record.class_name for c in clips], self.folds,
                                     self.fold_seed)  # fmt: skip
            self._clips = [
                dataclasses.replace(c, record=dataclasses.replace(c.record, fold=fold))
                for c, fold in zip(clips, folds, strict=True)
            ]
        return super().indexed_clips()

    def load_records(self) -> list[ClipRecord]:
        if self.manifest is not None:
            if not self.manifest.is_file():
                raise FileNotFoundError(
                    f"data.manifest: file '{self.manifest}' does not exist; set data.manifest to "
                    "a CSV with columns path,label (or set data.root instead)."
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
    with the same settings exists); the records are read back through the manifest code. The
    default split of 100 classes is 64/16/20 (``data.split``), as in the miniImageNet-style
    splits of Ravi & Larochelle (2017).

    With ``mixtures > 0`` the source is multi-label like IRMAS: the class clips form the split
    ``"train"`` and the multi-label mixtures of 2 to ``max_labels`` classes the splits ``"val"``
    (every fourth, where a classifier's decision threshold is tuned) and ``"test"`` (batches
    then carry multi-hot ``"labels"``); the split must be an :class:`OfficialSplit` (default
    ``train=[train], val=[val], test=[test]``; ``data=synthetic_multilabel``).

    The generated files are only ever written below ``cache_dir`` (``paths.data_dir/synthetic``
    in configs). ``root`` exists only to catch a common slip: setting ``data.root`` without
    ``data=folder`` is an error instead of generating audio into that folder.

    Args:
        cache_dir: cache folder of the generated datasets.
        n_classes: number of generated classes.
        clips_per_class: clips generated per class.
        clip_seconds: length of the generated clips (default: the loader's window).
        clip_seconds_range: generate clips of seeded random lengths in this range (seconds)
            instead; training and evaluation still use windows of ``loader.clip_seconds``.
        generation_seed: seed of the generated audio.
        mixtures: multi-label test clips generated besides the class clips (0: none).
        max_labels: most classes in one mixture (2 to ``n_classes``).
        root: must be None (see above).
        **kwargs: loader, split, subset, sampler and seed settings of
            :class:`AudioDataModule`.
    """

    def __init__(
        self,
        cache_dir: str | os.PathLike = "data_cache/synthetic",
        n_classes: int = 100,
        clips_per_class: int = 20,
        clip_seconds: float | None = None,
        clip_seconds_range: Sequence[float] | None = None,
        generation_seed: int = 0,
        mixtures: int = 0,
        max_labels: int = 3,
        root: str | os.PathLike | None = None,
        **kwargs,
    ) -> None:
        if mixtures and kwargs.get("split") is None:
            kwargs["split"] = OfficialSplit(train=["train"], val=["val"], test=["test"])
        if mixtures and not isinstance(kwargs["split"], OfficialSplit):
            raise ValueError(
                f"data.mixtures={mixtures} makes splits of its own (train: the class clips, "
                "val and test: the mixtures), so data.split must be the official split: use "
                "data=synthetic_multilabel."
            )
        if root is not None:
            raise ValueError(
                f"data.root={root} is set, but data=synthetic generates its own audio into the "
                "data cache (paths.data_dir). To train on your folder, add data=folder: "
                f"python -m audiofsl.train data=folder data.root={root}"
            )
        super().__init__(**kwargs)
        self.cache_dir = Path(cache_dir)
        self.n_classes = n_classes
        self.clips_per_class = clips_per_class
        self.clip_seconds = clip_seconds if clip_seconds is not None else self.loader.clip_seconds
        self.clip_seconds_range = clip_seconds_range
        self.generation_seed = generation_seed
        self.mixtures = mixtures
        self.max_labels = max_labels

    def index_key(self) -> str:
        return str(self._generate().resolve())

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
            sample_rate=self.loader.sample_rate,
            seed=self.generation_seed,
            clip_seconds_range=self.clip_seconds_range,
            mixtures=self.mixtures,
            max_labels=self.max_labels,
        )
