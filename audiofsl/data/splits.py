"""Split strategies: which clips go to train, val and test.

- :class:`ClassSplit`: disjoint classes (few-shot learning): lists, a split file such as
  MetaAudio's, seeded sizes or ratios;
- :class:`~audiofsl.data.stratified.ClipSplit`: every class in every split, each class's clips
  divided by seeded, stratified fractions (a classifier trained on every class of a folder);
- :class:`FoldSplit`: the dataset's cross-validation folds (ESC-50, UrbanSound8K, a manifest's
  ``fold`` column, or :func:`~audiofsl.data.stratified.stratified_folds` made for a folder);
- :class:`OfficialSplit`: the dataset's own split names (FMA, IRMAS, NSynth).

Each has ``assign_records(records, minimum) -> {"train": [...], "val": [...], "test": [...]}``
and ``class_disjoint`` (whether the splits hold different classes). :class:`TrainSubset` then
thins the training split (a labelled fraction, a cap per class), seeded.
:func:`assign_stored_classes` rebuilds the split a run found, from the class lists it stored.
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from audiofsl.data.feasibility import MIN_WAY, SplitMinimum, fitting_ways
from audiofsl.data.records import ClipRecord

if TYPE_CHECKING:
    from audiofsl.data.stratified import ClipSplit

log = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")


@dataclass
class ClassSplit:
    """How classes are divided between the train, val and test splits (disjoint classes).

    Explicit lists win: when any of ``train_classes``, ``val_classes``, ``test_classes`` is
    given, the named classes go to their split, ``train`` gets every other class when its list
    is None, and a missing val/test list means an empty split. Otherwise the sorted class names
    are shuffled by ``seed`` and cut into ``sizes`` classes (when given) or ``ratios`` of all
    classes (largest-remainder rounding; classes left over by ``sizes`` are unused).

    A ratio split that leaves a split fewer classes than its episodes draw (``minimum``) is
    widened, with a warning: val and test get the classes they need, taken from train; when
    train then falls short, the val split is dropped (no validation) before giving up. Explicit
    sizes and lists are never changed.

    A split ``file`` (MetaAudio's ``.npy`` object array of three class-name arrays, or a
    ``.json`` with lists ``train``/``val``/``test``) gives the three lists; classes it names
    that the data lacks are an error listing them (``missing="warn"`` logs and drops them, for
    copies known to be incomplete).

    Args:
        train_classes: class names of the train split.
        val_classes: class names of the val split.
        test_classes: class names of the test split.
        ratios: fractions of classes for train, val, test (non-negative, summing to 1).
        sizes: numbers of classes for train, val, test.
        seed: seed of the class shuffle.
        file: a split file (see above), instead of the three lists.
        missing: ``"error"`` or ``"warn"`` for split-file classes absent from the data.
    """

    train_classes: Sequence[str] | None = None
    val_classes: Sequence[str] | None = None
    test_classes: Sequence[str] | None = None
    ratios: Sequence[float] = (0.7, 0.1, 0.2)
    sizes: Sequence[int] | None = None
    seed: int = 0
    file: str | None = None
    missing: str = "error"
    class_disjoint: bool = field(default=True, init=False)

    def assign_records(
        self, records: Sequence[ClipRecord], minimum: SplitMinimum | None = None
    ) -> dict[str, list[ClipRecord]]:
        """The records of each split (by their class)."""
        names = self.assign([r.class_name for r in records], minimum)
        where = {name: split for split, members in names.items() for name in members}
        return {s: [r for r in records if where.get(r.class_name) == s] for s in SPLITS}

    @property
    def explicit(self) -> bool:
        """Whether class lists (rather than a seeded cut) define the split."""
        lists = (self.train_classes, self.val_classes, self.test_classes)
        return any(names is not None for names in lists)

    @property
    def adapts(self) -> bool:
        """Whether the split is a ratio cut, which is widened to fit the episodes."""
        return self.file is None and not self.explicit and self.sizes is None

    def assign(
        self, class_names: Sequence[str], minimum: SplitMinimum | None = None
    ) -> dict[str, list[str]]:
        """Split ``class_names``.

        Args:
            class_names: every class found in the data.
            minimum: classes each split's episodes draw (adapts ratio splits; see above).

        Returns:
            {"train": [...], "val": [...], "test": [...]}, each sorted.
        """
        names = sorted(set(class_names))
        if self.file is not None:
            return self._assign_from_file(names)
        if self.explicit:
            if self.sizes is not None:
                raise ValueError(
                    "data.split.sizes cannot be combined with explicit class lists "
                    "(data.split.train_classes / val_classes / test_classes); set one or the other."
                )
            return self._assign_explicit(names)
        if self.sizes is not None:
            counts = _check_sizes(self.sizes, len(names))
        else:
            counts = largest_remainder_counts(self.ratios, len(names))
            if minimum is not None:
                counts = _widen_to_minimum(counts, minimum, list(self.ratios))
        order = torch.randperm(len(names), generator=torch.Generator().manual_seed(self.seed))
        shuffled = [names[i] for i in order.tolist()]
        bounds = [0, counts[0], counts[0] + counts[1], sum(counts)]
        return {s: sorted(shuffled[bounds[i] : bounds[i + 1]]) for i, s in enumerate(SPLITS)}

    def _assign_from_file(self, names: list[str]) -> dict[str, list[str]]:
        lists = read_split_file(self.file)
        known = set(names)
        absent = sorted({n for members in lists.values() for n in members} - known)
        if absent and self.missing != "warn":
            raise ValueError(
                f"data.split.file={self.file} names {len(absent)} classes the data lacks, e.g. "
                f"{absent[:10]}; point data.root at the full copy, or set "
                "data.split.missing=warn to leave them out."
            )
        if absent:
            log.warning(
                "split file %s: %d classes absent from the data were left out: %s",
                self.file,
                len(absent),
                absent[:20],
            )
        return {s: sorted(n for n in lists[s] if n in known) for s in SPLITS}

    def _assign_explicit(self, names: list[str]) -> dict[str, list[str]]:
        given = {
            split: _clean_list(split, value, set(names))
            for split, value in zip(
                SPLITS, (self.train_classes, self.val_classes, self.test_classes), strict=True
            )
            if value is not None
        }
        for i, first in enumerate(SPLITS):
            for second in SPLITS[i + 1 :]:
                shared = sorted(set(given.get(first, [])) & set(given.get(second, [])))
                if shared:
                    raise ValueError(
                        f"data.split.{first}_classes and data.split.{second}_classes share the "
                        f"classes {shared[:10]}; a class may belong to one split only."
                    )
        if "train" not in given:
            taken = set(given.get("val", [])) | set(given.get("test", []))
            given["train"] = [n for n in names if n not in taken]
        return {split: sorted(given.get(split, [])) for split in SPLITS}


def _clean_list(split: str, value: Sequence[str], known: set[str]) -> list[str]:
    if isinstance(value, str):
        raise ValueError(
            f"data.split.{split}_classes must be a list of class names, got {value!r}."
        )
    names = [str(name) for name in value]  # YAML may read class "3" as the integer 3
    unknown = [name for name in names if name not in known]
    if unknown:
        raise ValueError(
            f"data.split.{split}_classes names unknown classes {unknown[:10]}; the data has the "
            f"classes {sorted(known)[:20]}{' ...' if len(known) > 20 else ''}."
        )
    if len(set(names)) != len(names):
        raise ValueError(f"data.split.{split}_classes lists a class more than once: {names}.")
    return names


def largest_remainder_counts(
    ratios: Sequence[float], n_items: int, setting: str = "data.split.ratios"
) -> list[int]:
    """Items per split by the largest-remainder method (ties go to the earlier split)."""
    values = [float(r) for r in ratios]
    if len(values) != 3 or any(not math.isfinite(r) or r < 0 for r in values):
        raise ValueError(
            f"{setting}={list(ratios)} must be three non-negative numbers (train, val, test)."
        )
    if abs(sum(values) - 1.0) > 1e-6:
        raise ValueError(f"{setting}={list(ratios)} must sum to 1, not {sum(values)}.")
    exact = [r * n_items for r in values]
    counts = [math.floor(x + 1e-9) for x in exact]
    by_remainder = sorted(range(3), key=lambda i: (-(exact[i] - counts[i]), i))
    for i in by_remainder[: n_items - sum(counts)]:
        counts[i] += 1
    return counts


def _widen_to_minimum(counts: list[int], minimum: SplitMinimum, ratios: list) -> list[int]:
    """Ratio counts moved so that every split holds the classes its episodes draw."""
    total, wanted = sum(counts), list(counts)
    for i in (1, 2):  # val, test: raised to their n_way unless the ratio asks for none
        need = minimum.of(SPLITS[i])
        if 0 < wanted[i] < need or (wanted[i] == 0 and ratios[i] > 0):
            wanted[i] = need
    wanted[0] = total - wanted[1] - wanted[2]
    if wanted[0] < minimum.train and wanted[1] > 0:
        wanted[1], wanted[0] = 0, total - wanted[2]
    if wanted == counts:
        return counts
    if wanted[0] < minimum.train or min(wanted) < 0:
        raise ValueError(_too_few_classes_message(total, minimum))
    log.warning(
        "data.split.ratios=%s gives %s of the %d classes, too few for %s, %s and %s; using %s "
        "instead%s. Set data.split.sizes=[%s] (train, val, test classes) to choose.",
        ratios, "/".join(map(str, counts)), total, minimum.describe("train"),
        minimum.describe("val"), minimum.describe("test"), "/".join(map(str, wanted)),
        " (no validation split: the last epoch is kept)" if wanted[1] == 0 else "",
        ",".join(map(str, wanted)),
    )  # fmt: skip
    return wanted


def _too_few_classes_message(total: int, minimum: SplitMinimum) -> str:
    train, test = fitting_ways(total, minimum.train, minimum.test)
    fix = [*minimum.lowered("train", train), *minimum.lowered("test", test)]
    advice = f"set {' '.join(fix)} or add classes." if train >= MIN_WAY else "add classes."
    return (
        f"the {total} classes cannot hold {minimum.describe('train')} and "
        f"{minimum.describe('test')} on disjoint classes; {advice}"
    )


def _check_sizes(sizes: Sequence[int], n_classes: int) -> list[int]:
    counts = list(sizes)
    if len(counts) != 3 or any(isinstance(c, bool) or not isinstance(c, int) for c in counts):
        raise ValueError(f"data.split.sizes={counts} must be three integers (train, val, test).")
    if any(c < 0 for c in counts) or sum(counts) > n_classes:
        raise ValueError(
            f"data.split.sizes={counts} must be non-negative and sum to at most the "
            f"{n_classes} classes found."
        )
    return counts


def read_split_file(path: str | os.PathLike) -> dict[str, list[str]]:
    """Class lists of a split file: MetaAudio's ``.npy`` (three arrays) or a ``.json``.

    Raises:
        FileNotFoundError: if the file does not exist.
        ValueError: if it does not hold three lists of class names.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"data.split.file={path} does not exist.")
    if path.suffix == ".json":
        content = json.loads(path.read_text())
        lists = [content.get(s) for s in SPLITS] if isinstance(content, dict) else None
    else:
        content = np.load(path, allow_pickle=True)
        lists = list(content) if len(content) == 3 else None
    if not lists or any(not isinstance(m, list | np.ndarray) for m in lists):
        raise ValueError(
            f"data.split.file={path} must hold three lists of class names (train, val, test)."
        )
    return {
        split: [str(name) for name in members] for split, members in zip(SPLITS, lists, strict=True)
    }


