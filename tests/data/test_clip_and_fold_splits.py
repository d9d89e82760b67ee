"""Splits for data of your own: every class in every split (clips), stratified folds from a
folder or a manifest's fold column, and rebuilding a run's split from its stored classes."""

from __future__ import annotations

import math
from collections import Counter

import pytest

from audiofsl.data import (
    ClassSplit,
    ClipRecord,
    ClipSplit,
    FolderDataModule,
    FoldSplit,
    LoaderSettings,
    read_manifest,
    stratified_folds,
)
from audiofsl.data.feasibility import EpisodeNeed, SplitMinimum
from audiofsl.data.splits import assign_stored_classes
from audiofsl.samplers import MiniBatchSpec

SPLITS = ("train", "val", "test")


def records(sizes: dict[str, int]) -> list[ClipRecord]:
    """Clips of each class, interleaved (so the original order is not the class order)."""
    rows = [ClipRecord(f"{name}/{i}.wav", name) for name, n in sizes.items() for i in range(n)]
    return sorted(rows, key=lambda r: (int(r.path.split("/")[1][:-4]), r.class_name))


def largest_remainder(fractions, n):
    """Per-class counts written out the slow way: floors, then the largest remainders (ties to
    the earlier split), then one clip for every positive fraction left empty (from the
    largest)."""
    exact = [f * n for f in fractions]
    counts = [math.floor(x + 1e-9) for x in exact]
    while sum(counts) < n:
        best = max(range(3), key=lambda i: (exact[i] - counts[i], -i))
        exact[best] = counts[best] + 1  # no remainder left for it
        counts[best] += 1
    for i in range(3):
        if fractions[i] > 0 and counts[i] == 0:
            counts[counts.index(max(counts))] -= 1
            counts[i] = 1
    return counts


@pytest.mark.parametrize("fractions", [(0.7, 0.1, 0.2), (0.8, 0.0, 0.2), (0.5, 0.25, 0.25)])
def test_clip_split_puts_every_class_in_every_split(fractions):
    clips = records({"cello": 10, "flute": 7, "horn": 3, "oboe": 20})
    split = ClipSplit(fractions=fractions, seed=1)
    assigned = split.assign_records(clips)
    assert not split.class_disjoint
    paths = [r.path for s in SPLITS for r in assigned[s]]
    assert sorted(paths) == sorted(r.path for r in clips)  # a partition of the clips
    position = {r.path: i for i, r in enumerate(clips)}
    for s in SPLITS:  # the original order is kept
        assert [position[r.path] for r in assigned[s]] == sorted(position[r.path]
                                                                 for r in assigned[s])  # fmt: skip
    for name, n in {"cello": 10, "flute": 7, "horn": 3, "oboe": 20}.items():
        got = [sum(r.class_name == name for r in assigned[s]) for s in SPLITS]
        assert got == largest_remainder(fractions, n), name
    assert split.assign_records(clips) == assigned
    assert ClipSplit(fractions=fractions, seed=2).assign_records(clips) != assigned


def test_clip_split_names_the_classes_too_small_for_it():
    clips = records({"cello": 10, "flute": 2, "horn": 1})
    with pytest.raises(ValueError) as error:
        ClipSplit().assign_records(clips)
    message = str(error.value)
    assert "2 class(es) have fewer than 3 clips: flute (2), horn (1)" in message
    assert "data.split.fractions=[0.8" not in message  # one clip: no fraction helps
    only_two = records({"cello": 10, "flute": 2})
    with pytest.raises(ValueError, match=r"data.split.fractions=\[0.8,0.0,0.2\]"):
        ClipSplit().assign_records(only_two)
    assert len(ClipSplit(fractions=(0.8, 0.0, 0.2)).assign_records(only_two)["test"]) == 3
    with pytest.raises(ValueError, match=r"data.split.fractions=\[0.5, 0.5\] must be three"):
        ClipSplit(fractions=(0.5, 0.5)).assign_records(only_two)


