"""Per-clip crop seeds drawn beside the batch indices, so random crops are reproducible."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sized

import torch

from audiofsl.samplers.episodic import epoch_generator

#: Crop seeds are drawn below this bound (any 63-bit value seeds a torch.Generator).
_SEED_BOUND = 2**62


class BatchSamplerWrapper:
    """A batch sampler over another: its length, and ``set_epoch`` forwarded to it.

    Args:
        batch_sampler: the wrapped batch sampler.
    """

    def __init__(self, batch_sampler: Iterable[list]) -> None:
        self.batch_sampler = batch_sampler

    def __len__(self) -> int:
        if not isinstance(self.batch_sampler, Sized):
            raise TypeError("the wrapped batch sampler has no length")
        return len(self.batch_sampler)

    def set_epoch(self, epoch: int) -> None:
        """Forwarded to the wrapped sampler when it has epochs."""
        if hasattr(self.batch_sampler, "set_epoch"):
            self.batch_sampler.set_epoch(epoch)


class WithCropSeeds(BatchSamplerWrapper):
    """Wraps a batch sampler so each index comes with its own random-crop seed.

    Random crops drawn inside the dataset from the global RNG depend on the number of loader
    workers and shift every later random draw of the main process (augmentations included).
    Here the seeds are drawn in the main process from a generator of (seed, epoch), and the
    dataset crops ``(index, crop_seed)`` items with a generator of that seed, so a run is the
    same whatever ``num_workers`` is, and a resumed run crops as the uninterrupted one. The
    epoch is the wrapped sampler's ``current_epoch()`` when it has one, else the pass number.

    Args:
        batch_sampler: yields lists of dataset indices.
        seed: seed of the crop seeds.
    """

    def __init__(self, batch_sampler: Iterable[list[int]], seed: int = 0) -> None:
        super().__init__(batch_sampler)
        self.seed = seed
        self._passes = 0

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        epoch = getattr(self.batch_sampler, "current_epoch", None)
        generator = epoch_generator(self.seed, epoch() if epoch is not None else self._passes)
        self._passes += 1
        for batch in self.batch_sampler:
            seeds = torch.randint(_SEED_BOUND, (len(batch),), generator=generator).tolist()
            yield list(zip(batch, seeds, strict=True))
