"""An embedding method tested as a classifier: the training clips' class prototypes.

When the test clips belong to the training classes (cross-validation folds), a method without a
classifier (ProtoNet, a frozen pre-trained encoder) classifies them by the nearest class
prototype, each prototype the mean embedding of that class's training clips: all of them, the
whole training split being the support set. The method's scorer decides the rule: its
``prepare`` transform (e.g. SimpleShot's CL2N, centred on the run's training mean) and its
``distance``. Clips cut into several windows are represented by the mean of their windows.
"""

from __future__ import annotations

import dataclasses

import torch
from torch import Tensor

from audiofsl.evaluation.cache import CachedSplit
from audiofsl.evaluation.classification import classifier_metrics
from audiofsl.evaluation.embedding import embed_loader
from audiofsl.evaluation.windows import mean_over_windows, window_table
from audiofsl.heads import pairwise_distance


def clip_means(split: CachedSplit) -> Tensor:
    """The mean representation of each clip's windows: ``[n_clips, D]``."""
    table, mask = window_table(split.clip_of_window, split.n_clips)
    return mean_over_windows(split.representations, table, mask)


def prototype_scores(
    fit: Tensor, fit_labels: Tensor, query: Tensor, n_classes: int, distance: str = "euclidean"
) -> Tensor:
    """Negative distances of every query to every class prototype.

    Args:
        fit: ``[N, D]`` embeddings of the labelled clips; a class's prototype is their mean.
        fit_labels: ``[N]`` classes in ``0..n_classes-1``; rows labelled -1 are left out.
        query: ``[Q, D]`` embeddings to classify.
        n_classes: number of classes C; a class without a labelled clip scores ``-inf``.
        distance: ``"euclidean"``, ``"squared_euclidean"`` or ``"cosine"``.

    Returns:
        ``[Q, C]`` float32 scores (the nearest prototype scores highest).
    """
    labelled = fit_labels >= 0
    fit, fit_labels = fit[labelled].float(), fit_labels[labelled].long().to(fit.device)
    if fit_labels.numel() == 0:
        raise ValueError("prototype_scores: no labelled clip to build a prototype from.")
    sums = torch.zeros(n_classes, fit.shape[1], device=fit.device).index_add_(0, fit_labels, fit)
    counts = torch.bincount(fit_labels, minlength=n_classes)
    protos = sums / counts.clamp_min(1).unsqueeze(1)
    scores = -pairwise_distance(query.float().to(fit.device), protos, distance)
    return scores.masked_fill(counts == 0, float("-inf"))


def score_metrics(scores: Tensor, labels: Tensor) -> dict[str, float]:
    """A classifier's clip metrics (accuracy with its 95% CI, macro and micro F1) of
    ``[n_clips, C]`` scores whose argmax is the predicted class."""
    clips = torch.arange(scores.shape[0], device=scores.device)
    return classifier_metrics(CachedSplit(scores, clips, labels.to(scores.device)))


@torch.no_grad()
def prototype_classifier_test(method, datamodule, split: str = "test") -> dict[str, float]:
    """Classify ``split``'s clips by the nearest prototype of the training clips.

    Args:
        method: a trained method whose scorer scores by distance to prototypes (its
            ``prototype_scorer()``, e.g. a :class:`~audiofsl.evaluation.PrototypeScorer`), on
            the device to embed on.
        datamodule: a set-up data module whose splits share their classes (folds).
        split: the split classified.

    Returns:
        ``{"acc", "acc_ci95", "f1_macro", "f1_micro"}`` over the clips of ``split``.
    """
    scorer = method.prototype_scorer()
    if scorer is None:
        raise TypeError(
            f"{type(method).__name__}'s scorer {method.scorer!r} has no distance to nearest "
            "prototypes."
        )
    if datamodule.split.class_disjoint:
        raise ValueError(
            "a prototype classifier needs test clips of the training classes; these splits have "
            "disjoint classes: choose data/split=folds or data/split=official instead"
        )
    train_mean = method.fitted_train_mean()

    def embed(name: str) -> CachedSplit:
        cached = embed_loader(method, datamodule.sequential_dataloader(name))
        prepared = scorer.prepare(cached.representations, train_mean)
        return dataclasses.replace(cached, representations=prepared)

    fit, measure = embed("train"), embed(split)
    n_classes = int(max(fit.clip_labels.max(), measure.clip_labels.max())) + 1
    scores = prototype_scores(
        clip_means(fit), fit.clip_labels, clip_means(measure), n_classes, scorer.distance
    )
    return score_metrics(scores, measure.clip_labels)
