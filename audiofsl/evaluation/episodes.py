"""Seeded few-shot evaluation episodes drawn as dataset indices, fully vectorised."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = ["EpisodeSettings", "sample_episodes"]

# Tasks drawn per step: bounds the [tasks, n_way, max_clips] key tensor for large classes.
_TASKS_PER_DRAW = 1000


@dataclass(frozen=True)
class EpisodeSettings:
    """How evaluation episodes are drawn.

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


def _class_index_matrix(labels: Tensor) -> tuple[Tensor, Tensor]:
    """Groups dataset indices by class.

    Args:
        labels: ``[N]`` integer class labels (any values).

    Returns:
        ``matrix [C, max_count]`` of dataset indices per class (ascending, padded with -1) and
        ``counts [C]``, for the ``C`` distinct labels in ascending order.
    """
    _, inverse, counts = torch.unique(labels, return_inverse=True, return_counts=True)
    order = torch.argsort(inverse, stable=True)
    starts = torch.cumsum(counts, 0) - counts
    position = torch.arange(labels.numel()) - starts[inverse[order]]
    matrix = torch.full((counts.numel(), int(counts.max())), -1, dtype=torch.long)
    matrix[inverse[order], position] = order
    return matrix, counts


def _draw(
    matrix: Tensor,
    counts: Tensor,
    eligible: Tensor,
    shape: tuple[int, int, int],
    g: torch.Generator,
) -> Tensor:
    """Draws ``shape = (tasks, n_way, K)`` dataset indices; see :func:`sample_episodes`."""
    n_tasks, n_way, k = shape
    class_keys = torch.rand(n_tasks, eligible.numel(), generator=g)
    classes = eligible[class_keys.topk(n_way, dim=1).indices]  # [tasks, n_way]
    clip_keys = torch.rand(n_tasks, n_way, matrix.shape[1], generator=g)
    padding = torch.arange(matrix.shape[1]) >= counts[classes].unsqueeze(-1)
    clip_keys = clip_keys.masked_fill(padding, float("inf"))
    positions = clip_keys.topk(k, dim=-1, largest=False).indices  # [tasks, n_way, K]
    return matrix[classes.unsqueeze(-1), positions]


def sample_episodes(
    labels: Tensor, n_way: int, n_shot: int, n_query: int, n_tasks: int, seed: int = 0
) -> Tensor:
    """Draws few-shot tasks as dataset indices, class-major, support before query.

    Each task picks ``n_way`` distinct classes uniformly among the classes that have at least
    ``n_shot + n_query`` clips, then ``n_shot + n_query`` distinct clips of each, uniformly
    (random keys, then the smallest keys win; padding of small classes gets key +inf). All
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
    matrix, counts = _class_index_matrix(labels)
    eligible = torch.nonzero(counts >= k).squeeze(1)
    if eligible.numel() < n_way:
        raise ValueError(
            f"Only {eligible.numel()} classes have at least n_shot + n_query = {n_shot} + "
            f"{n_query} = {k} clips, fewer than n_way={n_way}; lower n_way, n_shot or n_query."
        )
    g = torch.Generator(device="cpu").manual_seed(seed)
    chunks = [
        _draw(matrix, counts, eligible, (min(_TASKS_PER_DRAW, n_tasks - start), n_way, k), g)
        for start in range(0, n_tasks, _TASKS_PER_DRAW)
    ]
    return torch.cat(chunks)
