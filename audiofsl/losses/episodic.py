"""Shared input handling of the episodic losses (support and query embeddings per episode)."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn


def check_episodes(support: Tensor, query: Tensor, loss_name: str) -> None:
    """Raises ValueError unless support ``[E, W, S, D]`` and query ``[E, W, Q, D]`` match.

    Args:
        support: ``[E, W, S, D]`` support embeddings, class-major.
        query: ``[E, W, Q, D]`` query embeddings, class-major.
        loss_name: Name used in the error messages.
    """
    if (
        support.dim() != 4
        or query.dim() != 4
        or support.shape[:2] != query.shape[:2]
        or support.shape[-1] != query.shape[-1]
    ):
        raise ValueError(
            f"{loss_name} expects support [n_episodes, n_way, n_shot, D] and query "
            "[n_episodes, n_way, n_query, D] with the same n_episodes, n_way and D, got "
            f"{tuple(support.shape)} and {tuple(query.shape)}."
        )
    if support.shape[1] < 2 or support.shape[2] < 1 or query.shape[2] < 1:
        raise ValueError(
            f"{loss_name} needs n_way >= 2 and at least one support and one query per class, "
            f"got support {tuple(support.shape)} and query {tuple(query.shape)}."
        )


def project(x: Tensor, projection: nn.Module | None, normalize: bool = True) -> Tensor:
    """Optionally projects ``[..., D]`` embeddings, then L2-normalises them in float32.

    Args:
        x: ``[..., D]`` embeddings.
        projection: Module mapping ``[N, D]`` to ``[N, D']`` (the leading dims of ``x`` are
            flattened for it), or ``None`` for no projection.
        normalize: ``False`` returns the projection's output as it is (dtype included).

    Returns:
        ``[..., D']`` unit-norm float32 embeddings.
    """
    if projection is not None:
        lead = x.shape[:-1]
        x = projection(x.reshape(-1, x.shape[-1]))
        x = x.reshape(*lead, x.shape[-1])
    return F.normalize(x.float(), dim=-1) if normalize else x
