"""Few-shot accuracy of plain embeddings by nearest prototype (for notebooks and benchmarks)."""

from __future__ import annotations

import torch
from torch import Tensor

from audiofsl.evaluation.cache import CachedSplit
from audiofsl.evaluation.episodes import EpisodeSettings
from audiofsl.evaluation.scorers import EmbeddingTransform, PrototypeScorer
from audiofsl.evaluation.tasks import WindowRules, evaluate_tasks

__all__ = ["evaluate_embeddings"]


@torch.no_grad()
def evaluate_embeddings(
    embeddings: Tensor,
    labels: Tensor,
    n_way: int,
    n_shot: int,
    n_query: int,
    n_tasks: int,
    seed: int = 0,
    distance: str = "squared_euclidean",
    transform: str | EmbeddingTransform = "none",
    train_mean: Tensor | None = None,
    task_chunk: int = 1000,
) -> Tensor:
    """Per-task nearest-prototype accuracy on seeded episodes over embeddings of single clips.

    Every clip is embedded once by the caller; tasks (:func:`sample_episodes`) only gather rows.
    Prototypes are mean support embeddings and each query takes the class of its nearest
    prototype (Snell et al., 2017), optionally after a SimpleShot transform (Wang et al., 2019).

    Args:
        embeddings: ``[N, D]`` embeddings (any device; computed in float32 there).
        labels: ``[N]`` integer class labels.
        n_way, n_shot, n_query, n_tasks: the tasks.
        seed: Episode seed.
        distance: ``"squared_euclidean"``, ``"euclidean"`` or ``"cosine"``.
        transform: SimpleShot mode or an :class:`EmbeddingTransform`.
        train_mean: ``[D]`` mean training-class embedding for the centring transforms.
        task_chunk: Tasks evaluated per batched step (the result does not depend on it).

    Returns:
        ``[n_tasks]`` float32 accuracies on ``embeddings``' device.
    """
    labels = torch.as_tensor(labels)
    if embeddings.dim() != 2 or embeddings.shape[0] != labels.numel():
        raise ValueError(
            f"embeddings must be [N, D] with one row per label, got {tuple(embeddings.shape)} "
            f"for {labels.numel()} labels."
        )
    mode = transform.mode if isinstance(transform, EmbeddingTransform) else transform
    scorer = PrototypeScorer(distance, mode)
    rows = torch.arange(labels.numel(), device=embeddings.device)
    split = CachedSplit(scorer.prepare(embeddings.detach(), train_mean), rows, labels.to(rows))
    settings = EpisodeSettings(n_way, n_shot, n_query, n_tasks, seed)
    return evaluate_tasks(split, settings, scorer, WindowRules(), task_chunk)
