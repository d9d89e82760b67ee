"""The LightningDataModule behind every audio source: splits, checks and loaders."""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod

import lightning as L
import torch
from lightning.pytorch.accelerators import CUDAAccelerator
from torch.utils.data import BatchSampler, DataLoader, RandomSampler

from audiofsl.data.clips import ClipDataset, ClipRecord
from audiofsl.data.splits import SPLITS, ClassSplit
from audiofsl.data.validation import drop_small_classes, require_classes, validate_records
from audiofsl.samplers import (
    EpisodeCollate,
    EpisodeSpec,
    EpisodicBatchSampler,
    MiniBatchSpec,
    WithCropSeeds,
)

log = logging.getLogger(__name__)

_STAGE_SPLITS = {
    "fit": ("train", "val"),
    "validate": ("val",),
    "test": ("test",),
    "predict": ("test",),
    None: SPLITS,
}


class AudioDataModule(L.LightningDataModule, ABC):
    """Class-disjoint train/val/test clip datasets and their loaders.

    A subclass only says where the clips are (:meth:`load_records`). ``setup(stage)`` then
    splits the classes, decodes every file of the needed splits once (leaving out unusable
    files with one warning, and filling the audio cache when ``cache_audio``), drops classes
    with too few clips for the split's episodes (logged), and checks that ``n_way`` classes
    remain. Splits are built lazily and once; ``train_set``/``val_set``/``test_set`` build
    theirs on first access (an empty val split is None and validation is skipped).

    Training batches are episodes (:class:`EpisodicBatchSampler` + :class:`EpisodeCollate`)
    for an :class:`EpisodeSpec`, or shuffled mini-batches for a :class:`MiniBatchSpec`. The
    episodic sampler reads ``trainer.current_epoch`` each epoch, so episodes depend only on
    (``seed``, epoch), also after resuming. Evaluation loaders are sequential with "start"
    crops; ``predict`` serves the test split.

    Args:
        sample_rate: sample rate of the loaded audio in Hz.
        clip_seconds: clip length in seconds.
        split: how classes are divided between the splits (default: seeded 70/10/20 %).
        train_sampler: episodes or mini-batches for training (default: 5-way 5-shot episodes).
        eval_episode: the largest val/test episode, fixing the minimum number of classes and of
            clips per class in val and test (default: 5-way 5-shot 5-query).
        seed: seed of the training sampler.
        num_workers: DataLoader worker processes (also the threads checking files).
        eval_batch_size: clips per evaluation batch.
        cache_audio: keep the decoded clips in memory.
    """

    def __init__(
        self,
        *,
        sample_rate: int = 16000,
        clip_seconds: float = 1.0,
        split: ClassSplit | None = None,
        train_sampler: EpisodeSpec | MiniBatchSpec | None = None,
        eval_episode: EpisodeSpec | None = None,
        seed: int = 0,
        num_workers: int = 0,
        eval_batch_size: int = 64,
        cache_audio: bool = True,
    ) -> None:
        super().__init__()
        _check_int("sample_rate", sample_rate, 1)
        _check_int("seed", seed, 0)
        _check_int("num_workers", num_workers, 0)
        _check_int("eval_batch_size", eval_batch_size, 1)
        if not clip_seconds > 0 or round(clip_seconds * sample_rate) < 1:
            raise ValueError(f"data.clip_seconds={clip_seconds!r} must give at least one sample.")
        self.sample_rate = sample_rate
        self.clip_seconds = float(clip_seconds)
        self.split = split if split is not None else ClassSplit()
        self.train_sampler = train_sampler if train_sampler is not None else EpisodeSpec()
        self.eval_episode = eval_episode if eval_episode is not None else EpisodeSpec()
        if not isinstance(self.train_sampler, EpisodeSpec | MiniBatchSpec):
            raise TypeError(
                f"train_sampler must be an EpisodeSpec or a MiniBatchSpec, got {train_sampler!r}."
            )
        if not isinstance(self.eval_episode, EpisodeSpec):
            raise TypeError(f"eval_episode must be an EpisodeSpec, got {eval_episode!r}.")
        self.seed = seed
        self.num_workers = num_workers
        self.eval_batch_size = eval_batch_size
        self.cache_audio = bool(cache_audio)
        self._records: list[ClipRecord] | None = None
        self._classes: dict[str, list[str]] | None = None
        self._datasets: dict[str, ClipDataset | None] = {}

    @abstractmethod
    def load_records(self) -> list[ClipRecord]:
        """Every clip of the source with its class name (implemented by each source)."""

    # ----------------------------------------------------------------- datasets
    @property
    def clip_samples(self) -> int:
        """Samples per clip: ``round(clip_seconds * sample_rate)``."""
        return round(self.clip_seconds * self.sample_rate)

    @property
    def train_set(self) -> ClipDataset:
        return self._dataset("train")

    @property
    def val_set(self) -> ClipDataset | None:
        return self._dataset("val")

    @property
    def test_set(self) -> ClipDataset | None:
        return self._dataset("test")

    @property
    def n_train_classes(self) -> int:
        """Classes of the training split (sets it up if needed)."""
        return len(self.train_set.class_names)

    def setup(self, stage: str | None = None) -> None:
        if stage not in _STAGE_SPLITS:
            raise ValueError(f"setup: unknown stage {stage!r}; use one of {list(_STAGE_SPLITS)}.")
        for split in _STAGE_SPLITS[stage]:
            self._dataset(split)

    def class_assignment(self) -> dict[str, list[str]]:
        """The class names of each split, before files are checked."""
        if self._classes is None:
            self._records = self.load_records()
            self._classes = self.split.assign([r.class_name for r in self._records])
            log.info("classes per split: %s", {s: len(names) for s, names in self._classes.items()})
        return self._classes

    def _requirements(self, split: str) -> tuple[int, str, int, str]:
        """Clips per class and classes a split needs, each with the setting asking for it."""
        spec = self.train_sampler if split == "train" else self.eval_episode
        if isinstance(spec, MiniBatchSpec):
            return 1, "train_sampler", 2, "classification (MiniBatchSpec)"
        name = "train_sampler" if split == "train" else "eval_episode"
        clips = f"{name}.n_shot + n_query"
        return spec.clips_per_class, clips, spec.n_way, f"{name}.n_way={spec.n_way}"

    def _dataset(self, split: str) -> ClipDataset | None:
        if split not in self._datasets:
            self._datasets[split] = self._build(split)
        return self._datasets[split]

    def _build(self, split: str) -> ClipDataset | None:
        wanted = set(self.class_assignment()[split])
        if not wanted and split != "train":
            log.info("the %s split has no classes", split)
            return None
        records = [r for r in self._records if r.class_name in wanted]
        records, audio = validate_records(
            records, self.sample_rate, keep_audio=self.cache_audio, num_threads=self.num_workers
        )
        min_clips, clips_setting, min_classes, classes_setting = self._requirements(split)
        records, audio = drop_small_classes(records, audio, min_clips, split, clips_setting)
        require_classes(records, min_classes, min_clips, split, classes_setting)
        names = sorted({r.class_name for r in records})
        return ClipDataset(
            records,
            {name: i for i, name in enumerate(names)},
            self.sample_rate,
            self.clip_seconds,
            crop="random" if split == "train" else "start",
            cache_audio=self.cache_audio,
            audio=audio,
        )

    # ----------------------------------------------------------------- loaders
    def train_dataloader(self) -> DataLoader:
        dataset, spec = self.train_set, self.train_sampler
        if isinstance(spec, EpisodeSpec):
            epoch_fn = self._trainer_epoch if self.trainer is not None else None
            sampler = EpisodicBatchSampler(dataset.labels, spec, self.seed, epoch_fn=epoch_fn)
            collate = EpisodeCollate.from_spec(spec)
            return self._loader(
                dataset, batch_sampler=WithCropSeeds(sampler, self.seed), collate_fn=collate
            )
        if spec.drop_last and len(dataset) < spec.batch_size:
            raise ValueError(
                f"train_sampler.batch_size={spec.batch_size} exceeds the {len(dataset)} training "
                "clips, so drop_last=True leaves no batch; lower batch_size."
            )
        order = RandomSampler(dataset, generator=torch.Generator().manual_seed(self.seed))
        batches = BatchSampler(order, spec.batch_size, spec.drop_last)
        return self._loader(dataset, batch_sampler=WithCropSeeds(batches, self.seed))

    def val_dataloader(self) -> DataLoader | list:
        dataset = self.val_set
        return [] if dataset is None else self._loader(dataset, batch_size=self.eval_batch_size)

    def test_dataloader(self) -> DataLoader:
        return self.sequential_dataloader("test")

    def predict_dataloader(self) -> DataLoader:
        return self.sequential_dataloader("test")

    def sequential_dataloader(self, split: str) -> DataLoader:
        """Unshuffled "start"-cropped batches of ``eval_batch_size`` clips of any split."""
        if split not in SPLITS:
            raise ValueError(f"sequential_dataloader: split={split!r} must be one of {SPLITS}.")
        dataset = self._dataset(split)
        if dataset is None:
            raise ValueError(
                f"the {split} split has no classes; give it some with data.split_ratios, "
                f"data.split_sizes or data.{split}_classes."
            )
        return self._loader(dataset.with_crop("start"), batch_size=self.eval_batch_size)

    def _loader(self, dataset: ClipDataset, **kwargs) -> DataLoader:
        # Every loader iterator draws a worker base seed; from its own generator, that draw
        # leaves the global RNG (augmentations) alone whatever num_workers is.
        return DataLoader(
            dataset,
            generator=torch.Generator().manual_seed(self.seed),
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
            pin_memory=self.trainer is not None
            and isinstance(self.trainer.accelerator, CUDAAccelerator),
            **kwargs,
        )

    def _trainer_epoch(self) -> int:
        return self.trainer.current_epoch if self.trainer is not None else 0


def _check_int(name: str, value: object, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"data.{name}={value!r} must be an integer >= {minimum}.")
