"""Classification accuracy of a classifier's cached logits, windows of a clip combined."""

from __future__ import annotations

from functools import partial

import torch
from torch import Tensor

from audiofsl.evaluation.cache import CachedSplit
from audiofsl.evaluation.metrics import multi_label_metrics, single_label_metrics
from audiofsl.evaluation.statistics import mean_ci
from audiofsl.evaluation.windows import mean_over_windows, window_table

CLIP_COMBINATIONS = ("mean", "max", "mean_logits")


def clip_probabilities(
    split: CachedSplit, combine: str = "mean", multi_label: bool = False
) -> Tensor:
    """Class probabilities per clip from the logits of its windows.

    Args:
        split: ``representations`` [N_windows, C] logits of a classifier.
        combine: ``"mean"`` (average of the windows' softmax), ``"max"`` (per class, the
            largest window probability) or ``"mean_logits"`` (softmax of the windows' average
            logits, as COLA scores a clip's non-overlapping windows; the ``mean`` of the
            few-shot window rules), vectorised over clips.
        multi_label: per-class sigmoid probabilities (independent labels) instead of a
            softmax over the classes.

    Returns:
        ``[n_clips, C]`` float32 probabilities.
    """
    if combine not in CLIP_COMBINATIONS:
        raise ValueError(f"clip combination {combine!r}: choose one of {CLIP_COMBINATIONS}.")
    table, mask = window_table(split.clip_of_window, split.n_clips)
    activation = torch.sigmoid if multi_label else partial(torch.softmax, dim=-1)
    if combine == "mean_logits":
        return activation(mean_over_windows(split.representations.float(), table, mask))
    probabilities = activation(split.representations.float())
    if combine == "mean":
        return mean_over_windows(probabilities, table, mask)
    gathered = probabilities[table.clamp_min(0)].masked_fill(~mask.unsqueeze(-1), -1.0)
    return gathered.amax(dim=1)


def classification_accuracy(split: CachedSplit, combine: str = "mean") -> dict[str, float]:
    """Accuracy over the split's clips and its 95% CI (normal approximation, as for tasks)."""
    predicted = clip_probabilities(split, combine).argmax(-1)
    correct = (predicted == split.clip_labels.to(predicted.device)).float()
    mean, ci95 = mean_ci(correct)
    return {"acc": mean, "acc_ci95": ci95}


def classifier_metrics(
    split: CachedSplit, combine: str = "mean", threshold: float | Tensor | None = None
) -> dict[str, float]:
    """What a classifier's test reports, per clip (windows combined by ``combine``).

    Single-label (``threshold`` None): accuracy with its 95% CI, macro and micro F1.
    Multi-label (a ``threshold``, and the split's ``clip_targets``): sigmoid probabilities over
    ``threshold`` are the predicted labels; ``acc`` is the exact-match (subset) accuracy with
    its CI, plus macro and micro F1, Hamming distance and mAP (see
    :mod:`audiofsl.evaluation.metrics`).

    Returns:
        Scalar metrics by name.
    """
    if threshold is None:
        probabilities = clip_probabilities(split, combine)
        labels = split.clip_labels.to(probabilities.device)
        scores = single_label_metrics(probabilities, labels)
        correct = (probabilities.argmax(-1) == labels).float()
        extra = {}
    else:
        if split.clip_targets is None:
            raise ValueError("multi-label metrics need the clips' multi-hot labels.")
        probabilities = clip_probabilities(split, combine, multi_label=True)
        targets = split.clip_targets.to(probabilities.device)
        scores = multi_label_metrics(probabilities, targets, threshold)
        predicted = probabilities > torch.as_tensor(threshold, device=probabilities.device)
        correct = (predicted == targets.bool()).all(-1).float()
        extra = {"hamming": scores["hamming"], "map": scores["map"]}
    mean, ci95 = mean_ci(correct)
    return {"acc": mean, "acc_ci95": ci95, "f1_macro": scores["f1_macro"],
            "f1_micro": scores["f1_micro"], **extra}  # fmt: skip
