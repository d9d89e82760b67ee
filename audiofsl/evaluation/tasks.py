"""Accuracy of seeded few-shot tasks drawn over a cached split, scored by the method.

The one place where tasks meet representations: episodes are drawn over the split's clips
(:func:`sample_episodes`), support clips are represented by the mean of their windows or by one
seeded window, every window of a query clip is scored and the windows' logits are combined (a
majority vote with a tie rule, or their mean) — or the query's windows are averaged before
scoring. Everything is batched over tasks, queries and windows; tasks are processed in chunks
that bound memory.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from audiofsl.evaluation.cache import CachedSplit
from audiofsl.evaluation.episodes import EpisodeSettings, sample_episodes
from audiofsl.evaluation.windows import (
    TIE_RULES,
    combine_window_logits,
    mean_over_windows,
    pick_windows,
    window_table,
)

Scorer = Callable[[Tensor, Tensor], Tensor]

QUERY_WINDOWS = ("vote", "mean", "mean_embedding")
SUPPORT_WINDOWS = ("mean", "random")
#: Upper bound on the elements of the largest tensor of one chunk of tasks (about 128 MB).
MAX_CHUNK_ELEMENTS = 2**25


@dataclass(frozen=True)
class WindowRules:
    """How the windows of multi-window clips enter a task.

    Attributes:
        query_windows: ``"vote"`` (majority of the windows' predictions, ties by
            ``tie_rule``), ``"mean"`` (mean of the windows' logits) or ``"mean_embedding"``
            (mean representation, scored once).
        tie_rule: ``"first"``, ``"min_label"`` or ``"max_posterior"`` (see
            :func:`audiofsl.evaluation.windows.combine_window_logits`).
        support_windows: ``"mean"`` (mean representation of a support clip's windows) or
            ``"random"`` (one window per clip, seeded by the episode seed).
    """

    query_windows: str = "vote"
    tie_rule: str = "first"
    support_windows: str = "mean"

    def __post_init__(self) -> None:
        for name, value, allowed in (
            ("query_windows", self.query_windows, QUERY_WINDOWS),
            ("tie_rule", self.tie_rule, TIE_RULES),
            ("support_windows", self.support_windows, SUPPORT_WINDOWS),
        ):
            if value not in allowed:
                raise ValueError(f"evaluation.{name}={value!r}: choose one of {allowed}.")


@torch.no_grad()
def evaluate_tasks(
    split: CachedSplit,
    settings: EpisodeSettings,
    scorer: Scorer,
    rules: WindowRules = WindowRules(),
    task_chunk: int = 1000,
) -> Tensor:
    """Per-task accuracy of the seeded tasks of ``settings`` over a cached split.

    Args:
        split: the split's representations (already through the scorer's ``prepare``).
        settings: the episodes to draw (by clip; the seed fixes them for every method).
        scorer: ``scorer(support [t, W, S, *R], query [t, Q', *R]) -> logits [t, Q', W]``.
        rules: how windows of multi-window clips are combined.
        task_chunk: at most this many tasks per batched step (fewer for large representations).

    Returns:
        ``[n_tasks]`` float32 accuracies on the representations' device.
    """
    if not isinstance(task_chunk, int) or task_chunk < 1:
        raise ValueError(f"task_chunk={task_chunk!r} must be a positive integer.")
    reps, device = split.representations, split.representations.device
    episodes = sample_episodes(
        split.clip_labels.cpu(),
        settings.n_way,
        settings.n_shot,
        settings.n_query,
        settings.n_tasks,
        settings.seed,
    )
    table, mask = window_table(split.clip_of_window, split.n_clips)
    per_window = not split.single_window and rules.query_windows != "mean_embedding"
    clip_mean = None if split.single_window else mean_over_windows(reps, table, mask)
    support_reps = _support_representations(split, reps, table, mask, clip_mean, rules, settings)
    query_reps = reps[table[:, 0]] if split.single_window else clip_mean
    windows = table.shape[1] if per_window else 1
    # The largest tensor of a task: its query rows, times n_way for scorers that pair every
    # query with every class (relation modules).
    pairs = settings.n_way if getattr(scorer, "pairs_classes", False) else 1
    per_task = settings.n_way * settings.n_query * windows * pairs * max(reps[0].numel(), 1)
    chunk = max(1, min(task_chunk, MAX_CHUNK_ELEMENTS // per_task))
    accuracies = []
    for start in range(0, settings.n_tasks, chunk):
        batch = episodes[start : start + chunk].to(device)
        support = support_reps[batch[:, :, : settings.n_shot]]  # [t, W, S, *R]
        query_clips = batch[:, :, settings.n_shot :].flatten(1)  # [t, W*Q]
        if per_window:
            predicted = _window_predictions(reps, table, mask, support, query_clips, scorer, rules)
        else:
            predicted = scorer(support, query_reps[query_clips]).argmax(-1)
        target = torch.arange(settings.n_way, device=device).repeat_interleave(settings.n_query)
        accuracies.append((predicted == target).float().mean(-1))
    return torch.cat(accuracies)


def _support_representations(
    split: CachedSplit,
    reps: Tensor,
    table: Tensor,
    mask: Tensor,
    clip_mean: Tensor | None,
    rules: WindowRules,
    settings: EpisodeSettings,
) -> Tensor:
    """``[n_clips, *R]``: each clip's support representation."""
    if split.single_window:
        return reps[table[:, 0]]
    if rules.support_windows == "mean":
        return clip_mean
    generator = torch.Generator().manual_seed(settings.seed)
    column = pick_windows(mask.cpu(), generator).to(table.device)
    return reps[table[torch.arange(split.n_clips, device=table.device), column]]


def _window_predictions(
    reps: Tensor,
    table: Tensor,
    mask: Tensor,
    support: Tensor,
    query_clips: Tensor,
    scorer: Scorer,
    rules: WindowRules,
) -> Tensor:
    """``[t, Q']`` predictions from every window of each query clip."""
    tasks, n_query = query_clips.shape
    windows = table[query_clips]  # [t, Q', M], -1 for padding
    window_reps = reps[windows.clamp_min(0)].flatten(1, 2)  # [t, Q' * M, *R]
    logits = scorer(support, window_reps).reshape(tasks, n_query, windows.shape[-1], -1)
    combined = combine_window_logits(logits, mask[query_clips], rules.query_windows, rules.tie_rule)
    return combined.argmax(-1)
