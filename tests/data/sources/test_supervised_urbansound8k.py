import csv
import logging
from collections import Counter

import pytest
import soundfile as sf
import torch
from supervised_replicas import US8K_CLASSES, make_urbansound8k, write_us8k_metadata

from audiofsl.data import FoldSplit, LoaderSettings, TrainSubset
from audiofsl.data.sources.urbansound8k import UrbanSound8KDataModule
from audiofsl.runs.composition import build_datamodule
from audiofsl.samplers import MiniBatchSpec

LOADER = LoaderSettings(sample_rate=16000, clip_seconds=0.25)
# Mini-batches for training and no evaluation episodes: these tests look at the clips only.
FAST = {"loader": LOADER, "train_sampler": MiniBatchSpec(batch_size=4), "eval_needs": {}}


@pytest.fixture(scope="module")
def us8k(tmp_path_factory):
    # 4 classes x 3 folds x 2 recordings x 2 slices = 48 clips
    return make_urbansound8k(tmp_path_factory.mktemp("us8k"))


def test_records_follow_the_metadata(us8k):
    records = UrbanSound8KDataModule(us8k).load_records()
    assert len(records) == 48
    with (us8k / "metadata" / "UrbanSound8K.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [r.path for r in records] == [
        str(us8k / "audio" / f"fold{row['fold']}" / row["slice_file_name"]) for row in rows
    ]
    assert [(r.class_name, r.fold, r.group) for r in records] == [
        (row["class"], int(row["fold"]), row["fsID"]) for row in rows
    ]
    assert {r.class_name for r in records} == set(US8K_CLASSES[:4])
    assert all(r.split is None and not r.labels for r in records)


def test_mixed_rates_depths_and_channels_load_as_mono_at_the_loader_rate(us8k):
    module = UrbanSound8KDataModule(us8k, **FAST)
    clips = module.indexed_clips()
    assert len(clips) == 48  # every format is readable
    assert {c.sample_rate for c in clips} == {8000, 11025, 22050, 44100, 48000, 96000}
    assert {c.channels for c in clips} == {1, 2}
    subtypes = {sf.info(c.record.path).subtype for c in clips}
    assert subtypes == {"PCM_U8", "PCM_16", "PCM_24", "FLOAT"}
    data = module.train_set
    for index in range(6):
        item = data[index]
        assert item["audio"].shape == (4000,) and item["audio"].dtype == torch.float32
        assert item["audio"].abs().max() > 0.1


@pytest.mark.parametrize("fold", [1, 2, 3])
def test_the_predefined_folds_are_kept(us8k, fold):
    module = UrbanSound8KDataModule(us8k, split=FoldSplit(test_folds=[fold]), **FAST)
    assigned = module.assignment()
    assert {r.fold for r in assigned["test"]} == {fold}
    assert {r.fold for r in assigned["train"]} == {1, 2, 3} - {fold}
    assert not assigned["val"] and len(assigned["test"]) == 16
    # recordings never straddle train and test
    train_groups = {r.group for r in assigned["train"]}
    assert not train_groups & {r.group for r in assigned["test"]}


def test_default_split_holds_out_fold_one(us8k):
    module = UrbanSound8KDataModule(us8k, **FAST)
    assert isinstance(module.split, FoldSplit) and list(module.split.test_folds) == [1]


@pytest.mark.parametrize("cap", [1, 2, 5])
def test_few_data_protocol_caps_the_training_clips_per_class(us8k, cap):
    """Pons et al. (2018): N training clips per class; the test fold stays whole."""
    module = UrbanSound8KDataModule(us8k, subset=TrainSubset(per_class_cap=cap, seed=3), **FAST)
    assigned = module.assignment()
    per_class = Counter(r.class_name for r in assigned["train"])
    assert per_class == dict.fromkeys(US8K_CLASSES[:4], min(cap, 8))
    assert len(assigned["test"]) == 16
    assert len(module.train_set) == 4 * min(cap, 8)
    again = UrbanSound8KDataModule(us8k, subset=TrainSubset(per_class_cap=cap, seed=3), **FAST)
    assert [r.path for r in again.assignment()["train"]] == [r.path for r in assigned["train"]]


