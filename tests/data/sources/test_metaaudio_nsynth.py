import json
import logging
from pathlib import Path

import metaaudio_replicas as replicas
import pytest

from audiofsl.data import ClassSplit, LoaderSettings, OfficialSplit
from audiofsl.data.sources.nsynth import NSynthDataModule

LOADER = LoaderSettings(clip_seconds=0.25)
SPLIT = replicas.official_split("nsynth")
# Instruments of MetaAudio's lists; NSynth's own parts hold other instruments in train than in
# valid/test (which share theirs).
PARTS = {
    "train": [*SPLIT["train"][:3], SPLIT["val"][0], SPLIT["test"][0]],
    "valid": [SPLIT["test"][1], SPLIT["val"][1]],
    "test": [SPLIT["test"][1], SPLIT["val"][1]],
}


def module(root, **kwargs):
    return NSynthDataModule(root, loader=LOADER, **kwargs)


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    return replicas.nsynth(tmp_path_factory.mktemp("nsynth"), PARTS)


def test_records_are_notes_of_instruments_over_all_parts(root):
    records = module(root).load_records()
    assert len(records) == 2 * (5 + 2 + 2)
    first = records[0]
    note = sorted(f"{i}-{p:03d}-{v:03d}" for i in PARTS["train"] for p, v in ((40, 25), (47, 50)))
    assert Path(first.path) == root / "nsynth-train" / "audio" / f"{note[0]}.wav"
    assert first.class_name == note[0].rsplit("-", 2)[0] and first.split == "train"
    assert {r.split for r in records} == {"train", "valid", "test"}
    shared = SPLIT["test"][1]
    assert (
        sorted(r.split for r in records if r.class_name == shared) == ["test"] * 2 + ["valid"] * 2
    )
    assert all(Path(r.path).is_file() and r.group is None for r in records)


def test_the_official_split_assigns_instruments_whatever_their_part(root, caplog):
    dm = module(root, split=ClassSplit(missing="warn"))
    assert Path(dm.split.file).name == "nsynth.json"
    with caplog.at_level(logging.WARNING):
        assignment = dm.class_assignment()
    assert assignment == {
        "train": sorted(SPLIT["train"][:3]),
        "val": sorted([SPLIT["val"][0], SPLIT["val"][1]]),
        "test": sorted([SPLIT["test"][0], SPLIT["test"][1]]),
    }
    assert "999 classes absent from the data were left out" in caplog.text
    meta_aware = module(root, variant="meta_aware", split=ClassSplit(missing="warn"))
    assert Path(meta_aware.split.file).name == "nsynth_meta_aware.json"


def test_split_file_classes_missing_from_the_copy_are_an_error(root):
    with pytest.raises(ValueError, match=r"nsynth.json names 999 classes the data lacks"):
        module(root).class_assignment()


def test_nsynths_own_split_is_available(root):
    assignment = module(root, split=OfficialSplit()).assignment()
    assert [len(assignment[s]) for s in ("train", "val", "test")] == [10, 4, 4]


def test_missing_parts_are_left_out_with_a_warning(tmp_path, caplog):
    replicas.nsynth(tmp_path, {"train": PARTS["train"][:1], "test": PARTS["test"][:1]})
    with caplog.at_level(logging.WARNING):
        records = module(tmp_path).load_records()
    assert {r.split for r in records} == {"train", "test"}
    assert "lacks ['nsynth-valid']" in caplog.text


def test_a_copy_without_any_part_names_data_root(tmp_path):
    (tmp_path / "nsynth-train").mkdir()
    with pytest.raises(FileNotFoundError, match=r"data.root=.* has none of nsynth-train/examples"):
        module(tmp_path).load_records()
    with pytest.raises(FileNotFoundError, match="data.root: folder .* does not exist"):
        module(tmp_path / "absent").load_records()
    with pytest.raises(ValueError, match="NSynthDataModule needs data.root"):
        NSynthDataModule()


def test_examples_json_is_read_tolerantly_and_checked(tmp_path):
    replicas.nsynth(tmp_path, {"valid": PARTS["valid"][:1]})
    path = tmp_path / "nsynth-valid" / "examples.json"
    notes = json.loads(path.read_text())
    for entry in notes.values():
        del entry["instrument_str"]
    path.write_text(json.dumps(notes))
    assert {r.class_name for r in module(tmp_path).load_records()} == {PARTS["valid"][0]}
    path.write_text("[1, 2]")
    with pytest.raises(ValueError, match="examples.json: expected a JSON object keyed by note_str"):
        module(tmp_path).load_records()
    path.write_text("{oops")
    with pytest.raises(ValueError, match="examples.json: not valid JSON"):
        module(tmp_path).load_records()
