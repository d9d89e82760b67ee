import json
from pathlib import Path

import metaaudio_replicas as replicas
import pytest

from audiofsl.data import ClassSplit, FoldSplit, LoaderSettings
from audiofsl.data.sources.esc50 import ESC50DataModule

LOADER = LoaderSettings(clip_seconds=0.25)


def module(root, **kwargs):
    return ESC50DataModule(root, loader=LOADER, **kwargs)


@pytest.fixture(scope="module")
def full_copy(tmp_path_factory) -> Path:
    """Every ESC-50 class, one clip each."""
    return replicas.esc50(tmp_path_factory.mktemp("esc50"))


def test_records_carry_category_fold_and_source_recording(tmp_path):
    root = replicas.esc50(tmp_path, ["dog", "church_bells"], clips_per_class=5)
    records = module(root).load_records()
    assert len(records) == 10
    first = records[0]
    assert Path(first.path) == root / "audio" / "1-100032-A-0.wav"
    assert (first.class_name, first.fold, first.group) == ("dog", 1, "100032")
    bells = [r for r in records if r.class_name == "church_bells"]
    assert [r.fold for r in bells] == [1, 2, 3, 4, 5]
    assert [r.group for r in bells] == ["146032", "146032", "146033", "146033", "146034"]
    assert all(r.split is None and Path(r.path).is_file() for r in records)


def test_the_official_split_is_the_default_and_variants_pick_their_file(full_copy):
    assignment = module(full_copy).class_assignment()
    assert assignment == {s: sorted(names) for s, names in replicas.official_split("esc50").items()}
    assert [len(assignment[s]) for s in ("train", "val", "test")] == [35, 5, 10]
    dm = module(full_copy, variant="meta_aware")
    assert Path(dm.split.file).name == "esc50_meta_aware.json"
    expected = replicas.official_split("esc50_meta_aware")
    assert dm.class_assignment() == {s: sorted(names) for s, names in expected.items()}


def test_a_given_split_wins_over_the_variant(full_copy, tmp_path):
    own = tmp_path / "mine.json"
    lists = {"train": ["dog", "cat", "pig"], "val": ["cow"], "test": ["hen", "frog"]}
    own.write_text(json.dumps(lists))
    assert module(full_copy, split=ClassSplit(file=str(own))).class_assignment() == {
        s: sorted(v) for s, v in lists.items()
    }
    listed = module(full_copy, split=ClassSplit(val_classes=["dog"], test_classes=["cat"]))
    assert listed.class_assignment()["test"] == ["cat"]
    sized = module(full_copy, split=ClassSplit(sizes=[30, 10, 10])).class_assignment()
    assert [len(v) for v in sized.values()] == [30, 10, 10]
    seeded = module(full_copy, variant=None, split=ClassSplit(ratios=[0.6, 0.2, 0.2]))
    assert seeded.split.file is None
    assert [len(v) for v in seeded.class_assignment().values()] == [30, 10, 10]
    folds = module(full_copy, split=FoldSplit(test_folds=[1]))
    assert isinstance(folds.split, FoldSplit)


def test_the_folder_holding_esc50_master_is_accepted(tmp_path):
    replicas.esc50(tmp_path, ["dog"])
    (record,) = module(tmp_path).load_records()
    assert Path(record.path) == tmp_path / "ESC-50-master" / "audio" / "1-100032-A-0.wav"


def test_folds_give_the_cross_validation_protocol(tmp_path):
    root = replicas.esc50(tmp_path, ["dog", "cat", "rain"], clips_per_class=5)
    dm = module(root, split=FoldSplit(test_folds=[2], val_folds=[5]))
    assignment = dm.assignment()
    assert {r.fold for r in assignment["test"]} == {2} and len(assignment["test"]) == 3
    assert {r.fold for r in assignment["train"]} == {1, 3, 4}


def test_esc10_only_keeps_the_esc10_clips_and_leaves_the_split_to_data_split(tmp_path):
    root = replicas.esc50(tmp_path, ["dog", "cat", "rain", "hen", "chainsaw"], clips_per_class=2)
    dm = module(root, esc10_only=True, split=FoldSplit(test_folds=[2]))
    assert {r.class_name for r in dm.load_records()} == {"dog", "rain", "chainsaw"}
    assert module(root, esc10_only=True).split.file is None
    assert dm.index_key() != module(root).index_key()


def test_split_file_classes_missing_from_the_copy_are_an_error(tmp_path):
    root = replicas.esc50(tmp_path, ["dog", "cat", "rain"])
    with pytest.raises(ValueError, match=r"data.split.file=.*esc50.json names 47 classes"):
        module(root).class_assignment()


def test_a_missing_root_names_data_root():
    with pytest.raises(ValueError, match="needs data.root: set it to the ESC-50-master folder"):
        ESC50DataModule(None)
    with pytest.raises(FileNotFoundError, match="data.root: folder '/nowhere/ESC-50-master'"):
        module("/nowhere/ESC-50-master").load_records()


def test_a_missing_metadata_file_or_audio_folder_names_data_root(tmp_path):
    root = replicas.esc50(tmp_path, ["dog"])
    (root / "meta" / "esc50.csv").unlink()
    with pytest.raises(FileNotFoundError, match=r"data.root=.* has no meta/esc50.csv file"):
        module(root).load_records()
    with pytest.raises(FileNotFoundError, match="has no ESC-50-master/meta/esc50.csv file"):
        module(tmp_path).load_records()  # the parent folder given instead
    with pytest.raises(FileNotFoundError, match="has no meta/esc50.csv.*ESC-50-master folder"):
        module(tmp_path / "ESC-50-master" / "audio").load_records()
    root = replicas.esc50(tmp_path / "other", ["dog"])
    for clip in (root / "audio").iterdir():
        clip.unlink()
    (root / "audio").rmdir()
    with pytest.raises(FileNotFoundError, match="has no audio folder"):
        module(root).load_records()


def test_metadata_without_the_columns_names_the_file_and_the_columns(tmp_path):
    root = replicas.esc50(tmp_path, ["dog"])
    csv_path = root / "meta" / "esc50.csv"
    csv_path.write_text("filename,fold,target,class\n1-100032-A-0.wav,1,0,dog\n")
    with pytest.raises(
        ValueError, match=r"esc50.csv' lacks the columns \['category', 'src_file'\]"
    ):
        module(root).load_records()
    csv_path.write_text("filename,fold,category,src_file\n1-100032-A-0.wav,one,dog,100032\n")
    with pytest.raises(ValueError, match="esc50.csv: the fold column must hold integers"):
        module(root).load_records()
    csv_path.write_text("\ufefffilename,fold,category,src_file\n1-100032-A-0.wav,1,dog,100032\n\n")
    assert [r.class_name for r in module(root).load_records()] == ["dog"]
    with pytest.raises(ValueError, match=r"esc50.csv' lacks the columns \['esc10'\]"):
        module(root, esc10_only=True).load_records()


def test_an_unknown_variant_lists_the_variants(tmp_path):
    with pytest.raises(ValueError, match=r"data.variant='pruned'.*\['baseline', 'meta_aware'\]"):
        ESC50DataModule(tmp_path, variant="pruned")
