import logging
from pathlib import Path

import metaaudio_replicas as replicas
import pytest
import soundfile as sf

from audiofsl.data import ClassSplit, LoaderSettings
from audiofsl.data.sources.birdclef2020 import BirdCLEF2020DataModule

LOADER = LoaderSettings(clip_seconds=0.25)
SPLIT = replicas.official_split("birdclef2020")
PRUNED = replicas.official_split("birdclef2020_pruned")
CLASSES = {SPLIT["train"][1]: 2, SPLIT["val"][1]: 2, SPLIT["test"][0]: 3}


def module(root, **kwargs):
    return BirdCLEF2020DataModule(root, loader=LOADER, **kwargs)


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    return replicas.birdclef2020(tmp_path_factory.mktemp("birdclef"), CLASSES)


def test_records_come_from_class_folders_named_scientific_common(root):
    records = module(root).load_records()
    assert len(records) == 7
    assert {r.class_name for r in records} == set(CLASSES)
    assert "Poecile gambeli_Mountain Chickadee" in CLASSES
    assert {Path(r.path).suffix for r in records} == {".mp3", ".wav", ".flac"}
    chickadee = [r for r in records if r.class_name == "Poecile gambeli_Mountain Chickadee"]
    assert [Path(r.path).name for r in chickadee] == ["XC134000.mp3", "XC134001.wav"]


def test_missing_classes_are_logged_and_left_out_by_default(root, caplog):
    dm = module(root)
    assert Path(dm.split.file).name == "birdclef2020.json" and dm.split.missing == "warn"
    with caplog.at_level(logging.WARNING):
        assignment = dm.class_assignment()
    assert assignment == {
        "train": ["Poecile gambeli_Mountain Chickadee"],
        "val": [SPLIT["val"][1]],
        "test": [SPLIT["test"][0]],
    }
    assert "birdclef2020.json: 957 classes absent from the data were left out" in caplog.text
    absent = sorted({name for names in SPLIT.values() for name in names} - set(CLASSES))
    assert absent[0] in caplog.text
    with pytest.raises(ValueError, match="names 957 classes the data lacks"):
        module(root, split=ClassSplit(missing="error")).class_assignment()


def test_a_copy_matching_no_class_of_the_split_file_is_an_error(tmp_path):
    root = replicas.birdclef2020(tmp_path, {"amecro": 1, "amerob": 1}, formats=("wav",))
    with pytest.raises(ValueError, match=r"none of the 2 class folders .* \['amecro', 'amerob'\]"):
        module(root).load_records()
    own = tmp_path / "own.json"
    own.write_text('{"train": ["amecro"], "val": [], "test": ["amerob"]}')
    assert len(module(root, split=ClassSplit(file=str(own))).load_records()) == 2


def test_the_pruned_variant_leaves_out_recordings_over_three_minutes(tmp_path, caplog):
    kept, long = PRUNED["train"][0], PRUNED["test"][0]
    root = replicas.birdclef2020(tmp_path, {kept: 2, long: 2}, formats=("ogg",))
    replicas.write_tone(root / long / "XC999999.wav", 181.0, 8000, long)
    dm = module(root, variant="pruned")
    assert Path(dm.split.file).name == "birdclef2020_pruned.json" and dm.max_clip_seconds == 180
    with caplog.at_level(logging.INFO):
        clips = dm.indexed_clips()
    assert len(clips) == 4 and "left out 1 of 5 recordings longer than" in caplog.text
    assert dm.indexed_clips() is clips
    assert dm.class_assignment() == {"train": [kept], "val": [], "test": [long]}
    assert sf.info(root / long / "XC999999.wav").duration > 180
    assert len(module(root, variant="pruned", max_clip_seconds=float("inf")).indexed_clips()) == 5
    assert module(root).max_clip_seconds is None
    with pytest.raises(ValueError, match="data.max_clip_seconds=0 must be > 0"):
        module(root, max_clip_seconds=0)


def test_a_missing_or_empty_root_names_data_root(tmp_path):
    with pytest.raises(FileNotFoundError, match="data.root: folder .* does not exist; set data"):
        module(tmp_path / "absent").load_records()
    (tmp_path / "Poecile gambeli_Mountain Chickadee").mkdir()
    with pytest.raises(ValueError, match=r"data.root=.*: no audio files with extensions"):
        module(tmp_path).load_records()
    with pytest.raises(ValueError, match="BirdCLEF2020DataModule needs data.root: set it to"):
        BirdCLEF2020DataModule()
