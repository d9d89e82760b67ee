"""The LightningDataModule behind every audio source: index, split, check, serve."""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from pathlib import Path

import lightning as L
from lightning.pytorch.accelerators import CUDAAccelerator
from torch.utils.data import DataLoader

from audiofsl.data.clips import ClipDataset
from audiofsl.data.facts import DataFacts
from audiofsl.data.feasibility import (
    EpisodeNeed,
    SplitMinimum,
    fit_needs,
    fit_to_classes,
    min_clips_to_keep,
)
from audiofsl.data.index import index_clips, report_unusable
from audiofsl.data.loaders import evaluation_loader, statistics_loader, training_loader
from audiofsl.data.records import ClipRecord, IndexedClip
from audiofsl.data.settings import LoaderSettings
from audiofsl.data.splits import (
    SPLITS,
    ClassSplit,
    FoldSplit,
    OfficialSplit,
    TrainSubset,
    assign_stored_classes,
    keep_stored_classes,
)
from audiofsl.data.stratified import ClipSplit
from audiofsl.data.validation import class_counts, drop_small_classes
from audiofsl.distributed import World
from audiofsl.samplers import EpisodeSpec, MiniBatchSpec

log = logging.getLogger(__name__)

SplitStrategy = ClassSplit | ClipSplit | FoldSplit | OfficialSplit
#: Splits of more classes than this (unlabelled clips, each its own class) are not stored.
STORED_CLASSES_LIMIT = 5000
_STAGE_SPLITS = {
    "fit": ("train", "val"),
    "validate": ("val",),
    "test": ("test",),
    "predict": ("test",),
    None: SPLITS,
}


