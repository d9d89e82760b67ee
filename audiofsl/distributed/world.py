"""This process's place among the processes of a run."""

from __future__ import annotations

from dataclasses import dataclass

import torch.distributed as dist


@dataclass(frozen=True)
class World:
    """A process's ``rank`` among ``size`` processes (``World()``: a single process).

    Args:
        rank: this process's global rank, ``0 <= rank < size``.
        size: number of processes (the world size).
    """

    rank: int = 0
    size: int = 1

    def __post_init__(self) -> None:
        for name, value, low in (("size", self.size, 1), ("rank", self.rank, 0)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"World.{name}={value!r} must be an integer >= {low}.")
        if self.rank >= self.size:
            raise ValueError(f"World.rank={self.rank} must be below World.size={self.size}.")

    @property
    def distributed(self) -> bool:
        """Whether there is more than one process."""
        return self.size > 1


def current_world() -> World:
    """The initialised default process group's rank and size, else a single process."""
    if dist.is_available() and dist.is_initialized():
        return World(dist.get_rank(), dist.get_world_size())
    return World()