def test_a_label_fraction_keeps_the_other_clips_unlabelled_when_asked(us8k):
    """CLAR's semi-supervised protocol: 1/4 of each class labelled, the rest trains with -1."""
    subset = TrainSubset(label_fraction=0.25, seed=1, keep_unlabelled=True)
    module = UrbanSound8KDataModule(us8k, subset=subset, **FAST)
    labels = module.train_set.labels
    assert len(module.train_set) == 32 and int((labels >= 0).sum()) == 8
    labelled = Counter(module.train_set.class_names[i] for i in labels[labels >= 0].tolist())
    assert labelled == dict.fromkeys(US8K_CLASSES[:4], 2), "stratified: 2 of 8 per class"
    hidden = {r.path for r in module.unlabelled}
    records = module.train_set.records
    assert all((labels[i] < 0) == (records[i].path in hidden) for i in range(len(records)))
    dropped = UrbanSound8KDataModule(us8k, subset=TrainSubset(label_fraction=0.25, seed=1), **FAST)
    assert len(dropped.train_set) == 8 and bool((dropped.train_set.labels >= 0).all())
    with pytest.raises(ValueError, match="keep_unlabelled needs mini-batch training"):
        UrbanSound8KDataModule(us8k, subset=subset, loader=LOADER, eval_needs={})


def test_a_missing_file_is_left_out_with_a_warning(tmp_path, caplog):
    folder = make_urbansound8k(tmp_path, n_classes=2, folds=2, recordings=1, slices=2)
    (folder / "audio" / "fold2" / "12010-1-0-1.wav").unlink()
    with caplog.at_level(logging.WARNING):
        records = UrbanSound8KDataModule(tmp_path).load_records()  # the parent folder works too
    assert len(records) == 7 and "12010-1-0-1.wav" in caplog.text


def test_errors_name_the_setting_and_the_file(tmp_path):
    with pytest.raises(ValueError, match="data.root is not set"):
        UrbanSound8KDataModule()
    with pytest.raises(FileNotFoundError, match="data.root.*does not exist"):
        UrbanSound8KDataModule(tmp_path / "nowhere").load_records()
    (tmp_path / "other").mkdir()
    with pytest.raises(FileNotFoundError, match="no metadata/UrbanSound8K.csv"):
        UrbanSound8KDataModule(tmp_path / "other").load_records()
    folder = make_urbansound8k(tmp_path / "copy", n_classes=2, folds=2, recordings=1, slices=1)
    write_us8k_metadata(folder, [["1-0-0-0.wav", 1, 0, 1, 1, 1, 0]], header=["slice", "fsID"])
    with pytest.raises(ValueError, match=r"UrbanSound8K.csv' lacks the columns \['slice_file_"):
        UrbanSound8KDataModule(folder).load_records()
    write_us8k_metadata(folder, [["x.wav", 1, 0, 1, 1, "fold1", 0, "dog_bark"]])
    with pytest.raises(ValueError, match="column fold holds 'fold1'"):
        UrbanSound8KDataModule(folder).load_records()
    write_us8k_metadata(folder, [["x.wav", 1, 0, 1, 1, 1, 0, "dog_bark"]])
    with pytest.raises(FileNotFoundError, match="none of the 1 files listed"):
        UrbanSound8KDataModule(folder).load_records()
    (tmp_path / "noaudio" / "UrbanSound8K" / "metadata").mkdir(parents=True)
    write_us8k_metadata(tmp_path / "noaudio" / "UrbanSound8K", [])
    with pytest.raises(FileNotFoundError, match="has no audio/ folder"):
        UrbanSound8KDataModule(tmp_path / "noaudio").load_records()


def test_config_composes_into_the_folds_protocol(compose_config, us8k, tmp_path):
    overrides = [
        "data=urbansound8k",
        f"data.root={us8k}",
        "data.split.test_folds=[3]",
        "data.subset.per_class_cap=2",
        "sampler=batch",
        "sampler.batch_size=4",
    ]
    cfg = compose_config("train", overrides, tmp_path / "cache")
    assert cfg.data.loader.clip_seconds == 4.0
    module = build_datamodule(cfg)
    assert isinstance(module, UrbanSound8KDataModule)
    module.setup("fit")
    assert len(module.train_set) == 8
    batch = next(iter(module.train_dataloader()))
    assert batch["audio"].shape == (4, 64000)
    assert module.index_key() == f"{us8k.resolve()}|urbansound8k"
