"""Classification accuracy of a classifier's cached logits, windows of a clip combined."""

from __future__ import annotations

from torch import Tensor

from audiofsl.evaluation.cache import CachedSplit
from audiofsl.evaluation.statistics import mean_ci
from audiofsl.evaluation.windows import mean_over_windows, window_table

CLIP_COMBINATIONS = ("mean", "max", "mean_logits")


def clip_probabilities(split: CachedSplit, combine: str = "mean") -> Tensor:
    """Class probabilities per clip from the logits of its windows.

    Args:
        split: ``representations`` [N_windows, C] logits of a classifier.
        combine: ``"mean"`` (average of the windows' softmax), ``"max"`` (per class, the
            largest window probability) or ``"mean_logits"`` (softmax of the windows' average
            logits, as COLA scores a clip's non-overlapping windows; the ``mean`` of the
            few-shot window rules), vectorised over clips.

    Returns:
        ``[n_clips, C]`` float32 probabilities.
    """
    if combine not in CLIP_COMBINATIONS:
        raise ValueError(f"clip combination {combine!r}: choose one of {CLIP_COMBINATIONS}.")
    table, mask = window_table(split.clip_of_window, split.n_clips)
    if combine == "mean_logits":
        return mean_over_windows(split.representations.float(), table, mask).softmax(-1)
    probabilities = split.representations.float().softmax(-1)
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
