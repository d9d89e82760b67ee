"""Each rank's share of the global training batches of a multi-process (DDP) run."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TypeVar

from audiofsl.distributed import World
from audiofsl.samplers.crops import BatchSamplerWrapper

Item = TypeVar("Item")


class RankShard(BatchSamplerWrapper):
    """Cuts every global batch into ``world.size`` equal, contiguous parts; yields this rank's.

    The wrapped sampler draws the batches of all ranks together, from ``(seed, epoch)`` alone
    (with their crop seeds), so the ranks' batches are disjoint, equal in number and size, and
    their union at a step is the batch one process would draw with ``world.size`` times the
    batch: ``W`` ranks of ``E`` episodes a step see the episodes and crops of one process with
    ``W * E`` episodes a step. A global batch whose length is not a multiple of ``W`` (the last,
    short mini-batch when ``drop_last`` is off) is filled up with its own first items.

    Args:
        batches: yields the global batches (lists of items), ``W`` parts each.
        world: this process's rank and the number of ranks.
    """

    def __init__(self, batches: Iterable[list[Item]], world: World) -> None:
        super().__init__(batches)
        self.world = world

    def __iter__(self) -> Iterator[list[Item]]:
        size, rank = self.world.size, self.world.rank
        for batch in self.batch_sampler:
            short = -len(batch) % size
            batch = list(batch) + [batch[i % len(batch)] for i in range(short)]
            part = len(batch) // size
            yield batch[rank * part : (rank + 1) * part]


def evaluation_shard(n_items: int, world: World) -> list[int]:
    """This rank's items of an evaluation split: ``ceil(n / W)`` of them on every rank.

    Rank ``r`` takes the contiguous block ``r * m .. (r + 1) * m - 1`` of the items, ``m =
    ceil(n / W)``, the list wrapped round to the first items to fill the last blocks (ranks
    must run equal numbers of steps). The evaluation cache drops the repeated windows after
    gathering them, so every window counts once.

    Args:
        n_items: items in the split (>= 1).
        world: this process's rank and the number of ranks.

    Returns:
        The dataset indices of this rank's items.
    """
    per_rank = -(-n_items // world.size)
    start = world.rank * per_rank
    return [i % n_items for i in range(start, start + per_rank)]