@dataclass
class FoldSplit:
    """Cross-validation on the dataset's folds: the test folds against the rest.

    Args:
        test_folds: folds held out for testing (one run per choice; e.g. ``[1]`` .. ``[5]``).
        val_folds: folds held out for validation (none by default: the last epoch is tested).
    """

    test_folds: Sequence[int] = (1,)
    val_folds: Sequence[int] = ()
    class_disjoint: bool = field(default=False, init=False)

    def assign_records(
        self, records: Sequence[ClipRecord], minimum: SplitMinimum | None = None
    ) -> dict[str, list[ClipRecord]]:
        folds = {r.fold for r in records}
        if None in folds:
            raise ValueError(
                "data.split is by fold, but this source gives its clips no fold: give a "
                "manifest a fold column, or let a folder make seeded, stratified folds "
                "(e.g. data.folds=5 with data=folder)."
            )
        test, val = set(self.test_folds), set(self.val_folds)
        unknown = sorted((test | val) - folds)
        if unknown or test & val or not test:
            raise ValueError(
                f"data.split.test_folds={list(self.test_folds)} / val_folds="
                f"{list(self.val_folds)} must be distinct, non-empty for test, and among the "
                f"folds {sorted(folds)} (unknown: {unknown})."
            )
        split_of = {f: "test" if f in test else "val" if f in val else "train" for f in folds}
        return {s: [r for r in records if split_of[r.fold] == s] for s in SPLITS}


