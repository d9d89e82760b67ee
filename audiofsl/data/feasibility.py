"""What the episodes of a run need from each split, and fitting them to the data at hand.

A split must hold ``n_way`` classes with ``n_shot + n_query`` clips each for every episode
setting drawn from it. Errors name the configuration settings a user can change
(``sampler.n_way``, ``evaluation.test[0].n_query``, ``data.split.sizes``, ...). For evaluation
settings, a query count the data cannot fill is lowered (with a warning) rather than failing:
fewer queries per task change the spread of the per-task accuracies, not what they estimate.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EpisodeNeed:
    """One episode setting drawn from a split.

    Args:
        n_way: classes per episode.
        n_shot: support clips per class.
        n_query: query clips per class.
        setting: the configuration path of the setting, used in messages
            (e.g. ``"sampler"``, ``"evaluation.val"``, ``"evaluation.test[1]"``).
        adjustable: whether ``n_query`` may be lowered to fit the data (evaluation only).
    """

    n_way: int
    n_shot: int
    n_query: int
    setting: str
    adjustable: bool = True

    @property
    def clips_per_class(self) -> int:
        return self.n_shot + self.n_query


def classes_needed(needs: Iterable[EpisodeNeed]) -> int:
    """The most classes any of ``needs`` draws in one episode (0 for none)."""
    return max((need.n_way for need in needs), default=0)


def fit_needs(split: str, class_counts: Counter, needs: Sequence[EpisodeNeed]) -> dict[str, int]:
    """Check that every need can be drawn from a split; lower evaluation query counts to fit.

    Args:
        split: the split's name, for messages.
        class_counts: usable clips per class of the split.
        needs: the episode settings drawn from the split.

    Returns:
        {setting: lowered n_query} for each adjustable setting whose ``n_query`` had to drop.

    Raises:
        ValueError: when even one query per class leaves fewer than ``n_way`` classes; the
            message names the settings and the one-line change that helps.
    """
    lowered = {}
    counts = sorted(class_counts.values(), reverse=True)
    for need in needs:
        # The n_way-th largest class bounds the clips per class an episode can take.
        room = counts[need.n_way - 1] if len(counts) >= need.n_way else 0
        if room >= need.clips_per_class:
            continue
        if need.adjustable and room > need.n_shot:
            lowered[need.setting] = room - need.n_shot
            log.warning(
                "%s.n_query lowered from %d to %d to fit the %s split: its %d-th largest class "
                "has %d clips, and each task needs n_shot + n_query clips of %d classes",
                need.setting,
                need.n_query,
                room - need.n_shot,
                split,
                need.n_way,
                room,
                need.n_way,
            )
            continue
        raise ValueError(_infeasible_message(split, counts, need))
    return lowered


def min_clips_to_keep(needs: Sequence[EpisodeNeed], lowered: dict[str, int]) -> int:
    """Clips a class needs to be drawn by at least one of ``needs`` (after lowering)."""
    sizes = [need.n_shot + lowered.get(need.setting, need.n_query) for need in needs]
    return min(sizes, default=1)


def _infeasible_message(split: str, counts: list[int], need: EpisodeNeed) -> str:
    if need.n_query == 0:  # classification batches
        return (
            f"the {split} split has {sum(c > 0 for c in counts)} usable classes, but training "
            f"by classification ({need.setting}) needs at least {need.n_way}; give it more "
            "classes (data.split.sizes=[train, val, test] sets the classes per split)."
        )
    room = counts[need.n_way - 1] if len(counts) >= need.n_way else 0
    if room <= need.n_shot:
        # Too few classes even for one query each: fewer classes per task, or fewer shots.
        usable = sum(c > need.n_shot for c in counts)
        fix = (
            f"{need.setting}.n_way={usable}"
            if usable >= 2
            else f"{need.setting}.n_shot={max(room - 1, 1)}"
        )
    else:
        fix = f"{need.setting}.n_query={room - need.n_shot}"
    return (
        f"the {split} split has {len(counts)} classes, and its {need.n_way}-th largest has "
        f"{room} clips, but {need.setting} (n_way={need.n_way}, n_shot={need.n_shot}, "
        f"n_query={need.n_query}) needs {need.n_way} classes of {need.clips_per_class} clips. "
        f"Set {fix}, or give the {split} split more classes or clips (data.split.sizes="
        "[train, val, test] sets the classes per split)."
    )


@dataclass(frozen=True)
class SplitMinimum:
    """Classes each split needs: the largest ``n_way`` drawn from it, with its setting."""

    train: int
    val: int
    test: int
    train_setting: str = "sampler.n_way"
    val_setting: str = "evaluation.val.n_way"
    test_setting: str = "evaluation.test[].n_way"

    def of(self, split: str) -> tuple[int, str]:
        return getattr(self, split), getattr(self, f"{split}_setting")
