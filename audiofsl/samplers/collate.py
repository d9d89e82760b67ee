"""Collate class-major episode items into the episodic batch contract."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from audiofsl.samplers.specs import EpisodeSpec

#: Batch key of the resident training audio a batch's windows are cut from on the device
#: (:mod:`audiofsl.data.resident`).
SOURCE_KEY = "resident_audio"


class EpisodeCollate:
    """Stack the items of a batch of episodes and relabel each episode's classes 0..n_way-1.

    The items must come in the order :class:`EpisodicBatchSampler` yields: for each of the
    ``episodes_per_batch`` episodes, ``n_way`` blocks of ``n_shot + n_query`` items of one class
    each (support first). A plain class, so it pickles into DataLoader worker processes.

    Args:
        n_way: classes per episode.
        n_shot: support clips per class.
        n_query: query clips per class.
        episodes_per_batch: episodes per batch ``E``.
    """

    def __init__(self, n_way: int, n_shot: int, n_query: int, episodes_per_batch: int = 1) -> None:
        # EpisodeSpec validates the values.
        spec = EpisodeSpec(n_way, n_shot, n_query, episodes_per_batch, episodes_per_batch)
        self.n_way, self.n_shot, self.n_query = spec.n_way, spec.n_shot, spec.n_query
        self.episodes_per_batch = spec.episodes_per_batch

    @classmethod
    def from_spec(cls, spec: EpisodeSpec) -> EpisodeCollate:
        """The collate for batches of ``spec``'s episodes."""
        return cls(spec.n_way, spec.n_shot, spec.n_query, spec.episodes_per_batch)

    def __repr__(self) -> str:
        return (
            f"EpisodeCollate(n_way={self.n_way}, n_shot={self.n_shot}, n_query={self.n_query}, "
            f"episodes_per_batch={self.episodes_per_batch})"
        )

    def __call__(self, items: Sequence[dict[str, Any]]) -> dict[str, Any]:
        """Build the episodic batch.

        Args:
            items: B = E * n_way * (n_shot + n_query) dicts with "audio" [T] float, "label"
                (true class id) and "index" (dataset index), episode by episode, class-major
                within each; or, from a resident
                training set (:mod:`audiofsl.data.resident`), "crop_offset" and the resident
                audio in place of "audio".

        Returns:
            {"audio": float32 [B, T], "label": long [B] in 0..n_way-1 (class-major within each
            episode), "class_id": long [B] true class ids, "index": long [B], "n_way",
            "n_shot", "n_query", "episodes_per_batch": int}; resident items give
            "crop_offset" [B] and the resident audio in place of "audio" (the windows are cut
            on the device).
        """
        per_class, n_episodes = self.n_shot + self.n_query, self.episodes_per_batch
        expected = n_episodes * self.n_way * per_class
        if len(items) != expected:
            raise ValueError(
                f"EpisodeCollate: got {len(items)} items but episodes_per_batch={n_episodes} x "
                f"n_way={self.n_way} x (n_shot={self.n_shot} + n_query={self.n_query}) = "
                f"{expected} were expected; use EpisodicBatchSampler with the same EpisodeSpec."
            )
        class_id = torch.tensor([int(item["label"]) for item in items], dtype=torch.long)
        self._check_blocks(class_id.view(n_episodes, self.n_way, per_class))
        episode = {
            "label": torch.arange(self.n_way).repeat_interleave(per_class).repeat(n_episodes),
            "class_id": class_id,
            "index": torch.tensor([int(item["index"]) for item in items], dtype=torch.long),
            "n_way": self.n_way,
            "n_shot": self.n_shot,
            "n_query": self.n_query,
            "episodes_per_batch": n_episodes,
        }
        if SOURCE_KEY in items[0]:
            offsets = [int(item["crop_offset"]) for item in items]
            episode["crop_offset"] = torch.tensor(offsets, dtype=torch.long)
            episode[SOURCE_KEY] = items[0][SOURCE_KEY]
            return episode
        lengths = {tuple(item["audio"].shape) for item in items}
        if len(lengths) != 1:
            raise ValueError(
                f"EpisodeCollate: audio items have different shapes {sorted(lengths)}; every "
                "clip of a batch must have the same number of samples."
            )
        episode["audio"] = torch.stack([item["audio"] for item in items]).to(torch.float32)
        return episode

    def _check_blocks(self, blocks: torch.Tensor) -> None:
        """Args: blocks [E, n_way, n_shot + n_query] true class ids."""
        if not bool((blocks == blocks[..., :1]).all()):
            raise ValueError(
                "EpisodeCollate: items are not class-major; each block of n_shot + n_query "
                f"consecutive items must share one class, got blocks {blocks.tolist()}."
            )
        firsts = blocks[..., 0].sort(dim=-1).values
        if bool((firsts[:, 1:] == firsts[:, :-1]).any()):
            raise ValueError(
                f"EpisodeCollate: the {self.n_way} class blocks of an episode must hold distinct "
                f"classes, got {blocks[..., 0].tolist()}."
            )
