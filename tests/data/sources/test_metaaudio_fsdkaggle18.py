import logging
from pathlib import Path

import metaaudio_replicas as replicas
import pytest

from audiofsl.data import LoaderSettings
from audiofsl.data.sources.fsdkaggle18 import FSDKaggle18DataModule

LOADER = LoaderSettings(clip_seconds=0.25)
SPLIT = replicas.official_split("fsdkaggle18")
LABELS = sorted(name for names in SPLIT.values() for name in names)


def module(root, **kwargs):
    return FSDKaggle18DataModule(root, loader=LOADER, **kwargs)


@pytest.fixture(scope="module")
def full_copy(tmp_path_factory) -> Path:
    """Every label in the train part, a few in the test part too."""
    root = tmp_path_factory.mktemp("fsd")
    return replicas.fsdkaggle18(root, dict.fromkeys(LABELS, 1), {"Knock": 2, "Oboe": 1})


def test_records_pool_the_train_and_test_parts(full_copy):
    records = module(full_copy).load_records()
    assert len(records) == 41 + 3
    assert [r.split for r in records] == ["train"] * 41 + ["test"] * 3
    train, test = records[0], records[-1]
    assert Path(train.path).parent == full_copy / "FSDKaggle2018.audio_train"
    assert Path(test.path).parent == full_copy / "FSDKaggle2018.audio_test"
    assert (train.class_name, train.group) == (LABELS[0], "100000")
    assert (test.class_name, test.group) == ("Oboe", "100043")
    assert all(Path(r.path).is_file() and r.fold is None for r in records)


def test_the_official_split_and_its_length_variants(full_copy):
    expected = {s: sorted(names) for s, names in SPLIT.items()}
    assert module(full_copy).class_assignment() == expected
    assert [len(v) for v in expected.values()] == [29, 5, 7]
    for variant in ("length_shifted", "length_stratified"):
        dm = module(full_copy, variant=variant)
        lists = replicas.official_split(f"fsdkaggle18_{variant}")
        assert dm.class_assignment() == {s: sorted(names) for s, names in lists.items()}


def test_split_file_classes_missing_from_the_copy_are_an_error(tmp_path):
    root = replicas.fsdkaggle18(tmp_path, {"Knock": 2, "Oboe": 2}, {})
    with pytest.raises(ValueError, match=r"fsdkaggle18.json names 39 classes the data lacks"):
        module(root).class_assignment()


def test_a_missing_part_is_left_out_with_a_warning(tmp_path, caplog):
    root = replicas.fsdkaggle18(tmp_path, {"Knock": 2}, {"Oboe": 1})
    (root / "FSDKaggle2018.meta" / "test_post_competition_scoring_clips.csv").unlink()
    with caplog.at_level(logging.WARNING):
        records = module(root).load_records()
    assert {r.split for r in records} == {"train"}
    assert "test_post_competition_scoring_clips.csv'] missing" in caplog.text


def test_missing_metadata_or_audio_names_data_root(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"has no FSDKaggle2018.meta folder; set data.root"):
        module(tmp_path).load_records()
    root = replicas.fsdkaggle18(tmp_path, {"Knock": 1}, {"Oboe": 1})
    for name in ("train_post_competition.csv", "test_post_competition_scoring_clips.csv"):
        (root / "FSDKaggle2018.meta" / name).unlink()
    with pytest.raises(FileNotFoundError, match=r"has neither .*train_post_competition.csv nor"):
        module(root).load_records()
    other = replicas.fsdkaggle18(tmp_path / "other", {"Knock": 1}, {})
    (other / "FSDKaggle2018.audio_train").rename(other / "audio_train")
    with pytest.raises(FileNotFoundError, match="has no FSDKaggle2018.audio_train folder"):
        module(other).load_records()


def test_metadata_without_the_columns_names_the_file_and_the_columns(tmp_path):
    root = replicas.fsdkaggle18(tmp_path, {"Knock": 1}, {"Oboe": 1})
    csv_path = root / "FSDKaggle2018.meta" / "train_post_competition.csv"
    csv_path.write_text("fname,class\n00044347.wav,Knock\n")
    with pytest.raises(
        ValueError, match=r"train_post_competition.csv' lacks the columns \['label'\]"
    ):
        module(root).load_records()


def test_rows_without_a_label_are_left_out_with_a_warning(tmp_path, caplog):
    root = replicas.fsdkaggle18(tmp_path, {"Knock": 2}, {})
    csv_path = root / "FSDKaggle2018.meta" / "train_post_competition.csv"
    csv_path.write_text(csv_path.read_text() + "0badc0de.wav,,0,1,CC0\n")
    with caplog.at_level(logging.WARNING):
        assert len(module(root).load_records()) == 2
    assert "left out 1 rows without a value" in caplog.text
