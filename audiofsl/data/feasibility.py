"""What the episodes of a run need from each split, and fitting them to the data at hand.

A split must hold ``n_way`` classes with ``n_shot + n_query`` clips each for every episode
setting drawn from it. Errors name the configuration settings a user can change, written as
command-line overrides (``sampler.n_way=3``, ``evaluation.test.0.n_query=5``), so that a
suggestion can be pasted after the command. For evaluation settings, a query count the data
cannot fill is lowered (with a warning) rather than failing: fewer queries per task change the
spread of the per-task accuracies, not what they estimate. With ``fit_n_way`` (a folder of your
own, ``data.fit_to_data``), an ``n_way`` the split cannot hold is lowered too, with a warning.
"""

from __future__ import annotations

import dataclasses
import logging
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from audiofsl.samplers.specs import EpisodeShape

log = logging.getLogger(__name__)

#: The fewest classes an episode (a task) can tell apart.
MIN_WAY = 2


def ordinal(n: int) -> str:
    """``1st``, ``2nd``, ``3rd``, ``4th``, ``11th``, ``12th``, ``13th``, ``21st``, ``102nd``."""
    suffixes = {1: "st", 2: "nd", 3: "rd"}
    suffix = "th" if 10 <= n % 100 <= 20 else suffixes.get(n % 10, "th")
    return f"{n}{suffix}"


@dataclass(frozen=True)
class EpisodeNeed(EpisodeShape):
    """One episode setting drawn from a split: its shape, and where it is set.

    Args:
        n_way: classes per episode.
        n_shot: support clips per class.
        n_query: query clips per class.
        setting: the configuration key of the setting as typed on the command line, used in
            messages (e.g. ``"sampler"``, ``"evaluation.val"``, ``"evaluation.test.1"``).
        adjustable: whether ``n_query`` may be lowered to fit the data (evaluation only).
    """

    setting: str = ""
    adjustable: bool = True

    @classmethod
    def of(cls, shape: EpisodeShape, setting: str, adjustable: bool = True) -> EpisodeNeed:
        """The need of episodes of ``shape`` (e.g. a sampler's or an evaluation setting)."""
        return cls(shape.n_way, shape.n_shot, shape.n_query, setting, adjustable)

    @property
    def fewest_clips(self) -> int:
        """Clips a class needs once ``n_query`` is lowered as far as allowed."""
        return self.n_shot + (min(1, self.n_query) if self.adjustable else self.n_query)


def classes_needed(needs: Iterable[EpisodeNeed]) -> int:
    """The most classes any of ``needs`` draws in one episode (0 for none)."""
    return max((need.n_way for need in needs), default=0)


def fit_needs(
    split: str, class_counts: Counter, needs: Sequence[EpisodeNeed], fit_n_way: bool = False
) -> dict[str, EpisodeNeed]:
    """Check that every need can be drawn from a split; lower what may be lowered to fit.

    Evaluation query counts are lowered to fit; with ``fit_n_way`` an ``n_way`` larger than the
    classes holding enough clips is lowered too (never below 2). Each change is logged.

    Args:
        split: the split's name, for messages.
        class_counts: usable clips per class of the split.
        needs: the episode settings drawn from the split.
        fit_n_way: whether ``n_way`` may be lowered.

    Returns:
        {setting: the fitted need} for each need that had to change.

    Raises:
        ValueError: when a need cannot be drawn; the message names the settings and the
            overrides that help.
    """
    counts = sorted(class_counts.values(), reverse=True)
    fitted = {}
    for need in needs:
        new = _fit_need(split, counts, need, fit_n_way)
        if new != need:
            fitted[need.setting] = new
    return fitted


def _room(counts: list[int], n_way: int) -> int:
    """Clips per class an ``n_way`` episode can take: the ``n_way``-th largest class's."""
    return counts[n_way - 1] if len(counts) >= n_way else 0


