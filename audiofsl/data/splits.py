"""Assigning classes to the disjoint train / val / test splits of few-shot learning."""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from audiofsl.data.feasibility import SplitMinimum

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

    Args:
        train_classes: class names of the train split.
        val_classes: class names of the val split.
        test_classes: class names of the test split.
        ratios: fractions of classes for train, val, test (non-negative, summing to 1).
        sizes: numbers of classes for train, val, test.
        seed: seed of the class shuffle.
    """

    train_classes: Sequence[str] | None = None
    val_classes: Sequence[str] | None = None
    test_classes: Sequence[str] | None = None
    ratios: Sequence[float] = (0.7, 0.1, 0.2)
    sizes: Sequence[int] | None = None
    seed: int = 0

    @property
    def explicit(self) -> bool:
        """Whether class lists (rather than a seeded cut) define the split."""
        lists = (self.train_classes, self.val_classes, self.test_classes)
        return any(names is not None for names in lists)

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
        if self.explicit:
            if self.sizes is not None:
                raise ValueError(
                    "data.split_sizes cannot be combined with explicit class lists "
                    "(data.train_classes / val_classes / test_classes); set one or the other."
                )
            return self._assign_explicit(names)
        if self.sizes is not None:
            counts = _check_sizes(self.sizes, len(names))
        else:
            counts = _ratio_counts(self.ratios, len(names))
            if minimum is not None:
                counts = _widen_to_minimum(counts, minimum, list(self.ratios))
        order = torch.randperm(len(names), generator=torch.Generator().manual_seed(self.seed))
        shuffled = [names[i] for i in order.tolist()]
        bounds = [0, counts[0], counts[0] + counts[1], sum(counts)]
        return {s: sorted(shuffled[bounds[i] : bounds[i + 1]]) for i, s in enumerate(SPLITS)}

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
                        f"data.{first}_classes and data.{second}_classes share the classes "
                        f"{shared[:10]}; a class may belong to one split only."
                    )
        if "train" not in given:
            taken = set(given.get("val", [])) | set(given.get("test", []))
            given["train"] = [n for n in names if n not in taken]
        return {split: sorted(given.get(split, [])) for split in SPLITS}


def _clean_list(split: str, value: Sequence[str], known: set[str]) -> list[str]:
    if isinstance(value, str):
        raise ValueError(f"data.{split}_classes must be a list of class names, got {value!r}.")
    names = [str(name) for name in value]  # YAML may read class "3" as the integer 3
    unknown = [name for name in names if name not in known]
    if unknown:
        raise ValueError(
            f"data.{split}_classes names unknown classes {unknown[:10]}; the data has the "
            f"classes {sorted(known)[:20]}{' ...' if len(known) > 20 else ''}."
        )
    if len(set(names)) != len(names):
        raise ValueError(f"data.{split}_classes lists a class more than once: {names}.")
    return names


def _ratio_counts(ratios: Sequence[float], n_classes: int) -> list[int]:
    """Classes per split by the largest-remainder method (ties go to the earlier split)."""
    values = [float(r) for r in ratios]
    if len(values) != 3 or any(not math.isfinite(r) or r < 0 for r in values):
        raise ValueError(
            f"data.split_ratios={list(ratios)} must be three non-negative numbers (train, val, "
            "test)."
        )
    if abs(sum(values) - 1.0) > 1e-6:
        raise ValueError(f"data.split_ratios={list(ratios)} must sum to 1, not {sum(values)}.")
    exact = [r * n_classes for r in values]
    counts = [math.floor(x + 1e-9) for x in exact]
    by_remainder = sorted(range(3), key=lambda i: (-(exact[i] - counts[i]), i))
    for i in by_remainder[: n_classes - sum(counts)]:
        counts[i] += 1
    return counts


def _widen_to_minimum(counts: list[int], minimum: SplitMinimum, ratios: list) -> list[int]:
    """Ratio counts moved so that every split holds the classes its episodes draw."""
    total, wanted = sum(counts), list(counts)
    for i in (1, 2):  # val, test: raised to their n_way unless the ratio asks for none
        need = minimum.of(SPLITS[i])[0]
        if 0 < wanted[i] < need or (wanted[i] == 0 and ratios[i] > 0):
            wanted[i] = need
    wanted[0] = total - wanted[1] - wanted[2]
    if wanted[0] < minimum.train and wanted[1] > 0:
        wanted[1], wanted[0] = 0, total - wanted[2]
    if wanted == counts:
        return counts
    if wanted[0] < minimum.train or min(wanted) < 0:
        test_need, test_setting = minimum.of("test")
        raise ValueError(
            f"the {total} classes cannot hold {minimum.train}-way training episodes "
            f"({minimum.train_setting}) and {test_need}-way test tasks ({test_setting}); lower "
            f"those n_way settings or add classes."
        )
    log.warning(
        "data.split_ratios=%s gives %s of the %d classes, too few for the episodes "
        "(%s=%d, %s=%d, %s=%d); using %s instead%s. Set data.split_sizes to choose.",
        ratios, "/".join(map(str, counts)), total, minimum.train_setting, minimum.train,
        minimum.val_setting, minimum.val, minimum.test_setting, minimum.test,
        "/".join(map(str, wanted)),
        " (no validation split: the last epoch is kept)" if wanted[1] == 0 else "",
    )  # fmt: skip
    return wanted


def _check_sizes(sizes: Sequence[int], n_classes: int) -> list[int]:
    counts = list(sizes)
    if len(counts) != 3 or any(isinstance(c, bool) or not isinstance(c, int) for c in counts):
        raise ValueError(f"data.split_sizes={counts} must be three integers (train, val, test).")
    if any(c < 0 for c in counts) or sum(counts) > n_classes:
        raise ValueError(
            f"data.split_sizes={counts} must be non-negative and sum to at most the "
            f"{n_classes} classes found."
        )
    return counts
