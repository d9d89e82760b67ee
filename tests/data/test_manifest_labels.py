"""Optional manifest columns: ``labels`` (multi-label clips) and ``split`` (own split names)."""

import numpy as np
import pytest
import torch

from audiofsl.data import (
    ClassSplit,
    ClipRecord,
    FolderDataModule,
    LoaderSettings,
    OfficialSplit,
    SyntheticDataModule,
    read_manifest,
)
from audiofsl.samplers import MiniBatchSpec


@pytest.fixture
def clips(tmp_path, write_audio):
    """Four short files a.wav .. d.wav in tmp_path."""
    for name in "abcd":
        write_audio(tmp_path / f"{name}.wav", np.full(800, 0.1, dtype=np.float32), 8000)
    return tmp_path


def test_labels_and_split_columns_fill_the_records(clips):
    manifest = clips / "m.csv"
    manifest.write_text(
        "path,label,labels,split\n"
        "a.wav,dog,dog,train\n"
        "b.wav,cat,,train\n"
        "c.wav,dog, dog ; bird;dog ,test\n"
        "d.wav,bird,bird;cat,\n"
    )
    assert read_manifest(manifest) == [
        ClipRecord(str(clips / "a.wav"), "dog", split="train"),  # the label alone: single-label
        ClipRecord(str(clips / "b.wav"), "cat", split="train"),
        ClipRecord(str(clips / "c.wav"), "dog", split="test", labels=("dog", "bird")),
        ClipRecord(str(clips / "d.wav"), "bird", labels=("bird", "cat")),  # no split
    ]


def test_either_column_alone_and_neither(clips):
    manifest = clips / "m.csv"
    manifest.write_text("split,path,label\ntrain,a.wav,dog\n")
    assert read_manifest(manifest) == [ClipRecord(str(clips / "a.wav"), "dog", split="train")]
    manifest.write_text("path,label,labels\na.wav,dog,dog;cat\n")
    (record,) = read_manifest(manifest)
    assert record.split is None and record.all_labels == ("dog", "cat")
    manifest.write_text("path,label\na.wav,dog\n")
    assert read_manifest(manifest) == [ClipRecord(str(clips / "a.wav"), "dog")]


def test_a_label_outside_its_labels_is_an_error(clips):
    manifest = clips / "m.csv"
    manifest.write_text("path,label,labels\na.wav,dog,dog\nb.wav,dog,cat;bird\n")
    with pytest.raises(ValueError, match=r"line 3: the label 'dog' is not one of its labels"):
        read_manifest(manifest)


def test_a_folder_manifest_with_both_columns_is_multi_label(clips):
    manifest = clips / "m.csv"
    manifest.write_text(
        "path,label,labels,split\na.wav,dog,,train\nb.wav,cat,,train\n"
        "c.wav,cat,cat;dog,test\nd.wav,dog,,test\n"
    )
    data = FolderDataModule(
        manifest=manifest,
        split=OfficialSplit(train=["train"], val=[], test=["test"]),
        loader=LoaderSettings(sample_rate=8000, clip_seconds=0.1, index_dir=None),
        train_sampler=MiniBatchSpec(batch_size=2),
        eval_needs={"val": [], "test": []},
    )
    assert data.test_set.class_names == ["cat", "dog"]
    assert torch.equal(data.test_set.multi_hot(), torch.tensor([[1.0, 1.0], [0.0, 1.0]]))


def test_synthetic_mixtures_need_the_official_split(tmp_path):
    settings = {"cache_dir": tmp_path, "n_classes": 3, "clips_per_class": 2, "mixtures": 4}
    loader = LoaderSettings(sample_rate=8000, clip_seconds=0.25, index_dir=None)
    no_episodes = {"val": [], "test": []}  # tested by a classifier
    data = SyntheticDataModule(
        **settings, loader=loader, train_sampler=MiniBatchSpec(2), eval_needs=no_episodes
    )
    assert isinstance(data.split, OfficialSplit)  # the default with mixtures
    assert [len(data.assignment()[s]) for s in ("train", "val", "test")] == [6, 1, 3]
    assert all(len(r.labels) >= 2 for r in data.assignment()["test"])
    assert data.train_set.multi_label and data.test_set.multi_hot().sum(1).min() >= 2
    with pytest.raises(ValueError, match="data=synthetic_multilabel"):
        SyntheticDataModule(**settings, loader=loader, split=ClassSplit())