def _fit_need(split: str, counts: list[int], need: EpisodeNeed, fit_n_way: bool) -> EpisodeNeed:
    if _room(counts, need.n_way) >= need.clips_per_class:
        return need
    usable = sum(count >= need.fewest_clips for count in counts)
    if fit_n_way and MIN_WAY <= usable < need.n_way:
        log.warning(
            "%s.n_way lowered from %d to %d to fit the %s split: it has %d classes of at least "
            "%d clips (%s)",
            need.setting, need.n_way, usable, split, usable, need.fewest_clips,
            "n_shot + a query" if need.adjustable else "n_shot + n_query",
        )  # fmt: skip
        need = dataclasses.replace(need, n_way=usable)
    room = _room(counts, need.n_way)
    if room >= need.clips_per_class:
        return need
    if need.adjustable and room > need.n_shot:
        log.warning(
            "%s.n_query lowered from %d to %d to fit the %s split: its %s largest class has %d "
            "clips, and each task needs n_shot + n_query clips of %d classes",
            need.setting, need.n_query, room - need.n_shot, split, ordinal(need.n_way), room,
            need.n_way,
        )  # fmt: skip
        return dataclasses.replace(need, n_query=room - need.n_shot)
    raise ValueError(_infeasible_message(split, counts, need))


def min_clips_to_keep(needs: Sequence[EpisodeNeed], fitted: Mapping[str, EpisodeNeed]) -> int:
    """Clips a class needs to be drawn by at least one of ``needs`` (after fitting)."""
    sizes = [fitted.get(need.setting, need).clips_per_class for need in needs]
    return min(sizes, default=1)


def suggested_fix(counts: list[int], need: EpisodeNeed) -> list[str]:
    """Command-line overrides that make ``need`` drawable from a split of ``counts`` clips per
    class (largest first): fewer classes per task where that is enough, else fewer clips per
    class too; [] when not even two classes hold two clips."""
    key, n_way = need.setting, need.n_way
    usable = sum(count >= need.fewest_clips for count in counts)
    if MIN_WAY <= usable < n_way:
        n_way = usable
    elif _room(counts, n_way) < 2:  # fewer than n_way classes of two clips
        n_way = sum(count >= 2 for count in counts)
        if n_way < MIN_WAY:
            return []
    room = _room(counts, n_way)
    fix = [f"{key}.n_way={n_way}"] if n_way != need.n_way else []
    if room >= need.clips_per_class or (need.adjustable and room > need.n_shot):
        return fix
    if room > need.n_shot:
        return [*fix, f"{key}.n_query={room - need.n_shot}"]
    fix.append(f"{key}.n_shot={room - 1}")
    return fix if need.adjustable or need.n_query == 1 else [*fix, f"{key}.n_query=1"]


def _infeasible_message(split: str, counts: list[int], need: EpisodeNeed) -> str:
    if need.n_query == 0:  # classification batches
        return (
            f"the {split} split has {sum(c > 0 for c in counts)} usable classes, but training "
            f"by classification ({need.setting}) needs at least {need.n_way}; give it more "
            "classes (data.split.sizes sets the classes per split)."
        )
    room = _room(counts, need.n_way)
    fix = suggested_fix(counts, need)
    advice = f"set {' '.join(fix)} or give" if fix else "give"
    return (
        f"the {split} split has {len(counts)} classes, and its {ordinal(need.n_way)} largest "
        f"has {room} clips, but {need.setting} (n_way={need.n_way}, n_shot={need.n_shot}, "
        f"n_query={need.n_query}) needs {need.n_way} classes of {need.clips_per_class} clips; "
        f"{advice} the {split} split more classes or clips (data.split.sizes sets the classes "
        "per split)."
    )


