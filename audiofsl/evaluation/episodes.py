"""Seeded few-shot evaluation episodes drawn as dataset indices, fully vectorised."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from audiofsl.samplers.drawing import ClassTable, draw_episodes
from audiofsl.samplers.specs import EpisodeShape

__all__ = ["EpisodeSettings", "sample_episodes"]


@dataclass(frozen=True)
class EpisodeSettings(EpisodeShape):
    """How evaluation episodes are drawn: their shape, how many, from which seed.

    Defaults follow the common protocol of 5-way tasks with 15 queries per class and a fixed
    seed (Snell et al., 2017; Chen et al., 2019).

    Attributes:
        n_way: Classes per task.
        n_shot: Support clips per class.
        n_query: Query clips per class.
        n_tasks: Number of tasks.
        seed: Seed of the episode generator.
    """

    n_way: int = 5
    n_shot: int = 5
    n_query: int = 15
    n_tasks: int = 1000
    seed: int = 0

    def __post_init__(self) -> None:
        _check_counts(self.n_way, self.n_shot, self.n_query, self.n_tasks)

    @property
    def tag(self) -> str:
        """Short name for metric keys, e.g. ``"5way5shot"``."""
        return f"{self.n_way}way{self.n_shot}shot"


def _check_counts(n_way: int, n_shot: int, n_query: int, n_tasks: int) -> None:
    for name, value in (("n_way", n_way), ("n_shot", n_shot), ("n_query", n_query)):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{name}={value!r} must be a positive integer.")
    if not isinstance(n_tasks, int) or n_tasks < 1:
        raise ValueError(f"n_tasks={n_tasks!r} must be a positive integer.")


def sample_episodes(
    labels: Tensor, n_way: int, n_shot: int, n_query: int, n_tasks: int, seed: int = 0
) -> Tensor:
    """Draws few-shot tasks as dataset indices, class-major, support before query.

    Each task picks ``n_way`` distinct classes uniformly among the classes that have at least
    ``n_shot + n_query`` clips, then ``n_shot + n_query`` distinct clips of each, uniformly, by
    the algorithm the training sampler uses too (:func:`audiofsl.samplers.draw_episodes`). All
    randomness comes from a CPU ``torch.Generator`` seeded with ``seed``, so the result depends
    only on ``(labels, n_way, n_shot, n_query, n_tasks, seed)``.

    Args:
        labels: ``[N]`` integer class label of every clip (any device; any label values).
        n_way: Classes per task.
        n_shot: Support clips per class.
        n_query: Query clips per class.
        n_tasks: Number of tasks.
        seed: Seed of the generator.

    Returns:
        ``[n_tasks, n_way, n_shot + n_query]`` long CPU tensor of dataset indices; in row
        ``c`` of a task, the first ``n_shot`` are the support of class ``c``, the rest queries.

    Raises:
        ValueError: On non-positive counts, bad labels, or fewer than ``n_way`` classes with
            ``n_shot + n_query`` clips.
    """
    _check_counts(n_way, n_shot, n_query, n_tasks)
    labels = torch.as_tensor(labels).detach().cpu()
    if labels.dim() != 1 or labels.numel() == 0 or labels.is_floating_point():
        raise ValueError(f"labels must be a non-empty 1-D integer tensor, got {labels!r:.80}.")
    k = n_shot + n_query
    table = ClassTable.from_labels(labels)
    eligible = table.eligible(k)
    if eligible.numel() < n_way:
        raise ValueError(
            f"Only {eligible.numel()} classes have at least n_shot + n_query = {n_shot} + "
            f"{n_query} = {k} clips, fewer than n_way={n_way}; lower n_way, n_shot or n_query."
        )
    generator = torch.Generator(device="cpu").manual_seed(seed)
    return draw_episodes(table, n_tasks, n_way, k, generator, eligible)