@dataclass
class OfficialSplit:
    """The dataset's own split: which of its split names make train, val and test.

    Args:
        train: split names of the training clips.
        val: split names of the validation clips.
        test: split names of the test clips.
    """

    train: Sequence[str] = ("train", "training")
    val: Sequence[str] = ("val", "valid", "validation")
    test: Sequence[str] = ("test",)
    class_disjoint: bool = field(default=False, init=False)

    def assign_records(
        self, records: Sequence[ClipRecord], minimum: SplitMinimum | None = None
    ) -> dict[str, list[ClipRecord]]:
        names = {"train": set(self.train), "val": set(self.val), "test": set(self.test)}
        found = {r.split for r in records}
        if not found & names["train"]:
            raise ValueError(
                f"data.split.train={list(self.train)} names none of the source's splits "
                f"{sorted(map(str, found))}."
            )
        return {s: [r for r in records if r.split in names[s]] for s in SPLITS}


@dataclass
class TrainSubset:
    """A seeded, stratified thinning of the training split.

    Args:
        label_fraction: keep the labels of this fraction of each class's clips (CLAR: 0.01,
            0.1, 0.2, 1.0); the others become unlabelled clips.
        per_class_cap: at most this many clips per class (Pons et al.: 1 .. 100).
        seed: seed of the draw.
        keep_unlabelled: train on the unlabelled clips too, with label -1 (semi-supervised
            methods such as CLAR, whose contrastive term needs no label); otherwise they are
            left out of training.
    """

    label_fraction: float = 1.0
    per_class_cap: int | None = None
    seed: int = 0
    keep_unlabelled: bool = False

    def __post_init__(self) -> None:
        if not 0 < self.label_fraction <= 1:
            raise ValueError(f"data.subset.label_fraction={self.label_fraction} must be in (0, 1].")
        if self.per_class_cap is not None and self.per_class_cap < 1:
            raise ValueError(f"data.subset.per_class_cap={self.per_class_cap} must be >= 1.")

    @property
    def active(self) -> bool:
        return self.label_fraction < 1 or self.per_class_cap is not None

    def apply(self, records: Sequence[ClipRecord]) -> tuple[list[ClipRecord], list[ClipRecord]]:
        """(labelled records, unlabelled records) of the training split."""
        generator = torch.Generator().manual_seed(self.seed)
        by_class: dict[str, list[ClipRecord]] = {}
        for record in records:
            by_class.setdefault(record.class_name, []).append(record)
        labelled, unlabelled = [], []
        for name in sorted(by_class):
            members = by_class[name]
            order = torch.randperm(len(members), generator=generator).tolist()
            members = [members[i] for i in order]
            if self.per_class_cap is not None:
                members = members[: self.per_class_cap]
            keep = max(1, round(self.label_fraction * len(members)))
            labelled += members[:keep]
            unlabelled += members[keep:]
        order = {id(r): i for i, r in enumerate(records)}
        return sorted(labelled, key=lambda r: order[id(r)]), sorted(
            unlabelled, key=lambda r: order[id(r)]
        )