class AudioDataModule(L.LightningDataModule, ABC):
    """Train/val/test clip datasets of one source, and their loaders.

    A subclass turns its official layout into records (:meth:`load_records`) and names what
    identifies its copy (:meth:`index_key`). The first use indexes every file once
    (:func:`audiofsl.data.index.index_clips`: headers read and checked, kept as a CSV under
    ``loader.index_dir`` and reused while the files are unchanged); unusable and too-short
    files are left out with one logged summary. The ``split`` strategy then assigns the clips to
    the splits (disjoint classes, folds, or the dataset's own split), ``subset`` thins the
    training split, and each split drops the classes too small for its episodes (logged) and
    checks that its episodes can be drawn (see :mod:`audiofsl.data.feasibility`; evaluation
    query counts the data cannot fill are lowered and reported in :attr:`adjusted_settings`).
    With ``fit_to_data`` (a folder of your own) the ``n_way`` of training episodes and
    evaluation settings is lowered too when the classes cannot hold it, and so is a mini-batch
    size larger than the training split, each with a warning.

    Once set up, :meth:`split_class_names` gives the classes each split holds; a run stores them
    (``data.split_classes``), and a data module given them as ``split_classes`` rebuilds exactly
    that split (see :func:`audiofsl.data.splits.assign_stored_classes`), whatever its episodes.
    A split whose decoded audio fits the remaining ``loader.cache_mb`` is held in RAM; the
    others stream, each worker decoding only the window it needs.

    Training batches are episodes for an :class:`EpisodeSpec` or shuffled mini-batches for a
    :class:`MiniBatchSpec`; both depend only on (``seed``, epoch), also after resuming.
    Evaluation loaders serve every window (or the start) of each clip in order.

    Args:
        loader: shared loader settings (sample rate, window, workers, cache, index).
        split: how clips are assigned to the splits (default: seeded 70/10/20 % of classes).
        subset: thinning of the training split (label fraction, cap per class).
        train_sampler: episodes or mini-batches for training (default: 5-way 5-shot episodes).
        eval_needs: the evaluation settings drawn from each split,
            ``{"val": [EpisodeNeed, ...], "test": [...]}`` (composition passes the run's).
        eval_episode: shorthand for one setting drawn from val and test (when ``eval_needs``
            is None; default 5-way 5-shot 5-query).
        seed: seed of the training sampler and crops.
        split_classes: the classes of each split a run found (``{"train": [...], "val": [...],
            "test": [...]}``), to rebuild its split; None splits afresh.
        fit_to_data: lower ``n_way`` and the mini-batch size to what the data holds.
    """

    def __init__(
        self,
        *,
        loader: LoaderSettings | None = None,
        split: SplitStrategy | None = None,
        subset: TrainSubset | None = None,
        train_sampler: EpisodeSpec | MiniBatchSpec | None = None,
        eval_needs: dict[str, list[EpisodeNeed]] | None = None,
        eval_episode: EpisodeSpec | None = None,
        seed: int = 0,
        split_classes: Mapping[str, Sequence[str] | None] | None = None,
        fit_to_data: bool = False,
    ) -> None:
        super().__init__()
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ValueError(f"data.seed={seed!r} must be an integer >= 0.")
        self.loader = loader if loader is not None else LoaderSettings()
        self.split = split if split is not None else ClassSplit()
        self.subset = subset if subset is not None else TrainSubset()
        self.train_sampler = train_sampler if train_sampler is not None else EpisodeSpec()
        if not isinstance(self.train_sampler, EpisodeSpec | MiniBatchSpec):
            raise TypeError(
                f"train_sampler must be an EpisodeSpec or a MiniBatchSpec, got {train_sampler!r}."
            )
        if self.subset.keep_unlabelled and isinstance(self.train_sampler, EpisodeSpec):
            raise ValueError(
                "data.subset.keep_unlabelled needs mini-batch training, as episodes cannot be "
                "drawn from clips without labels: set sampler=batch"
            )
        self.eval_needs = _eval_needs(eval_needs, eval_episode)
        self.seed = seed
        self.split_classes = None if split_classes is None else dict(split_classes)
        self.fit_to_data = bool(fit_to_data)
        #: {command-line key: value} of the settings lowered to fit the data, e.g.
        #: ``{"evaluation.test.0.n_query": 11, "sampler.n_way": 3}`` (filled in by the set-up).
        self.adjusted_settings: dict[str, int] = {}
        self._split_classes: dict[str, list[str]] = {}
        #: The training split's clips without labels (``subset.label_fraction`` < 1).
        self.unlabelled: list[ClipRecord] = []
        self._clips: list[IndexedClip] | None = None
        self._assigned: dict[str, list[ClipRecord]] | None = None
        self._datasets: dict[str, ClipDataset | None] = {}
        self._cache_left_mb = self.loader.cache_mb

    # ----------------------------------------------------------------- the source
    @abstractmethod
    def load_records(self) -> list[ClipRecord]:
        """Every clip of the source, from its official layout."""

    def index_key(self) -> str:
        """What identifies this copy and its records (the index file's name hashes it)."""
        return type(self).__name__

    @property
    def sample_rate(self) -> int:
        return self.loader.sample_rate

    @property
    def clip_samples(self) -> int:
        return self.loader.clip_samples

    def indexed_clips(self) -> list[IndexedClip]:
        """The usable clips of the source (indexing it on first use)."""
        if self._clips is None:
            records = self.load_records()
            clips = index_clips(
                records, self._index_path(), self.loader.index_check, self.loader.num_workers or 4
            )
            minimum = self.loader.min_clip_seconds
            short = [
                (
                    c.record.path,
                    f"too short ({c.seconds:.3f} s < data.loader.min_clip_seconds={minimum:g})",
                )
                for c in clips
                if c.usable and c.seconds < minimum
            ]
            report_unusable(clips, short)
            too_short = {path for path, _ in short}
            self._clips = [c for c in clips if c.usable and c.record.path not in too_short]
            if not self._clips:
                raise ValueError(f"{type(self).__name__}: no usable audio file (see the log).")
        return self._clips

    def _index_path(self) -> Path | None:
        if self.loader.index_dir is None:
            return None
        digest = hashlib.sha256(self.index_key().encode()).hexdigest()[:16]
        return Path(self.loader.index_dir) / f"{type(self).__name__}-{digest}.csv"

    # ----------------------------------------------------------------- splits
    def assignment(self) -> dict[str, list[ClipRecord]]:
        """The records of each split, before small classes are dropped."""
        if self._assigned is None:
            records = [clip.record for clip in self.indexed_clips()]
            if self.split_classes is not None:
                self._assigned = assign_stored_classes(records, self.split, self.split_classes)
            else:
                self._fit_to_classes(len({r.class_name for r in records}))
                self._assigned = self.split.assign_records(records, self._split_minimum())
            if self.subset.active:
                self._assigned["train"], self.unlabelled = self.subset.apply(
                    self._assigned["train"]
                )
            log.info("clips per split: %s", {s: len(r) for s, r in self._assigned.items()})
        return self._assigned

    def _fit_to_classes(self, n_classes: int) -> None:
        """Make a ratio split of disjoint classes hold the training and test episodes (see
        :func:`~audiofsl.data.feasibility.fit_to_classes`)."""
        minimum = self._split_minimum()
        if isinstance(self.split, ClassSplit) and self.split.adapts and minimum.test:
            advice = {"source": self.source_overrides(), "support": self.example_folder()}
            self._use_fitted(fit_to_classes(n_classes, minimum, self.fit_to_data, **advice))

    def _use_fitted(self, fitted: Mapping[str, EpisodeNeed]) -> None:
        """Draw the fitted episode settings from now on, and record what changed."""
        for split in SPLITS:
            for need in self._needs(split):
                new = fitted.get(need.setting)
                if new is None or new == need:
                    continue
                for name in ("n_way", "n_query"):
                    if getattr(new, name) != getattr(need, name):
                        self.adjusted_settings[f"{need.setting}.{name}"] = getattr(new, name)
                if split == "train":
                    self.train_sampler = dataclasses.replace(self.train_sampler, n_way=new.n_way)
                else:
                    self.eval_needs[split] = [
                        new if n.setting == need.setting else n for n in self.eval_needs[split]
                    ]

    @property
    def episode_adjustments(self) -> dict[str, int]:
        """{setting: n_query} of the evaluation settings whose ``n_query`` was lowered."""
        suffix = ".n_query"
        return {key[: -len(suffix)]: value for key, value in self.adjusted_settings.items()
                if key.endswith(suffix)}  # fmt: skip

    def split_class_names(self) -> dict[str, list[str] | None]:
        """The classes each split holds once set up (widened, small classes dropped): what a
        run stores as ``data.split_classes``. Splits sharing their classes list at most
        :data:`STORED_CLASSES_LIMIT` classes (None beyond: every class, as assigned)."""
        self.setup(None)
        shared = not self.split.class_disjoint
        return {s: None if shared and len(names) > STORED_CLASSES_LIMIT else names
                for s, names in self._split_classes.items()}  # fmt: skip

    def data_facts(self) -> DataFacts:
        """Set up every split and return what the run learns from them (see
        :class:`~audiofsl.data.facts.DataFacts`)."""
        self.setup(None)
        train = self.train_set
        return DataFacts(
            class_names=tuple(train.class_names),
            label_counts=tuple(train.label_counts().tolist()),
            n_train_clips=len(train),
            split_classes=self.split_class_names(),
            adjusted_settings=dict(self.adjusted_settings),
        )

    def source_overrides(self) -> str:
        """The command-line overrides that select this data (for advice in messages)."""
        return ""

    def example_folder(self) -> str:
        """A folder of ``<class>/<clip>`` files of this data, for enrolment advice."""
        return "DIR"

    def class_assignment(self) -> dict[str, list[str]]:
        """The class names of each split."""
        return {s: sorted({r.class_name for r in recs}) for s, recs in self.assignment().items()}

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
        return len(self.train_set.class_names)

    def setup(self, stage: str | None = None) -> None:
        if stage not in _STAGE_SPLITS:
            raise ValueError(f"setup: unknown stage {stage!r}; use one of {list(_STAGE_SPLITS)}.")
        for split in _STAGE_SPLITS[stage]:
            self._dataset(split)

    def _split_minimum(self) -> SplitMinimum:
        return SplitMinimum({split: self._needs(split) for split in SPLITS})

    def _needs(self, split: str) -> list[EpisodeNeed]:
        if split != "train":
            return self.eval_needs.get(split, [])
        spec = self.train_sampler
        if isinstance(spec, MiniBatchSpec):
            return [EpisodeNeed(2, 1, 0, "sampler", adjustable=False)]
        return [EpisodeNeed.of(spec, "sampler", adjustable=False)]

    def _dataset(self, split: str) -> ClipDataset | None:
        if split not in self._datasets:
            self._datasets[split] = self._build(split)
        return self._datasets[split]

    def _build(self, split: str) -> ClipDataset | None:
        records = self.assignment()[split]
        records = keep_stored_classes(records, (self.split_classes or {}).get(split))
        self._split_classes[split] = []
        if not records and split != "train":
            log.info("the %s split has no clips", split)
            return None
        needs = self._needs(split)
        fitted = fit_needs(split, class_counts(records), needs, self.fit_to_data)
        self._use_fitted(fitted)
        setting = ", ".join(need.setting for need in needs)
        records, _ = drop_small_classes(
            records, None, min_clips_to_keep(needs, fitted), split, setting
        )
        self._split_classes[split] = sorted({r.class_name for r in records})
        unlabelled = []
        if split == "train" and self.subset.keep_unlabelled:
            unlabelled = self.unlabelled
            records = [*records, *unlabelled]
        if split == "train":
            self._fit_batch_size(len(records))
        kept = {r.path for r in records}
        clips = [c for c in self.indexed_clips() if c.record.path in kept]
        order = {r.path: i for i, r in enumerate(records)}
        clips.sort(key=lambda c: order[c.record.path])
        # Every split carries multi-hot "labels" when any clip of the source has several labels.
        assigned = [r for recs in self.assignment().values() for r in recs]
        return ClipDataset(
            clips,
            self._class_index(split, records),
            self.sample_rate,
            self.loader.clip_seconds,
            "random" if split == "train" else "start",
            cache_audio=self._fits_cache(clips),
            multi_label=any(len(r.all_labels) > 1 for r in assigned),
            unlabelled={r.path for r in unlabelled},
        )

    def _fit_batch_size(self, n_clips: int) -> None:
        """With ``fit_to_data``, a mini-batch no larger than the training split (drop_last)."""
        spec = self.train_sampler
        if not isinstance(spec, MiniBatchSpec) or not spec.drop_last:
            return
        if self.fit_to_data and 0 < n_clips < spec.batch_size:
            log.warning(
                "sampler.batch_size lowered from %d to %d: the training split has %d clips",
                spec.batch_size, n_clips, n_clips,
            )  # fmt: skip
            self.train_sampler = dataclasses.replace(spec, batch_size=n_clips)
            self.adjusted_settings["sampler.batch_size"] = n_clips

    def _class_index(self, split: str, records: list[ClipRecord]) -> dict[str, int]:
        # Every label of a multi-label clip is a class, not only its class_name.
        if self.split.class_disjoint:
            names = {name for r in records for name in r.all_labels}
        else:  # the splits share their classes: one numbering for all
            names = {
                name for recs in self.assignment().values() for r in recs for name in r.all_labels
            }
        return {name: i for i, name in enumerate(sorted(names))}

    def _fits_cache(self, clips: list[IndexedClip]) -> bool:
        """Whether the split's decoded audio fits the remaining RAM budget (then reserve it)."""
        megabytes = sum(c.num_samples(self.sample_rate) for c in clips) * 4 / 2**20
        if megabytes > self._cache_left_mb:
            log.info(
                "streaming %d clips (%.0f MB decoded > %.0f MB of data.loader.cache_mb left)",
                len(clips),
                megabytes,
                self._cache_left_mb,
            )
            return False
        self._cache_left_mb -= megabytes
        return True

    # ----------------------------------------------------------------- loaders
    def train_dataloader(self) -> DataLoader:
        epoch_fn = self._trainer_epoch if self.trainer is not None else None
        device = self.trainer.strategy.root_device if self.trainer is not None else None
        return training_loader(self.train_set, self.train_sampler, self.loader, self.seed,
                               epoch_fn, self._pin_memory(), device, self._world())  # fmt: skip

    def val_dataloader(self) -> DataLoader | list:
        return [] if self.val_set is None else self.sequential_dataloader("val")

    def test_dataloader(self) -> DataLoader:
        return self.sequential_dataloader("test")

    def predict_dataloader(self) -> DataLoader:
        return self.sequential_dataloader("test")

    def sequential_dataloader(self, split: str) -> DataLoader:
        """Every window (``loader.eval_hop_seconds``) or the start of each clip, in order."""
        if split not in SPLITS:
            raise ValueError(f"sequential_dataloader: split={split!r} must be one of {SPLITS}.")
        dataset = self._dataset(split)
        if dataset is None:
            raise ValueError(f"the {split} split has no clips; give it some with data.split.")
        return evaluation_loader(dataset, self.loader, self.seed, self._pin_memory(), self._world())

    def statistics_dataloader(self, max_clips: int = 2000, batch_size: int = 64) -> DataLoader:
        """A seeded subset of the training clips for statistics fitted before training."""
        return statistics_loader(self.train_set, self.loader, max_clips, batch_size)

    def _pin_memory(self) -> bool:
        return self.trainer is not None and isinstance(self.trainer.accelerator, CUDAAccelerator)

    def _world(self) -> World:
        """The trainer's rank and number of processes (a single process without a trainer)."""
        if self.trainer is None:
            return World()
        return World(self.trainer.global_rank, self.trainer.world_size)

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
    need = EpisodeNeed.of(episode, "eval_episode")
    return {"val": [need], "test": [need]}