def test_stratified_folds_spread_every_class_and_are_seeded():
    names = [c for c, n in {"a": 11, "b": 7, "c": 3, "d": 14}.items() for _ in range(n)]
    folds = stratified_folds(names, 5, seed=0)
    assert set(folds) == set(range(1, 6))
    sizes = Counter(folds)
    assert max(sizes.values()) - min(sizes.values()) <= 1
    for name in "abcd":
        per_fold = Counter(f for f, n in zip(folds, names, strict=True) if n == name)
        counts = [per_fold.get(f, 0) for f in range(1, 6)]
        assert max(counts) - min(counts) <= 1, name  # a class spread evenly
    assert stratified_folds(names, 5, seed=0) == folds
    assert stratified_folds(names, 5, seed=1) != folds
    with pytest.raises(ValueError, match="data.folds=1 must be an integer >= 2"):
        stratified_folds(names, 1)


def test_a_manifest_fold_column_gives_the_folds(tmp_path, tone, write_audio):
    lines = ["path,label,fold"]
    for c, name in enumerate(["cello", "flute"]):
        for i in range(4):
            write_audio(tmp_path / name / f"{i}.wav", tone(300 + 50 * c, 0.3, 8000), 8000)
            lines.append(f"{name}/{i}.wav,{name},{i % 2 + 1}")
    manifest = tmp_path / "clips.csv"
    manifest.write_text("\n".join(lines) + "\n")
    assert [r.fold for r in read_manifest(manifest)] == [1, 2, 1, 2, 1, 2, 1, 2]
    dm = FolderDataModule(manifest=manifest, split=FoldSplit(test_folds=[2]),
                          train_sampler=MiniBatchSpec(2), eval_needs={"val": [], "test": []},
                          loader=LoaderSettings(sample_rate=8000, clip_seconds=0.25))  # fmt: skip
    dm.setup(None)
    assert {r.fold for r in dm.assignment()["test"]} == {2} and len(dm.test_set) == 4
    with pytest.raises(ValueError, match="gives folds of its own"):
        FolderDataModule(manifest=manifest, folds=2, split=FoldSplit()).setup(None)
    manifest.write_text("\n".join([*lines[:3], "flute/0.wav,flute,x"]) + "\n")
    with pytest.raises(ValueError, match="line 4: fold 'x' must be a whole number >= 1"):
        read_manifest(manifest)


def test_a_folder_gets_stratified_folds_of_its_usable_clips(tmp_path, make_class_folder):
    root = make_class_folder(tmp_path / "audio", {"a": 6, "b": 5, "c": 4})
    (root / "a" / "broken.wav").write_bytes(b"not audio")
    settings = {"train_sampler": MiniBatchSpec(2), "eval_needs": {"val": [], "test": []},
                "loader": LoaderSettings(sample_rate=8000, clip_seconds=0.25)}  # fmt: skip
    dm = FolderDataModule(root, folds=3, fold_seed=0, split=FoldSplit(test_folds=[3]), **settings)
    clips = dm.indexed_clips()
    assert len(clips) == 15  # the unreadable file is left out before the deal
    names = [c.record.class_name for c in clips]
    assert [c.record.fold for c in clips] == stratified_folds(names, 3, 0)
    dm.setup(None)
    assert {r.fold for r in dm.assignment()["test"]} == {3}
    with pytest.raises(ValueError, match="data.folds=5 with data=folder"):
        FolderDataModule(root, split=FoldSplit(), **settings).setup(None)


def test_stored_classes_rebuild_a_widened_split_without_its_episodes():
    clips = records({f"c{i}": 6 for i in range(8)})
    need = {"train": [EpisodeNeed(5, 1, 1, "sampler", False)],
            "test": [EpisodeNeed(3, 1, 1, "evaluation.test.0")]}  # fmt: skip
    split = ClassSplit()
    widened = split.assign_records(clips, SplitMinimum(need))
    plain = split.assign_records(clips)
    classes = {s: sorted({r.class_name for r in widened[s]}) for s in SPLITS}
    assert [len(classes[s]) for s in SPLITS] == [5, 0, 3]
    assert plain["test"] != widened["test"]  # without the episodes, another split
    assert assign_stored_classes(clips, split, classes) == widened
    shared = ClipSplit().assign_records(clips)
    assert assign_stored_classes(clips, ClipSplit(), {"train": None}) == shared
    with pytest.raises(ValueError, match=r"data.split_classes: the run's classes \['x'\]"):
        assign_stored_classes(clips, split, {"train": ["x"], "val": [], "test": []})
