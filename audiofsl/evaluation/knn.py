"""k-nearest-neighbour classification of MFCC statistics: the no-training baseline.

Each clip is described by the mean and the standard deviation over time of its MFCCs (20 by
default, ``2 * n_mfcc`` numbers), as the MFCC baseline of Pons, Serrà & Serra ("Training neural
audio classifiers with few data", ICASSP 2019), and a test clip takes the majority class of its
``k`` nearest training clips. Everything is batched tensor code: one distance matrix, one
``topk``, one scatter of the votes.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from audiofsl.evaluation.cache import EvaluationCache
from audiofsl.evaluation.prototype_classifier import clip_means, score_metrics
from audiofsl.frontends import MFCC
from audiofsl.heads import DISTANCES, pairwise_distance


def mfcc_statistics(mfcc: Tensor) -> Tensor:
    """Mean and standard deviation over time of each coefficient.

    Args:
        mfcc: ``[B, 1, n_mfcc, L]`` (or ``[B, n_mfcc, L]``) MFCCs.

    Returns:
        ``[B, 2 * n_mfcc]``: the means, then the standard deviations (divisor ``L``).
    """
    frames = mfcc.flatten(1, -2) if mfcc.dim() == 4 else mfcc
    if frames.dim() != 3:
        raise ValueError(f"mfcc_statistics expects [B, 1, n_mfcc, L], got {tuple(mfcc.shape)}.")
    return torch.cat([frames.mean(-1), frames.std(-1, unbiased=False)], dim=-1)


class MFCCStatistics(nn.Module):
    """Waveforms ``[B, T]`` -> MFCC statistics ``[B, 2 * n_mfcc]`` (unnormalised MFCCs)."""

    def __init__(self, sample_rate: int = 16000, n_mfcc: int = 20, **mfcc_kwargs) -> None:
        super().__init__()
        self.mfcc = MFCC(sample_rate=sample_rate, n_mfcc=n_mfcc, **mfcc_kwargs)
        self.out_dim = 2 * n_mfcc

    def forward(self, audio: Tensor) -> Tensor:
        return mfcc_statistics(self.mfcc(audio))


def knn_scores(
    fit: Tensor,
    fit_labels: Tensor,
    query: Tensor,
    n_classes: int,
    k: int = 1,
    distance: str = "euclidean",
) -> Tensor:
    """Vote counts of the ``k`` nearest labelled rows for every query row.

    A query's predicted class is the row's argmax: the majority class among its neighbours,
    a tie going to the tied class with the nearest neighbour (each class gets less than one
    extra vote, more for a nearer neighbour).

    Args:
        fit: ``[N, D]`` labelled features; fit_labels: ``[N]`` classes in ``0..n_classes-1``.
        query: ``[Q, D]`` features to classify.
        n_classes: number of classes C.
        k: neighbours (1 <= k <= N).
        distance: ``"euclidean"``, ``"squared_euclidean"`` or ``"cosine"``.

    Returns:
        ``[Q, C]`` float32 votes plus the tie-breaking fraction.
    """
    if distance not in DISTANCES:
        raise ValueError(f"knn distance={distance!r}: choose one of {DISTANCES}.")
    if not 1 <= k <= fit.shape[0]:
        raise ValueError(f"knn k={k} must lie in 1..{fit.shape[0]} (the labelled clips).")
    distances = pairwise_distance(query.float(), fit.float().to(query.device), distance)
    ranks = distances.topk(k, dim=-1, largest=False).indices  # [Q, k], nearest first
    neighbours = fit_labels.long().to(query.device)[ranks]
    votes = torch.zeros(query.shape[0], n_classes, device=query.device)
    votes.scatter_add_(1, neighbours, torch.ones_like(neighbours, dtype=votes.dtype))
    nearness = (k - torch.arange(k, device=query.device, dtype=votes.dtype)) / (k + 1)
    bonus = torch.zeros_like(votes).scatter_reduce_(
        1, neighbours, nearness.expand_as(neighbours), reduce="amax"
    )
    return votes + bonus


@torch.no_grad()
def clip_statistics(loader, features: MFCCStatistics, device: str | torch.device = "cpu"):
    """MFCC statistics of every clip a sequential loader yields (windows averaged).

    Returns:
        ``(statistics [n_clips, 2 * n_mfcc], labels [n_clips])``.
    """
    features = features.to(device).eval()
    cache = EvaluationCache()
    for batch in loader:
        cache.add(features(batch["audio"].to(device)), batch)
    split = cache.finalize()
    return clip_means(split), split.clip_labels


def knn_test(
    datamodule, features: MFCCStatistics, k: int = 1, distance: str = "cosine", device="cpu"
) -> dict[str, float]:
    """Classify the test clips by their nearest training clips (no training).

    Returns:
        ``{"acc", "acc_ci95", "f1_macro", "f1_micro"}`` over the test clips.
    """
    fit, fit_labels = clip_statistics(datamodule.sequential_dataloader("train"), features, device)
    query, labels = clip_statistics(datamodule.sequential_dataloader("test"), features, device)
    labelled = fit_labels >= 0
    n_classes = int(max(fit_labels.max(), labels.max())) + 1
    scores = knn_scores(fit[labelled], fit_labels[labelled], query, n_classes, k, distance)
    return score_metrics(scores, labels)