def assign_stored_classes(
    records: Sequence[ClipRecord],
    split: ClassSplit | ClipSplit | FoldSplit | OfficialSplit,
    classes: Mapping[str, Sequence[str] | None],
) -> dict[str, list[ClipRecord]]:
    """The records of each split as a run found them, from the class lists it stored.

    A run stores the classes each split held once widened to fit its episodes and once the
    classes too small for them were dropped (``data.split_classes``), so that every later
    measurement rebuilds exactly that split. Disjoint classes are assigned by the lists (the
    widening is not redone); splits that share their classes (clips, folds, official) assign
    the clips as before, and each split then keeps its listed classes
    (:func:`keep_stored_classes`, once the classes are numbered).

    Raises:
        ValueError: if a stored class is not in the data.
    """
    known = {record.class_name for record in records}
    stored = {name for names in classes.values() if names for name in names}
    missing = sorted(stored - known)
    if missing:
        raise ValueError(
            f"data.split_classes: the run's classes {missing[:10]} are not in the data; point "
            "data.root (or data.manifest) at the data the run was trained on, or set "
            "data.split_classes=null to split this data afresh."
        )
    if not split.class_disjoint:
        return split.assign_records(records)
    where = {name: s for s in SPLITS for name in classes.get(s) or ()}
    return {s: [r for r in records if where.get(r.class_name) == s] for s in SPLITS}


def keep_stored_classes(
    records: Sequence[ClipRecord], names: Sequence[str] | None
) -> list[ClipRecord]:
    """The records of the classes ``names`` (all of them for None)."""
    if names is None:
        return list(records)
    keep = set(names)
    return [record for record in records if record.class_name in keep]
