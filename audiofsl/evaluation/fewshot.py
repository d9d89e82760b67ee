"""Few-shot evaluation on cached embeddings: SimpleShot transforms and nearest prototype."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from audiofsl.evaluation.episodes import sample_episodes
from audiofsl.heads import pairwise_distance, prototypes

__all__ = ["EMBEDDING_TRANSFORMS", "EmbeddingTransform", "evaluate_embeddings"]

EMBEDDING_TRANSFORMS = ("none", "l2", "center", "center_l2")


class EmbeddingTransform:
    """Feature transforms of SimpleShot (Wang et al., 2019) applied before nearest prototype.

    ``"none"`` leaves embeddings as they are, ``"l2"`` L2-normalises them (UN/L2N), ``"center"``
    subtracts a mean embedding and ``"center_l2"`` subtracts it then L2-normalises (CL2N). The
    mean is that of the training-class embeddings when given (as in SimpleShot), else that of
    the embeddings being transformed.

    Args:
        mode: One of ``"none"``, ``"l2"``, ``"center"``, ``"center_l2"``.
    """

    def __init__(self, mode: str = "none") -> None:
        if mode not in EMBEDDING_TRANSFORMS:
            raise ValueError(
                f"embedding transform mode={mode!r} is not supported; choose one of "
                f"{EMBEDDING_TRANSFORMS}."
            )
        self.mode = mode

    def __repr__(self) -> str:
        return f"EmbeddingTransform(mode={self.mode!r})"

    def __call__(self, embeddings: Tensor, train_mean: Tensor | None = None) -> Tensor:
        """Transforms embeddings.

        Args:
            embeddings: ``[N, D]`` embeddings.
            train_mean: ``[D]`` mean training-class embedding, used by the centring modes;
                ``None`` centres on the mean of ``embeddings``.

        Returns:
            ``[N, D]`` transformed embeddings (same dtype and device).
        """
        if self.mode.startswith("center"):
            if train_mean is None:
                train_mean = embeddings.mean(dim=0)
            elif train_mean.shape != embeddings.shape[-1:]:
                raise ValueError(
                    f"train_mean must have shape [D] = [{embeddings.shape[-1]}], got "
                    f"{tuple(train_mean.shape)}."
                )
            embeddings = embeddings - train_mean.to(embeddings)
        if self.mode.endswith("l2"):
            embeddings = F.normalize(embeddings, dim=-1)
        return embeddings


def _task_accuracy(emb: Tensor, episodes: Tensor, n_shot: int, distance: str) -> Tensor:
    """Nearest-prototype accuracy of a batch of tasks.

    Args:
        emb: ``[N, D]`` float32 embeddings.
        episodes: ``[tasks, n_way, K]`` dataset indices on ``emb``'s device.
        n_shot: Support clips per class (the first ``n_shot`` of each row).
        distance: Metric passed to :func:`audiofsl.heads.pairwise_distance`.

    Returns:
        ``[tasks]`` fraction of queries assigned to their own class.
    """
    tasks, n_way, k = episodes.shape
    gathered = emb[episodes]  # [tasks, n_way, K, D]
    protos = prototypes(gathered[:, :, :n_shot])  # [tasks, n_way, D]
    query = gathered[:, :, n_shot:].reshape(tasks, n_way * (k - n_shot), -1)
    predicted = pairwise_distance(query, protos, distance).argmin(dim=-1)
    target = torch.arange(n_way, device=emb.device).repeat_interleave(k - n_shot)
    return (predicted == target).float().mean(dim=-1)


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
    """Per-task nearest-prototype accuracy on seeded episodes over cached embeddings.

    Every clip is embedded once by the caller; tasks (:func:`sample_episodes`) then only
    gather rows. Prototypes are mean support embeddings and each query takes the class of its
    nearest prototype (Snell et al., 2017), optionally after a SimpleShot transform (Wang et
    al., 2019). Tasks are processed ``task_chunk`` at a time; the result does not depend on it.

    Args:
        embeddings: ``[N, D]`` embeddings (any device; computed in float32 there).
        labels: ``[N]`` integer class labels.
        n_way: Classes per task.
        n_shot: Support clips per class.
        n_query: Query clips per class.
        n_tasks: Number of tasks.
        seed: Episode seed.
        distance: ``"squared_euclidean"``, ``"euclidean"`` or ``"cosine"``.
        transform: SimpleShot mode (``"none"``, ``"l2"``, ``"center"``, ``"center_l2"``) or
            an :class:`EmbeddingTransform`.
        train_mean: ``[D]`` mean training-class embedding for the centring transforms.
        task_chunk: Tasks evaluated per batched step (bounds memory).

    Returns:
        ``[n_tasks]`` float32 accuracies on ``embeddings``' device.
    """
    if embeddings.dim() != 2 or embeddings.shape[0] != torch.as_tensor(labels).numel():
        raise ValueError(
            f"embeddings must be [N, D] with one row per label, got {tuple(embeddings.shape)} "
            f"for {torch.as_tensor(labels).numel()} labels."
        )
    if not isinstance(task_chunk, int) or task_chunk < 1:
        raise ValueError(f"task_chunk={task_chunk!r} must be a positive integer.")
    if isinstance(transform, str):
        transform = EmbeddingTransform(transform)
    emb = transform(embeddings.detach().float(), train_mean)
    episodes = sample_episodes(labels, n_way, n_shot, n_query, n_tasks, seed)
    chunks = [
        _task_accuracy(emb, episodes[start : start + task_chunk].to(emb.device), n_shot, distance)
        for start in range(0, n_tasks, task_chunk)
    ]
    return torch.cat(chunks)
