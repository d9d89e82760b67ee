"""The DataLoaders of a data module: episodes or mini-batches, windows, statistics."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import torch
from torch.utils.data import DataLoader, Dataset, Subset

from audiofsl.data.clips import ClipDataset
from audiofsl.data.resident import ResidentAudio, ResidentItems, stack_resident, use_resident
from audiofsl.data.settings import LoaderSettings
from audiofsl.data.windows import WindowDataset
from audiofsl.distributed import World
from audiofsl.samplers import (
    EpisodeCollate,
    EpisodeSpec,
    EpisodicBatchSampler,
    MiniBatchSpec,
    RankShard,
    ShuffledBatchSampler,
    WithCropSeeds,
    evaluation_shard,
)

#: The world of a run in one process.
SINGLE_PROCESS = World()


def make_loader(
    dataset: Dataset, settings: LoaderSettings, seed: int, pin_memory: bool, **kwargs
) -> DataLoader:
    """A DataLoader whose worker seeds come from its own generator.

    Every loader iterator draws a worker base seed; from a dedicated generator, that draw leaves
    the global RNG (augmentations) alone whatever ``num_workers`` is.
    """
    return DataLoader(
        dataset,
        generator=torch.Generator().manual_seed(seed),
        num_workers=settings.num_workers,
        persistent_workers=settings.num_workers > 0,
        pin_memory=pin_memory,
        **kwargs,
    )


def training_loader(
    dataset: ClipDataset,
    spec: EpisodeSpec | MiniBatchSpec,
    settings: LoaderSettings,
    seed: int,
    epoch_fn: Callable[[], int] | None,
    pin_memory: bool = False,
    device: torch.device | None = None,
    world: World = SINGLE_PROCESS,
) -> DataLoader:
    """Seeded episodes (class-major) or shuffled mini-batches; random crops seeded per item.

    When the training clips are resident on ``device`` (``settings.resident``), the batches
    hold indices and crop offsets, and the windows are cut on the device
    (:mod:`audiofsl.data.resident`); the episodes and crops are the same either way.

    Across ``world.size`` processes, the batches of all ranks are drawn together and each rank
    takes its part (:class:`~audiofsl.samplers.RankShard`): ``spec`` is one rank's batch, and an
    epoch still has ``spec.n_episodes`` episodes in all, ``n_episodes / W`` on each rank.
    """
    dataset.fill_cache()
    items: ClipDataset | ResidentItems = dataset
    if use_resident(dataset, settings.resident, settings.resident_dtype,
                    settings.resident_fraction, device):  # fmt: skip
        items = ResidentItems(dataset, ResidentAudio.from_dataset(dataset, settings.resident_dtype))
        # Nothing is decoded per batch: the main process builds it, and nothing is pinned.
        settings, pin_memory = replace(settings, num_workers=0), False
    if isinstance(spec, EpisodeSpec):
        sampler = EpisodicBatchSampler(dataset.labels, global_episodes(spec, world), seed,
                                       epoch_fn=epoch_fn)  # fmt: skip
        batches = RankShard(WithCropSeeds(sampler, seed), world)
        return make_loader(
            items,
            settings,
            seed,
            pin_memory,
            batch_sampler=batches,
            collate_fn=EpisodeCollate.from_spec(spec),
        )
    global_batch = spec.batch_size * world.size
    if spec.drop_last and len(dataset) < global_batch:
        on_ranks = f" on each of {world.size} processes" if world.distributed else ""
        raise ValueError(
            f"sampler.batch_size={spec.batch_size}{on_ranks} exceeds the {len(dataset)} "
            "training clips, so drop_last=True leaves no batch; set sampler.batch_size="
            f"{max(1, len(dataset) // world.size)} or sampler.drop_last=false instead."
        )
    order = ShuffledBatchSampler(len(dataset), global_batch, spec.drop_last, seed, epoch_fn)
    batches = RankShard(WithCropSeeds(order, seed), world)
    collate = {"collate_fn": stack_resident} if isinstance(items, ResidentItems) else {}
    return make_loader(items, settings, seed, pin_memory, batch_sampler=batches, **collate)


def global_episodes(spec: EpisodeSpec, world: World) -> EpisodeSpec:
    """The episodes all ranks draw together: ``W * E`` a step, ``n_episodes`` an epoch.

    Raises:
        ValueError: if ``n_episodes`` is not a multiple of ``W * E`` (ranks must run the same
            number of steps, and no episode is dropped silently).
    """
    if not world.distributed:
        return spec
    per_step = spec.episodes_per_batch * world.size
    if spec.n_episodes % per_step:
        lower, upper = spec.n_episodes // per_step * per_step, -(-spec.n_episodes // per_step)
        raise ValueError(
            f"sampler.n_episodes={spec.n_episodes} must be a multiple of {world.size} processes "
            f"x sampler.episodes_per_batch={spec.episodes_per_batch} = {per_step}, so that "
            f"every process runs the same number of steps; set sampler.n_episodes="
            f"{max(lower, per_step)} or {upper * per_step}."
        )
    return replace(spec, episodes_per_batch=per_step)


def evaluation_loader(
    dataset: ClipDataset,
    settings: LoaderSettings,
    seed: int,
    pin_memory: bool = False,
    world: World = SINGLE_PROCESS,
) -> DataLoader:
    """Every window (``eval_hop_seconds``) or the start of each clip, in order.

    Across ``world.size`` processes, each rank reads its block of the windows
    (:func:`~audiofsl.samplers.evaluation_shard`; the evaluation cache gathers them).
    """
    clips = dataset.fill_cache().with_crop("start")
    if settings.hop_samples is not None:
        clips = WindowDataset(clips, hop=settings.hop_samples)
    if world.distributed:
        clips = Subset(clips, evaluation_shard(len(clips), world))
    return make_loader(clips, settings, seed, pin_memory, batch_size=settings.eval_batch_size)


def statistics_loader(
    dataset: ClipDataset, settings: LoaderSettings, max_clips: int, batch_size: int = 64
) -> DataLoader:
    """A seeded subset of at most ``max_clips`` clips, "start"-cropped.

    For statistics fitted before training (global feature normalisation): the subset and the
    crops depend on nothing but the data, and reading them draws from no global RNG.
    """
    clips = dataset.fill_cache().with_crop("start")
    order = torch.randperm(len(clips), generator=torch.Generator().manual_seed(0))
    subset = Subset(clips, order[:max_clips].tolist())
    return make_loader(subset, settings, 0, False, batch_size=batch_size)
