"""The one episode-drawing algorithm, for the training sampler and for evaluation alike.

Episodes are drawn as dataset indices over a padded table of each class's items: every episode
gives each eligible class a random key and keeps the ``n_way`` largest, then gives every item of
those classes a random key (padding gets +inf) and keeps the ``n_shot + n_query`` smallest. One
batched draw covers many episodes; all randomness comes from the generator passed in.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

# Episodes drawn per step: bounds the [episodes, n_way, max_items] key tensor for large classes.
_EPISODES_PER_DRAW = 1000


@dataclass(frozen=True)
class ClassTable:
    """Dataset indices grouped by class.

    Attributes:
        class_ids: ``[C]`` the distinct labels, ascending.
        items: ``[C, max_count]`` dataset indices of each class (ascending, padded with -1).
        counts: ``[C]`` items per class.
    """

    class_ids: Tensor
    items: Tensor
    counts: Tensor

    @classmethod
    def from_labels(cls, labels: Tensor) -> ClassTable:
        """Args: labels: ``[N]`` integer class of every item (any values)."""
        class_ids, inverse, counts = torch.unique(labels, return_inverse=True, return_counts=True)
        order = torch.argsort(inverse, stable=True)
        starts = torch.cumsum(counts, 0) - counts
        position = torch.arange(labels.numel()) - starts[inverse[order]]
        items = torch.full((counts.numel(), int(counts.max())), -1, dtype=torch.long)
        items[inverse[order], position] = order
        return cls(class_ids, items, counts)

    def eligible(self, per_class: int) -> Tensor:
        """``[C']`` rows of the classes with at least ``per_class`` items."""
        return torch.nonzero(self.counts >= per_class).squeeze(1)


def draw_episodes(
    table: ClassTable,
    n_episodes: int,
    n_way: int,
    per_class: int,
    generator: torch.Generator,
    eligible: Tensor | None = None,
) -> Tensor:
    """Draw episodes as dataset indices, class-major.

    Args:
        table: the items of every class.
        n_episodes: number of episodes.
        n_way: classes per episode.
        per_class: items per class (``n_shot + n_query``; support first by convention).
        generator: CPU generator, the only source of randomness.
        eligible: rows of ``table`` to draw classes from (default: those with ``per_class``).

    Returns:
        ``[n_episodes, n_way, per_class]`` long dataset indices.
    """
    eligible = table.eligible(per_class) if eligible is None else eligible
    chunks = []
    for start in range(0, n_episodes, _EPISODES_PER_DRAW):
        size = min(_EPISODES_PER_DRAW, n_episodes - start)
        class_keys = torch.rand(size, eligible.numel(), generator=generator)
        classes = eligible[class_keys.topk(n_way, dim=1).indices]  # [episodes, n_way]
        item_keys = torch.rand(size, n_way, table.items.shape[1], generator=generator)
        padding = torch.arange(table.items.shape[1]) >= table.counts[classes].unsqueeze(-1)
        item_keys = item_keys.masked_fill(padding, float("inf"))
        positions = item_keys.topk(per_class, dim=-1, largest=False).indices
        chunks.append(table.items[classes.unsqueeze(-1), positions])
    return torch.cat(chunks)
