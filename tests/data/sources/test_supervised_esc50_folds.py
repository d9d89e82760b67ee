import csv
import logging
from collections import Counter

import pytest
import torch
from supervised_replicas import ESC50_CLASSES, make_esc50

from audiofsl.data import FoldSplit, LoaderSettings, TrainSubset
from audiofsl.data.sources.esc50_folds import ESC50FoldsDataModule
from audiofsl.runs.composition import build_datamodule
from audiofsl.samplers import MiniBatchSpec

LOADER = LoaderSettings(sample_rate=8000, clip_seconds=0.2)
# Mini-batches for training and no evaluation episodes: these tests look at the clips only.
FAST = {"loader": LOADER, "train_sampler": MiniBatchSpec(batch_size=4), "eval_needs": {}}


@pytest.fixture(scope="module")
def esc50(tmp_path_factory):
    return make_esc50(tmp_path_factory.mktemp("esc50"))


def test_records_follow_the_metadata(esc50):
    records = ESC50FoldsDataModule(esc50).load_records()
    assert len(records) == 6 * 5 * 2
    assert {r.class_name for r in records} == set(ESC50_CLASSES)
    with (esc50 / "meta" / "esc50.csv").open() as handle:
        rows = {row["filename"]: row for row in csv.DictReader(handle)}
    for record in records:
        row = rows[record.path.rsplit("/", 1)[1]]
        assert (record.class_name, record.fold, record.group) == (
            row["category"],
            int(row["fold"]),
            row["src_file"],
        )
        assert record.path.startswith(str(esc50 / "audio"))
    # the clips of one recording share a fold
    folds_of = {}
    for record in records:
        folds_of.setdefault(record.group, set()).add(record.fold)
    assert all(len(folds) == 1 for folds in folds_of.values())


def test_root_may_be_the_folder_holding_esc50_master(esc50):
    parent = ESC50FoldsDataModule(esc50.parent).load_records()
    assert [r.path for r in parent] == [r.path for r in ESC50FoldsDataModule(esc50).load_records()]


@pytest.mark.parametrize(("test_folds", "val_folds"), [([1], []), ([3], [2]), ([4, 5], [])])
def test_fold_splits(esc50, test_folds, val_folds):
    split = FoldSplit(test_folds=test_folds, val_folds=val_folds)
    module = ESC50FoldsDataModule(esc50, split=split, **FAST)
    assigned = module.assignment()
    assert {r.fold for r in assigned["test"]} == set(test_folds)
    assert {r.fold for r in assigned["val"]} == set(val_folds)
    assert {r.fold for r in assigned["train"]} == {1, 2, 3, 4, 5} - set(test_folds) - set(val_folds)
    assert sum(len(v) for v in assigned.values()) == 60
    # the splits share one class numbering
    assert module.train_set.class_names == module.test_set.class_names == sorted(ESC50_CLASSES)


def test_default_split_is_fold_one_held_out(esc50):
    module = ESC50FoldsDataModule(esc50, loader=LOADER)
    assert isinstance(module.split, FoldSplit) and list(module.split.test_folds) == [1]


def test_esc10_subset(esc50):
    records = ESC50FoldsDataModule(esc50, esc10_only=True).load_records()
    assert {r.class_name for r in records} == {"dog", "rooster", "rain"}
    assert len(records) == 3 * 10


def test_per_class_cap_thins_the_training_folds(esc50):
    module = ESC50FoldsDataModule(esc50, subset=TrainSubset(per_class_cap=2), **FAST)
    assigned = module.assignment()
    assert Counter(r.class_name for r in assigned["train"]) == dict.fromkeys(ESC50_CLASSES, 2)
    assert len(assigned["test"]) == 12  # the test fold stays whole


def test_a_missing_audio_file_is_left_out_with_a_warning(tmp_path, caplog):
    folder = make_esc50(tmp_path, clips_per_fold=1)
    (folder / "audio" / "2-101020-A-1.wav").unlink()
    with caplog.at_level(logging.WARNING):
        records = ESC50FoldsDataModule(folder).load_records()
    assert len(records) == 29
    assert "2-101020-A-1.wav" in caplog.text and "no audio file" in caplog.text


def test_errors_name_the_setting_and_the_file(tmp_path):
    with pytest.raises(ValueError, match="data.root is not set"):
        ESC50FoldsDataModule(None)
    with pytest.raises(FileNotFoundError, match="data.root.*does not exist"):
        ESC50FoldsDataModule(tmp_path / "nowhere").load_records()
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match=r"data.root: no meta/esc50.csv"):
        ESC50FoldsDataModule(tmp_path / "empty").load_records()
    folder = make_esc50(tmp_path / "copy", clips_per_fold=1)
    csv_path = folder / "meta" / "esc50.csv"
    text = csv_path.read_text()
    csv_path.write_text(text.replace("category", "label", 1))
    with pytest.raises(ValueError, match=r"esc50.csv' lacks the columns \['category'\]"):
        ESC50FoldsDataModule(folder).load_records()
    csv_path.write_text(text.replace(",1,0,dog", ",one,0,dog", 1))
    with pytest.raises(ValueError, match="column fold holds 'one'"):
        ESC50FoldsDataModule(folder).load_records()
    csv_path.write_text(text.replace("esc10", "esc_10"))
    with pytest.raises(ValueError, match="lacks the columns.*esc10"):
        ESC50FoldsDataModule(folder, esc10_only=True).load_records()


def test_config_composes_with_the_folds_protocol(compose_config, esc50, tmp_path):
    cfg = compose_config(
        "train",
        [
            "data=esc50_folds",
            f"data.root={esc50}",
            "data.split.test_folds=[2]",
            "sampler=batch",
            "sampler.batch_size=8",
        ],
        tmp_path / "cache",
    )
    assert cfg.data.loader.clip_seconds == 5.0
    module = build_datamodule(cfg)
    assert isinstance(module, ESC50FoldsDataModule)
    assert list(module.split.test_folds) == [2]
    module.setup("fit")
    batch = next(iter(module.train_dataloader()))
    assert batch["audio"].shape == (8, 80000) and batch["label"].dtype == torch.long
    assert "labels" not in batch  # single-label data
    assert {r.fold for r in module.assignment()["test"]} == {2}
