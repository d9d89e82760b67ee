"""Clips cut into windows at evaluation: the windows of each clip, and combining their scores.

Every window of every val/test clip is embedded once (see :class:`audiofsl.data.WindowDataset`);
these functions then group the cached windows by clip, without a Python loop over clips, tasks
or windows. A clip's windows sit in a padded table (``[n_clips, M]`` window indices and a mask),
so that a clip's representation is the mean over its windows (:func:`mean_over_windows`), one
seeded window stands for it (:func:`pick_windows`), or the scores of a query's windows are
combined into one prediction (:func:`combine_window_logits`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    "TIE_RULES",
    "WINDOW_COMBINATIONS",
    "combine_window_logits",
    "mean_over_windows",
    "pick_windows",
    "window_table",
]

#: How the windows of a query are combined (``evaluation.query_windows``).
WINDOW_COMBINATIONS = ("mean", "vote")
#: How a tied majority vote is broken (``evaluation.tie_rule``).
TIE_RULES = ("first", "min_label", "max_posterior")


def window_table(clip_of_window: Tensor, n_clips: int) -> tuple[Tensor, Tensor]:
    """The window indices of every clip, in window order, padded into a table.

    Args:
        clip_of_window: ``[N_windows]`` integer clip index (in ``0..n_clips-1``) of each window.
        n_clips: number of clips; every clip needs at least one window.

    Returns:
        ``table``: ``[n_clips, M]`` long window indices of each clip, ascending, padded with -1,
        where M is the largest number of windows of a clip; ``mask``: ``[n_clips, M]`` bool,
        True on real windows (the first ``count`` columns of each row).

    Raises:
        ValueError: if a clip index is out of range or a clip has no window.
    """
    if isinstance(n_clips, bool) or not isinstance(n_clips, int) or n_clips < 1:
        raise ValueError(f"window_table: n_clips={n_clips!r} must be a positive integer.")
    if clip_of_window.dim() != 1 or clip_of_window.is_floating_point():
        raise ValueError(
            "window_table: clip_of_window must be a 1-D integer tensor, got "
            f"{clip_of_window.dtype} {tuple(clip_of_window.shape)}."
        )
    clips = clip_of_window.long()
    if clips.numel() and (clips.min() < 0 or clips.max() >= n_clips):
        raise ValueError(f"window_table: clip_of_window has clip indices outside 0..{n_clips - 1}.")
    counts = torch.bincount(clips, minlength=n_clips)
    empty = (counts == 0).nonzero().flatten()
    if empty.numel():
        raise ValueError(
            f"window_table: {empty.numel()} clips have no window (first: clip "
            f"{int(empty[0])}); every clip needs at least one."
        )
    order = torch.sort(clips, stable=True).indices  # window indices, clip-major, ascending
    first = counts.cumsum(0) - counts  # position in ``order`` of each clip's first window
    sorted_clips = clips[order]
    column = torch.arange(clips.numel(), device=clips.device) - first[sorted_clips]
    width = int(counts.max())
    table = torch.full((n_clips, width), -1, dtype=torch.long, device=clips.device)
    table[sorted_clips, column] = order
    return table, table >= 0


def mean_over_windows(reps: Tensor, table: Tensor, mask: Tensor) -> Tensor:
    """The mean representation of each clip's windows.

    Gathers a padded ``[n_clips, M, *R]`` block, so memory grows with the longest clip.

    Args:
        reps: ``[N_windows, *R]`` representations of the windows (e.g. ``[N_windows, D]``).
        table: ``[n_clips, M]`` window indices from :func:`window_table` (-1 on padding).
        mask: ``[n_clips, M]`` bool, True on real windows; every row has one.

    Returns:
        ``[n_clips, *R]`` float32 masked means (accumulated in float32, on ``reps``' device).
    """
    _check_table(table, mask, "mean_over_windows")
    table, mask = table.to(reps.device), mask.to(reps.device)
    gathered = reps.float()[table.clamp(min=0)]  # [n_clips, M, *R]
    weights = mask.reshape(*mask.shape, *([1] * (reps.dim() - 1)))
    total = torch.where(weights, gathered, torch.zeros((), device=reps.device)).sum(dim=1)
    return total / weights.sum(dim=1)


def pick_windows(mask: Tensor, generator: torch.Generator) -> Tensor:
    """One uniformly drawn real window of each clip (seeded).

    Args:
        mask: ``[n_clips, M]`` bool, True on real windows; every row has one.
        generator: a CPU generator; the same state gives the same windows on any device.

    Returns:
        ``[n_clips]`` long column index into ``mask`` (and the table) of the drawn window, on
        ``mask``'s device.
    """
    if mask.dim() != 2:
        raise ValueError(f"pick_windows: mask must be [n_clips, M], got {tuple(mask.shape)}.")
    _check_mask(mask, "pick_windows")
    counts = mask.sum(dim=1).cpu()
    uniform = torch.rand(counts.shape, generator=generator, dtype=torch.float64)
    rank = torch.minimum((uniform * counts).long(), counts - 1).to(mask.device)  # k-th window
    hits = (mask.long().cumsum(dim=1) == rank[:, None] + 1) & mask
    return hits.long().argmax(dim=1)


def combine_window_logits(
    logits: Tensor, mask: Tensor, mode: str, tie_rule: str = "first"
) -> Tensor:
    """Scores of whole clips from the scores of their windows; their argmax is the prediction.

    ``"mean"`` averages the logits over the clip's real windows. ``"vote"`` counts the argmax
    class of every real window (padding never votes) and returns ``votes + tie_break``, with
    ``votes`` the integer vote counts and ``tie_break`` in [0, 1), distinct between the classes
    that got votes, so that the argmax is the class with the most votes and, among tied classes,
    the one the tie rule picks. The rules are those of the multi-segment evaluation of
    "Prototypical contrastive learning for improved few-shot audio classification" (code:
    github.com/magcil/audio-few-shot-learning, ``calculate_majority_vote_accuracy`` in
    ``loops/loops.py``, chosen by its ``tie_strategy`` setting):

    - ``"first"`` (their ``""``): the tied class voted for by the earliest window (the first tied
      label of a ``Counter``, i.e. in order of first vote). ``tie_break`` is
      ``(M - f) / (M + 1)`` with ``f`` the index of the class's first voting window.
    - ``"min_label"``: the smallest tied class index; ``tie_break = (W - c) / (W + 1)``.
    - ``"max_posterior"``: the tied class predicted by the single window with the highest
      posterior, a window's posterior being its top score, i.e. the maximum of its ``logits``
      row as given (in that code, negative Euclidean distances to the prototypes, not softmax
      probabilities; pass probabilities to rank windows by them). Equal posteriors go to the
      earlier window. Windows are ranked by (posterior descending, window index ascending);
      ``tie_break = (M - r) / (M + 1)`` with ``r`` the best rank among the class's windows.

    A class without votes has ``tie_break = 0`` under "first" and "max_posterior".

    Args:
        logits: ``[..., M, W]`` scores of each window of a clip for W classes (leading dims
            e.g. ``[tasks, queries]``); padding rows may hold anything finite or infinite.
        mask: ``[..., M]`` bool, True on real windows; every clip has one.
        mode: ``"mean"`` or ``"vote"`` (``evaluation.query_windows``).
        tie_rule: ``"first"``, ``"min_label"`` or ``"max_posterior"`` (``evaluation.tie_rule``),
            used by ``"vote"``.

    Returns:
        ``[..., W]`` float32 scores on ``logits``' device.
    """
    if mode not in WINDOW_COMBINATIONS:
        raise ValueError(
            f"evaluation.query_windows={mode!r} is not a way to combine windows; choose one of "
            f"{WINDOW_COMBINATIONS}."
        )
    if tie_rule not in TIE_RULES:
        raise ValueError(f"evaluation.tie_rule={tie_rule!r}: choose one of {TIE_RULES}.")
    if logits.dim() < 2 or mask.shape != logits.shape[:-1] or mask.dtype != torch.bool:
        raise ValueError(
            f"combine_window_logits: logits [..., M, W] {tuple(logits.shape)} need a bool mask "
            f"[..., M], got {mask.dtype} {tuple(mask.shape)}."
        )
    _check_mask(mask, "combine_window_logits")
    logits, mask = logits.float(), mask.to(logits.device)
    if mode == "mean":
        kept = torch.where(mask[..., None], logits, torch.zeros((), device=logits.device))
        return kept.sum(dim=-2) / mask.sum(dim=-1, keepdim=True)
    n_windows, n_classes = logits.shape[-2:]
    top, predicted = logits.max(dim=-1)  # [..., M]
    votes = (F.one_hot(predicted, n_classes) * mask[..., None]).sum(dim=-2).float()
    if tie_rule == "min_label":
        classes = torch.arange(n_classes, device=logits.device, dtype=torch.float32)
        return votes + (n_classes - classes) / (n_classes + 1)
    window = torch.arange(n_windows, device=logits.device).expand_as(predicted)
    if tie_rule == "first":
        rank = window
    else:  # max_posterior: rank windows by top score, earlier first on equal scores
        key = torch.where(mask, top, torch.full_like(top, -torch.inf))
        order = torch.sort(key, dim=-1, descending=True, stable=True).indices
        rank = order.argsort(dim=-1)
    rank = torch.where(mask, rank, n_windows)
    best = torch.full_like(votes, n_windows).scatter_reduce(
        -1, predicted, rank.float(), reduce="amin"
    )
    return votes + (n_windows - best) / (n_windows + 1)


def _check_mask(mask: Tensor, caller: str) -> None:
    if mask.dtype != torch.bool or mask.dim() < 1:
        raise ValueError(f"{caller}: mask must be a bool tensor [..., M], got {mask.dtype}.")
    if not mask.any(dim=-1).all():
        raise ValueError(f"{caller}: every clip needs at least one real window in mask.")


def _check_table(table: Tensor, mask: Tensor, caller: str) -> None:
    if table.dim() != 2 or table.shape != mask.shape:
        raise ValueError(
            f"{caller}: table and mask must both be [n_clips, M], got {tuple(table.shape)} and "
            f"{tuple(mask.shape)}."
        )
    _check_mask(mask, caller)
