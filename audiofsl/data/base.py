"""The LightningDataModule behind every audio source: splits, checks and loaders."""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod

import lightning as L
import torch
from lightning.pytorch.accelerators import CUDAAccelerator
from torch.utils.data import DataLoader, Subset

from audiofsl.data.clips import ClipDataset, ClipRecord
from audiofsl.data.feasibility import (
    EpisodeNeed,
    SplitMinimum,
    classes_needed,
    fit_needs,
    min_clips_to_keep,
)
from audiofsl.data.splits import SPLITS, ClassSplit
from audiofsl.data.validation import class_counts, drop_small_classes, validate_records
from audiofsl.data.windows import WindowDataset
from audiofsl.samplers import (
    EpisodeCollate,
    EpisodeSpec,
    EpisodicBatchSampler,
    MiniBatchSpec,
    ShuffledBatchSampler,
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
    files with one logged summary, and filling the audio cache when ``cache_audio``), drops
    classes with too few clips for the split's episodes (logged), and checks that ``n_way``
    classes remain (see :mod:`audiofsl.data.feasibility`: evaluation query counts the data
    cannot fill are lowered and reported in :attr:`episode_adjustments`). Splits are built
    lazily and once; ``train_set``/``val_set``/``test_set`` build theirs on first access (an
    empty val split is None and validation is skipped).

    Training batches are episodes (:class:`EpisodicBatchSampler` + :class:`EpisodeCollate`)
    for an :class:`EpisodeSpec`, or shuffled mini-batches for a :class:`MiniBatchSpec`. Both
    samplers read ``trainer.current_epoch`` each epoch, so batches and crops depend only on
    (``seed``, epoch), also after resuming. Evaluation loaders are sequential with "start"
    crops; ``predict`` serves the test split.

    Args:
        sample_rate: sample rate of the loaded audio in Hz.
        clip_seconds: clip length in seconds.
        split: how classes are divided between the splits (default: seeded 70/10/20 %).
        train_sampler: episodes or mini-batches for training (default: 5-way 5-shot episodes).
        eval_needs: the evaluation episode settings drawn from each split,
            ``{"val": [EpisodeNeed, ...], "test": [...]}`` (composition passes the run's).
        eval_episode: shorthand for one setting drawn from both val and test (used when
            ``eval_needs`` is None; default: 5-way 5-shot 5-query).
        seed: seed of the training sampler.
        num_workers: DataLoader worker processes (also the threads checking files).
        eval_batch_size: clips per evaluation batch.
        cache_audio: keep the decoded clips in memory.
        min_clip_seconds: clips shorter than this are reported and left out (they would be
            looped many times into a window).
        eval_hop_seconds: evaluate every window of each val/test clip, windows of
            ``clip_seconds`` this far apart (the last one loop-padded); None: one window, the
            clip's start. Training always draws one random window per clip.
    """

    def __init__(
        self,
        *,
        sample_rate: int = 16000,
        clip_seconds: float = 1.0,
        split: ClassSplit | None = None,
        train_sampler: EpisodeSpec | MiniBatchSpec | None = None,
        eval_needs: dict[str, list[EpisodeNeed]] | None = None,
        eval_episode: EpisodeSpec | None = None,
        seed: int = 0,
        num_workers: int = 0,
        eval_batch_size: int = 64,
        cache_audio: bool = True,
        min_clip_seconds: float = 0.1,
        eval_hop_seconds: float | None = None,
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
        if not isinstance(self.train_sampler, EpisodeSpec | MiniBatchSpec):
            raise TypeError(
                f"train_sampler must be an EpisodeSpec or a MiniBatchSpec, got {train_sampler!r}."
            )
        self.eval_needs = _eval_needs(eval_needs, eval_episode)
        if not min_clip_seconds >= 0:
            raise ValueError(f"data.min_clip_seconds={min_clip_seconds!r} must be >= 0.")
        self.min_clip_seconds = float(min_clip_seconds)
        if eval_hop_seconds is not None and not 0 < eval_hop_seconds <= clip_seconds:
            raise ValueError(
                f"data.eval_hop_seconds={eval_hop_seconds!r} must lie in (0, data.clip_seconds="
                f"{clip_seconds}] (or be null for one window per clip)."
            )
        self.eval_hop_seconds = eval_hop_seconds
        #: {setting: n_query} for evaluation settings lowered to fit the data (set up splits).
        self.episode_adjustments: dict[str, int] = {}
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
            self._classes = self.split.assign(
                [r.class_name for r in self._records], self._split_minimum()
            )
            log.info("classes per split: %s", {s: len(names) for s, names in self._classes.items()})
        return self._classes

    def _split_minimum(self) -> SplitMinimum:
        train = self._needs("train")
        return SplitMinimum(
            train=classes_needed(train),
            val=classes_needed(self._needs("val")),
            test=classes_needed(self._needs("test")),
            train_setting=f"{train[0].setting}.n_way",
        )

    def _needs(self, split: str) -> list[EpisodeNeed]:
        """The episode settings drawn from ``split``."""
        if split != "train":
            return self.eval_needs.get(split, [])
        spec = self.train_sampler
        if isinstance(spec, MiniBatchSpec):
            return [EpisodeNeed(2, 1, 0, "sampler", adjustable=False)]
        return [EpisodeNeed(spec.n_way, spec.n_shot, spec.n_query, "sampler", adjustable=False)]

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
            records,
            self.sample_rate,
            keep_audio=self.cache_audio,
            num_threads=self.num_workers,
            min_seconds=self.min_clip_seconds,
        )
        needs = self._needs(split)
        lowered = fit_needs(split, class_counts(records), needs)
        self.episode_adjustments.update(lowered)
        setting = ", ".join(need.setting for need in needs)
        min_clips = min_clips_to_keep(needs, lowered)
        records, audio = drop_small_classes(records, audio, min_clips, split, setting)
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
        epoch_fn = self._trainer_epoch if self.trainer is not None else None
        if isinstance(spec, EpisodeSpec):
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
        batches = ShuffledBatchSampler(
            len(dataset), spec.batch_size, spec.drop_last, self.seed, epoch_fn=epoch_fn
        )
        return self._loader(dataset, batch_sampler=WithCropSeeds(batches, self.seed))

    def val_dataloader(self) -> DataLoader | list:
        return [] if self.val_set is None else self.sequential_dataloader("val")

    def test_dataloader(self) -> DataLoader:
        return self.sequential_dataloader("test")

    def predict_dataloader(self) -> DataLoader:
        return self.sequential_dataloader("test")

    def sequential_dataloader(self, split: str) -> DataLoader:
        """Unshuffled evaluation batches of any split: every window (``eval_hop_seconds``) or
        the "start" crop of each clip, ``eval_batch_size`` at a time."""
        if split not in SPLITS:
            raise ValueError(f"sequential_dataloader: split={split!r} must be one of {SPLITS}.")
        dataset = self._dataset(split)
        if dataset is None:
            raise ValueError(
                f"the {split} split has no classes; give it some with data.split_ratios, "
                f"data.split_sizes or data.{split}_classes."
            )
        clips = dataset.with_crop("start")
        if self.eval_hop_seconds is not None:
            hop = max(1, round(self.eval_hop_seconds * self.sample_rate))
            clips = WindowDataset(clips, hop=hop)
        return self._loader(clips, batch_size=self.eval_batch_size)

    def statistics_dataloader(self, max_clips: int = 2000, batch_size: int = 64) -> DataLoader:
        """A seeded subset of at most ``max_clips`` training clips, "start"-cropped.

        For statistics fitted before training (global feature normalisation): the subset and
        the crops depend on nothing but the data, and reading them draws from no global RNG.
        """
        train = self.train_set.with_crop("start")
        order = torch.randperm(len(train), generator=torch.Generator().manual_seed(0))
        subset = Subset(train, order[:max_clips].tolist())
        return DataLoader(subset, batch_size=batch_size, generator=torch.Generator().manual_seed(0))

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


def _eval_needs(
    needs: dict[str, list[EpisodeNeed]] | None, episode: EpisodeSpec | None
) -> dict[str, list[EpisodeNeed]]:
    if needs is not None:
        unknown = set(needs) - {"val", "test"}
        if unknown:
            raise ValueError(f"eval_needs: unknown splits {sorted(unknown)}; use val and test.")
        return {split: list(items) for split, items in needs.items()}
    episode = episode if episode is not None else EpisodeSpec()
    if not isinstance(episode, EpisodeSpec):
        raise TypeError(f"eval_episode must be an EpisodeSpec, got {episode!r}.")
    need = EpisodeNeed(episode.n_way, episode.n_shot, episode.n_query, "eval_episode")
    return {"val": [need], "test": [need]}


def _check_int(name: str, value: object, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"data.{name}={value!r} must be an integer >= {minimum}.")
