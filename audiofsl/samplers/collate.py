"""Collate class-major episode items into the episodic batch contract."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from audiofsl.samplers.specs import EpisodeSpec


class EpisodeCollate:
    """Stack the items of one episode and relabel its classes 0..n_way-1.

    The items must come in the order :class:`EpisodicBatchSampler` yields: ``n_way`` blocks of
    ``n_shot + n_query`` items of one class each (support first). A plain class, so it pickles
    into DataLoader worker processes.

    Args:
        n_way: classes per episode.
        n_shot: support clips per class.
        n_query: query clips per class.
    """

    def __init__(self, n_way: int, n_shot: int, n_query: int) -> None:
        spec = EpisodeSpec(n_way=n_way, n_shot=n_shot, n_query=n_query)  # validates the values
        self.n_way, self.n_shot, self.n_query = spec.n_way, spec.n_shot, spec.n_query

    @classmethod
    def from_spec(cls, spec: EpisodeSpec) -> EpisodeCollate:
        """The collate for episodes of ``spec``'s shape."""
        return cls(spec.n_way, spec.n_shot, spec.n_query)

    def __repr__(self) -> str:
        return f"EpisodeCollate(n_way={self.n_way}, n_shot={self.n_shot}, n_query={self.n_query})"

    def __call__(self, items: Sequence[dict[str, Any]]) -> dict[str, Any]:
        """Build the episodic batch.

        Args:
            items: B = n_way * (n_shot + n_query) dicts with "audio" [T] float, "label" (true
                class id) and "index" (dataset index), class-major.

        Returns:
            {"audio": float32 [B, T], "label": long [B] in 0..n_way-1 (class-major),
            "class_id": long [B] true class ids, "index": long [B], "n_way", "n_shot",
            "n_query": int}.
        """
        per_class = self.n_shot + self.n_query
        if len(items) != self.n_way * per_class:
            raise ValueError(
                f"EpisodeCollate: got {len(items)} items but n_way={self.n_way} x "
                f"(n_shot={self.n_shot} + n_query={self.n_query}) = {self.n_way * per_class} "
                "were expected; use EpisodicBatchSampler with the same EpisodeSpec."
            )
        class_id = torch.tensor([int(item["label"]) for item in items], dtype=torch.long)
        self._check_blocks(class_id.view(self.n_way, per_class))
        lengths = {tuple(item["audio"].shape) for item in items}
        if len(lengths) != 1:
            raise ValueError(
                f"EpisodeCollate: audio items have different shapes {sorted(lengths)}; every "
                "clip of a batch must have the same number of samples."
            )
        return {
            "audio": torch.stack([item["audio"] for item in items]).to(torch.float32),
            "label": torch.arange(self.n_way).repeat_interleave(per_class),
            "class_id": class_id,
            "index": torch.tensor([int(item["index"]) for item in items], dtype=torch.long),
            "n_way": self.n_way,
            "n_shot": self.n_shot,
            "n_query": self.n_query,
        }

    def _check_blocks(self, blocks: torch.Tensor) -> None:
        """Args: blocks [n_way, n_shot + n_query] true class ids."""
        if not bool((blocks == blocks[:, :1]).all()):
            raise ValueError(
                "EpisodeCollate: items are not class-major; each block of n_shot + n_query "
                f"consecutive items must share one class, got blocks {blocks.tolist()}."
            )
        if len(torch.unique(blocks[:, 0])) != self.n_way:
            raise ValueError(
                f"EpisodeCollate: the {self.n_way} class blocks must hold distinct classes, got "
                f"{blocks[:, 0].tolist()}."
            )
