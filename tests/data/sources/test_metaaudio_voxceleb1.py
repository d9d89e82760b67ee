import logging
import shutil
from pathlib import Path

import metaaudio_replicas as replicas
import pytest

from audiofsl.data import ClassSplit, LoaderSettings
from audiofsl.data.sources.voxceleb1 import VoxCeleb1DataModule

LOADER = LoaderSettings(clip_seconds=0.25)
SPLIT = replicas.official_split("voxceleb1")
SPEAKERS = {SPLIT["train"][0]: [2, 1], SPLIT["val"][0]: [1], SPLIT["test"][0]: [1, 1, 1]}


def module(root, **kwargs):
    return VoxCeleb1DataModule(root, loader=LOADER, **kwargs)


def test_records_are_utterances_of_speakers_grouped_by_video(tmp_path):
    root = replicas.voxceleb1(tmp_path, SPEAKERS)
    records = module(root).load_records()
    assert len(records) == 7
    speaker = SPLIT["train"][0]
    mine = [r for r in records if r.class_name == speaker]
    videos = [replicas.youtube_id(f"{speaker}/{v}") for v in (0, 1)]
    assert sorted(r.group for r in mine) == sorted([videos[0], videos[0], videos[1]])
    first = next(r for r in mine if r.group == videos[0])
    assert Path(first.path) == root / "wav" / speaker / videos[0] / "00001.wav"
    assert all(Path(r.path).is_file() and r.split is None for r in records)


@pytest.mark.parametrize("layout", ["wav folder given", "dev and test unpacked apart"])
def test_the_usual_ways_of_unpacking_are_accepted(tmp_path, layout):
    root = replicas.voxceleb1(tmp_path / "copy", SPEAKERS)
    if layout == "wav folder given":
        root = root / "wav"
    else:
        speakers = sorted((root / "wav").iterdir())
        for part, moved in (("vox1_dev_wav", speakers[:2]), ("vox1_test_wav", speakers[2:])):
            (root / part / "wav").mkdir(parents=True)
            for folder in moved:
                shutil.move(folder, root / part / "wav" / folder.name)
        (root / "wav").rmdir()
    records = module(root).load_records()
    assert len(records) == 7 and {r.class_name for r in records} == set(SPEAKERS)


def test_the_official_split_leaves_out_empty_files(tmp_path, caplog):
    speakers = {**SPEAKERS, SPLIT["test"][1]: [2]}
    root = replicas.voxceleb1(tmp_path, speakers, empty=[SPLIT["test"][1]])
    dm = module(root, split=ClassSplit(missing="warn"))
    assert Path(dm.split.file).name == "voxceleb1.json"
    with caplog.at_level(logging.WARNING):
        assignment = dm.class_assignment()
    assert assignment == {
        "train": [SPLIT["train"][0]],
        "val": [SPLIT["val"][0]],
        "test": sorted([SPLIT["test"][0], SPLIT["test"][1]]),
    }
    assert "empty (no samples)" in caplog.text
    assert len(dm.assignment()["test"]) == 3 + 1
    for variant in ("length_shifted", "length_stratified"):
        name = Path(module(root, variant=variant).split.file).name
        assert name == f"voxceleb1_{variant}.json"


def test_split_file_classes_missing_from_the_copy_are_an_error(tmp_path):
    root = replicas.voxceleb1(tmp_path, SPEAKERS)
    with pytest.raises(ValueError, match=r"voxceleb1.json names 1248 classes the data lacks"):
        module(root).class_assignment()


def test_a_root_without_speaker_folders_names_data_root(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"data.root=.* holds no wav/ folder of speaker"):
        module(tmp_path).load_records()
    (tmp_path / "wav" / "id10001").mkdir(parents=True)
    with pytest.raises(ValueError, match=r"data.root=.*: no audio files in the VoxCeleb1 folder"):
        module(tmp_path).load_records()
    with pytest.raises(FileNotFoundError, match="data.root: folder .* does not exist"):
        module(tmp_path / "absent").load_records()
    with pytest.raises(ValueError, match="VoxCeleb1DataModule needs data.root"):
        VoxCeleb1DataModule()