@dataclass(frozen=True)
class SplitMinimum:
    """The episode settings drawn from each split, and the classes each split must hold.

    Args:
        needs: ``{"train": [...], "val": [...], "test": [...]}``.
    """

    needs: Mapping[str, Sequence[EpisodeNeed]] = field(default_factory=dict)

    def of(self, split: str) -> int:
        """The most classes an episode drawn from ``split`` takes (0: none drawn)."""
        return classes_needed(self.needs.get(split, ()))

    @property
    def train(self) -> int:
        return self.of("train")

    @property
    def val(self) -> int:
        return self.of("val")

    @property
    def test(self) -> int:
        return self.of("test")

    def describe(self, split: str) -> str:
        """E.g. ``5-way test tasks (evaluation.test.0.n_way=5)``."""
        widest = [n for n in self.needs.get(split, ()) if n.n_way == self.of(split)]
        kind = {"train": "training episodes", "val": "validation tasks"}.get(split, "test tasks")
        keys = " ".join(f"{n.setting}.n_way={n.n_way}" for n in widest)
        return f"{self.of(split)}-way {kind} ({keys})"

    def lowered(self, split: str, n_way: int) -> list[str]:
        """Overrides that lower every ``n_way`` of ``split`` above ``n_way`` to it."""
        return [f"{n.setting}.n_way={n_way}" for n in self.needs.get(split, ()) if n.n_way > n_way]


def fitting_ways(n_classes: int, train: int, test: int) -> tuple[int, int]:
    """(train, test) ``n_way`` that ``n_classes`` disjoint classes hold: unchanged when they
    fit; otherwise training keeps as many classes as it can while the test split keeps at
    least two (a train value below 2 means no split is possible)."""
    if train + test <= n_classes:
        return train, test
    test_ways = min(test, max(MIN_WAY, n_classes - train))
    return min(train, n_classes - test_ways), test_ways


def too_few_classes_message(n_classes: int, source: str = "", support: str = "DIR") -> str:
    """Why ``n_classes`` (2 or 3) classes cannot make a few-shot split, and what works.

    Args:
        n_classes: the classes of the data.
        source: the command-line overrides selecting the data (e.g. ``data=folder
            data.root=myaudio``), quoted in the suggested command.
        support: a folder of ``<class>/<clip>`` examples, quoted in the enrolment command.
    """
    command = " ".join(["python -m audiofsl.train +experiment=synthetic_supervised", source])
    return (
        f"{n_classes} classes are too few for few-shot episodes, which train and test on "
        f"disjoint classes (at least {MIN_WAY} of each). Instead, train a classifier on every "
        f"class, tested on held-out clips of each: {command.rstrip()} ; or classify with the "
        "classes enrolled from a few example clips each, using any trained run: python -m "
        f"audiofsl.enrol run_dir=RUN support={support} queries=FILES ; or add classes."
    )


def fit_to_classes(
    n_classes: int, minimum: SplitMinimum, fit_n_way: bool, source: str = "", support: str = "DIR"
) -> dict[str, EpisodeNeed]:
    """The episode settings a split of ``n_classes`` disjoint classes can hold.

    Fewer than four classes make no split of training and test classes: an error saying what
    works instead (see :func:`too_few_classes_message`). With ``fit_n_way``, training and test
    ``n_way`` values the classes cannot hold together are lowered (:func:`fitting_ways`),
    with a warning giving the numbers.

    Args:
        n_classes: the classes of the data.
        minimum: the episode settings drawn from each split.
        fit_n_way: whether ``n_way`` may be lowered.
        source: the command-line overrides selecting the data, for the error.
        support: a folder of ``<class>/<clip>`` examples, for the error.

    Returns:
        {setting: the fitted need} for each need whose ``n_way`` was lowered.
    """
    train, test = fitting_ways(n_classes, minimum.train, minimum.test)
    if train < MIN_WAY:
        raise ValueError(too_few_classes_message(n_classes, source, support))
    if not fit_n_way or (train, test) == (minimum.train, minimum.test):
        return {}
    changes = [*minimum.lowered("train", train), *minimum.lowered("test", test)]
    log.warning(
        "the %d classes are too few for %s and %s on disjoint classes: using %s (stored in the "
        "run's config.yaml; set data.split.sizes and the n_way settings to choose)",
        n_classes, minimum.describe("train"), minimum.describe("test"), " ".join(changes),
    )  # fmt: skip
    return {
        need.setting: dataclasses.replace(need, n_way=n_way)
        for split, n_way in (("train", train), ("test", test))
        for need in minimum.needs.get(split, ())
        if need.n_way > n_way
    }
