"""Prototypes and batched pairwise distances (Snell et al., 2017)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

DISTANCES = ("euclidean", "squared_euclidean", "cosine")


def prototypes(support: Tensor) -> Tensor:
    """Class prototypes: the mean support embedding of each class (Snell et al., 2017).

    Args:
        support: ``[..., n_way, n_shot, D]`` support embeddings.

    Returns:
        ``[..., n_way, D]`` prototypes.
    """
    if support.dim() < 3:
        raise ValueError(
            f"support must have shape [..., n_way, n_shot, D], got {tuple(support.shape)}."
        )
    return support.mean(dim=-2)


def pairwise_distance(query: Tensor, protos: Tensor, metric: str = "squared_euclidean") -> Tensor:
    """Distances between every query and every prototype, batched over leading dims.

    Computed in float32 with autocast disabled. Squared Euclidean distance uses the expanded
    form ``|q|^2 + |p|^2 - 2 q.p`` (one matmul) clamped at 0; Euclidean is its square root
    (with a zero, not NaN, gradient at distance 0); cosine distance is ``1 - cos(q, p)``.

    Args:
        query: ``[..., Q, D]`` query embeddings.
        protos: ``[..., W, D]`` prototypes; leading dims broadcast with ``query``'s.
        metric: ``"euclidean"``, ``"squared_euclidean"`` or ``"cosine"``.

    Returns:
        ``[..., Q, W]`` float32 distances.
    """
    if metric not in DISTANCES:
        raise ValueError(f"distance metric={metric!r} is not supported; choose one of {DISTANCES}.")
    if query.dim() < 2 or protos.dim() < 2 or query.shape[-1] != protos.shape[-1]:
        raise ValueError(
            "pairwise_distance expects query [..., Q, D] and prototypes [..., W, D] with the "
            f"same D, got {tuple(query.shape)} and {tuple(protos.shape)}."
        )
    with torch.autocast(device_type=query.device.type, enabled=False):
        query, protos = query.float(), protos.float()
        if metric == "cosine":
            cosine = F.normalize(query, dim=-1) @ F.normalize(protos, dim=-1).transpose(-2, -1)
            return 1.0 - cosine
        squared = (
            query.pow(2).sum(-1, keepdim=True)
            + protos.pow(2).sum(-1).unsqueeze(-2)
            - 2.0 * (query @ protos.transpose(-2, -1))  # scale the small product, not query
        ).clamp_min(0.0)
        if metric == "squared_euclidean":
            return squared
        positive = squared > 0
        return torch.where(positive, squared.where(positive, 1.0).sqrt(), 0.0)
