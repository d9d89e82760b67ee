"""Shuffled mini-batches whose order depends only on (seed, epoch)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import torch
from torch.utils.data import Sampler

from audiofsl.samplers.episodic import epoch_generator


class ShuffledBatchSampler(Sampler[list[int]]):
    """Yields shuffled mini-batches of dataset indices; epoch ``e`` is a seeded permutation.

    Unlike a ``RandomSampler`` with one generator, whose state carries over from epoch to
    epoch, the order of an epoch is drawn from a generator of ``(seed, epoch)``: a run resumed
    at epoch ``e`` sees the same batches as the uninterrupted run. The epoch comes from
    ``epoch_fn`` when given (a data module passes the trainer's), else from :meth:`set_epoch`.

    Args:
        n_items: dataset size.
        batch_size: items per batch (>= 1).
        drop_last: drop the last incomplete batch.
        seed: non-negative seed.
        epoch_fn: optional callable returning the current epoch.
    """

    def __init__(
        self,
        n_items: int,
        batch_size: int,
        drop_last: bool = True,
        seed: int = 0,
        epoch_fn: Callable[[], int] | None = None,
    ) -> None:
        for name, value, low in (("n_items", n_items, 1), ("batch_size", batch_size, 1)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"ShuffledBatchSampler: {name}={value!r} must be >= {low}.")
        self.n_items, self.batch_size, self.drop_last = n_items, batch_size, drop_last
        self.seed, self.epoch_fn, self.epoch = seed, epoch_fn, 0

    def set_epoch(self, epoch: int) -> None:
        """Select the order of ``epoch`` (used when no ``epoch_fn`` was given)."""
        self.epoch = int(epoch)

    def current_epoch(self) -> int:
        """The epoch the next iteration will sample."""
        return int(self.epoch_fn()) if self.epoch_fn is not None else self.epoch

    def __len__(self) -> int:
        if self.drop_last:
            return self.n_items // self.batch_size
        return -(-self.n_items // self.batch_size)

    def __iter__(self) -> Iterator[list[int]]:
        order = torch.randperm(
            self.n_items, generator=epoch_generator(self.seed, self.current_epoch())
        )
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            yield order[start : start + self.batch_size].tolist()
