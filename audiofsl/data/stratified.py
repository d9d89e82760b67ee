"""Stratified splits of each class's clips: every class in every split, and folds.

- :class:`ClipSplit`: a classifier learns every class of a folder and is tested on held-out
  clips of the same classes (``data/split=clips``);
- :func:`stratified_folds`: seeded folds for a folder without folds of its own
  (``data.folds``), for ``data/split=folds`` and the few-data study.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch

from audiofsl.data.feasibility import SplitMinimum
from audiofsl.data.records import ClipRecord
from audiofsl.data.splits import SPLITS, largest_remainder_counts

log = logging.getLogger(__name__)


@dataclass
class ClipSplit:
    """Every class in every split: each class's clips divided by seeded, stratified fractions.

    The split of a classifier that learns every class of a folder and is tested on held-out
    clips of the same classes (``data/split=clips``). Each class's clips are shuffled (seeded)
    and cut into ``fractions`` by the largest-remainder method; every split with a positive
    fraction gets at least one clip of every class (taken from the largest share), so a class
    needs at least as many clips as there are such splits. Clips are treated as independent
    recordings.

    Args:
        fractions: fractions of each class's clips for train, val, test (non-negative, summing
            to 1; a zero leaves that split empty).
        seed: seed of the shuffle.
    """

    fractions: Sequence[float] = (0.7, 0.1, 0.2)
    seed: int = 0
    class_disjoint: bool = field(default=False, init=False)

    def assign_records(
        self, records: Sequence[ClipRecord], minimum: SplitMinimum | None = None
    ) -> dict[str, list[ClipRecord]]:
        """The records of each split, in their original order."""
        members = _indices_by_class(records)
        self._check_class_sizes({name: len(found) for name, found in members.items()})
        generator = torch.Generator().manual_seed(self.seed)
        split_of = [""] * len(records)
        for name in sorted(members):
            order = torch.randperm(len(members[name]), generator=generator).tolist()
            shuffled = [members[name][i] for i in order]
            counts = self._counts(len(shuffled))
            bounds = [0, counts[0], counts[0] + counts[1], len(shuffled)]
            for i, split in enumerate(SPLITS):
                for index in shuffled[bounds[i] : bounds[i + 1]]:
                    split_of[index] = split
        return {s: [r for r, where in zip(records, split_of, strict=True) if where == s]
                for s in SPLITS}  # fmt: skip

    def _counts(self, n_clips: int) -> list[int]:
        """Clips of a class per split: the fractions, raised to one clip where positive."""
        counts = largest_remainder_counts(self.fractions, n_clips, "data.split.fractions")
        for i, fraction in enumerate(self.fractions):
            if fraction > 0 and counts[i] == 0:
                counts[max(range(3), key=counts.__getitem__)] -= 1
                counts[i] = 1
        return counts

    def _check_class_sizes(self, sizes: dict[str, int]) -> None:
        needed = sum(float(f) > 0 for f in self.fractions)
        largest_remainder_counts(self.fractions, 0, "data.split.fractions")  # checks the fractions
        small = sorted(name for name, size in sizes.items() if size < needed)
        if not small:
            return
        listed = ", ".join(f"{name} ({sizes[name]})" for name in small[:20])
        two_clips = needed == 3 and min(sizes[name] for name in small) >= 2
        advice = ", or leave validation out: set data.split.fractions=[0.8,0.0,0.2]"
        raise ValueError(
            f"data/split=clips puts clips of every class in each of the {needed} splits of "
            f"data.split.fractions={list(self.fractions)}, but {len(small)} class(es) have fewer "
            f"than {needed} clips: {listed}; add clips to them or remove them from the data"
            + (advice if two_clips else ".")
        )


def _indices_by_class(records: Sequence[ClipRecord]) -> dict[str, list[int]]:
    """Positions of each class's records, in order."""
    members: dict[str, list[int]] = {}
    for index, record in enumerate(records):
        members.setdefault(record.class_name, []).append(index)
    return members


def stratified_folds(class_names: Sequence[str], n_folds: int, seed: int = 0) -> list[int]:
    """A fold in ``1..n_folds`` for each clip, stratified by class and seeded.

    Each class's clips (classes in sorted order) are shuffled and dealt round-robin to the
    folds, the deal continuing from one class to the next: every class is spread evenly over
    the folds, and the folds differ in size by at most one clip.

    Args:
        class_names: the class of each clip.
        n_folds: number of folds (>= 2).
        seed: seed of the shuffle.

    Returns:
        The fold of each clip, aligned with ``class_names``.
    """
    if isinstance(n_folds, bool) or not isinstance(n_folds, int) or n_folds < 2:
        raise ValueError(f"data.folds={n_folds!r} must be an integer >= 2 (or null: no folds).")
    members: dict[str, list[int]] = {}
    for index, name in enumerate(class_names):
        members.setdefault(name, []).append(index)
    generator = torch.Generator().manual_seed(seed)
    folds, dealt = [0] * len(class_names), 0
    for name in sorted(members):
        for i in torch.randperm(len(members[name]), generator=generator).tolist():
            folds[members[name][i]] = dealt % n_folds + 1
            dealt += 1
    small = sorted(name for name, found in members.items() if len(found) < n_folds)
    if small:
        log.warning(
            "%d class(es) have fewer clips than data.folds=%d makes folds, so some folds lack "
            "them: %s",
            len(small), n_folds, ", ".join(f"{n} ({len(members[n])})" for n in small[:20]),
        )  # fmt: skip
    return folds
