import logging

import pytest
import soundfile as sf
from supervised_replicas import FMA_TRACKS, make_fma

from audiofsl.data import LoaderSettings, OfficialSplit
from audiofsl.data.sources.fma import FMADataModule, in_size, read_tracks, track_path
from audiofsl.runs.composition import build_datamodule
from audiofsl.samplers import EpisodeSpec, MiniBatchSpec

LOADER = LoaderSettings(sample_rate=16000, clip_seconds=0.25)
# Mini-batches for training and no evaluation episodes: these tests look at the clips only.
FAST = {"loader": LOADER, "train_sampler": MiniBatchSpec(batch_size=2), "eval_needs": {}}


@pytest.fixture(scope="module")
def fma(tmp_path_factory):
    return make_fma(tmp_path_factory.mktemp("fma"))


def tracks_of(*subsets, genre=True):
    return {
        f"{tid:06d}": (split, g)
        for tid, subset, split, g in FMA_TRACKS
        if subset in subsets and (g or not genre)
    }


def test_soundfile_decodes_mp3(fma, monkeypatch):
    assert "MP3" in sf.available_formats()
    monkeypatch.setattr(sf, "available_formats", lambda: {"WAV": "WAV (Microsoft)"})
    with pytest.raises(RuntimeError, match="cannot decode MP3.*soundfile >= 0.12"):
        FMADataModule(fma).load_records()


def test_track_paths_and_sizes(tmp_path):
    assert track_path(tmp_path, 2) == tmp_path / "000" / "000002.mp3"
    assert track_path(tmp_path, "133297") == tmp_path / "133" / "133297.mp3"
    assert in_size("small", "small") and in_size("small", "large") and in_size("large", "full")
    assert not in_size("medium", "small") and not in_size("large", "medium")
    assert in_size("", "full") and not in_size("", "large")


@pytest.mark.parametrize("third_row", [True, False])
def test_the_two_row_header_is_read(tmp_path, third_row):
    make_fma(tmp_path, third_header_row=third_row, audio=False)
    tracks = read_tracks(tmp_path / "fma_metadata" / "tracks.csv")
    assert [int(t["track_id"]) for t in tracks] == [t[0] for t in FMA_TRACKS]
    first = tracks[0]
    assert (first["split"], first["subset"], first["genre_top"]) == ("training", "small", "Hip-Hop")
    assert first["artist"] == str(100 + 2 % 7)
    assert tracks[11]["genre_top"] == "Old-Time / Historic"


def test_records_of_fma_small(fma, caplog):
    with caplog.at_level(logging.WARNING):
        records = FMADataModule(fma, size="small").load_records()
    expected = tracks_of("small")
    assert {r.path.rsplit("/", 1)[1][:6]: (r.split, r.class_name) for r in records} == expected
    assert all(r.path.startswith(str(fma / "fma_small")) for r in records)
    assert records[0].path == str(fma / "fma_small" / "000" / "000002.mp3")
    assert records[0].group == str(100 + 2 % 7)
    assert not caplog.text  # every listed file exists


@pytest.mark.parametrize(
    ("size", "subsets"),
    [
        ("small", ["small"]),
        ("medium", ["small", "medium"]),
        ("large", ["small", "medium", "large"]),
    ],
)
def test_sizes_hold_the_smaller_ones(fma, size, subsets):
    records = FMADataModule(fma, size=size).load_records()
    assert {r.path.rsplit("/", 1)[1][:6] for r in records} == set(tracks_of(*subsets))
    assert all(f"/fma_{size}/" in r.path for r in records)


def test_full_holds_every_track_and_tracks_without_genre_are_left_out(fma):
    labelled = FMADataModule(fma, size="full").load_records()
    assert len(labelled) == len([t for t in FMA_TRACKS if t[3]])
    assert not {"000004", "000152"} & {r.path.rsplit("/", 1)[1][:6] for r in labelled}


def test_the_official_split_and_the_known_empty_file(fma, caplog):
    module = FMADataModule(fma, size="small", **FAST)
    assert module.split == OfficialSplit(train=["training"], val=["validation"], test=["test"])
    with caplog.at_level(logging.WARNING):
        assigned = module.assignment()
    # skipped by the shared index summary (libsndfile says the same of the real, audio-less file)
    assert "099134.mp3: unreadable" in caplog.text
    names = {s: sorted(r.path.rsplit("/", 1)[1][:6] for r in recs) for s, recs in assigned.items()}
    assert names == {
        "train": ["000002", "000005", "000010", "000140", "001039", "001040"],
        "val": ["000141"],
        "test": ["000148", "000182"],
    }
    assert module.train_set.class_names == ["Folk", "Hip-Hop", "Pop"]
    assert module.test_set.class_names == ["Folk", "Hip-Hop", "Pop"]
    item = module.train_set[0]
    assert item["audio"].shape == (4000,) and item["audio"].abs().max() > 0.1  # decoded mp3


def test_unlabelled_mode_gives_every_track_as_its_own_training_clip(fma):
    module = FMADataModule(fma, size="large", labelled=False, **FAST)
    records = module.load_records()
    ids = {t[0] for t in FMA_TRACKS}
    assert {int(r.class_name) for r in records} == ids  # tracks without a genre too
    assert all(r.split == "train" for r in records)
    assert all(r.path.endswith(f"{r.class_name}.mp3") for r in records)
    assigned = module.assignment()
    assert len(assigned["train"]) == len(ids) - 1  # the empty file is left out
    assert not assigned["val"] and not assigned["test"]
    assert module.val_set is None and module.test_set is None
    assert len(module.train_set.class_names) == len(ids) - 1
    batch = next(iter(module.train_dataloader()))
    assert batch["audio"].shape == (2, 4000)


def test_unlabelled_mode_can_leave_the_test_tracks_out(fma):
    records = FMADataModule(
        fma, size="medium", labelled=False, unlabelled_splits=["training", "validation"]
    ).load_records()
    expected = {f"{t[0]:06d}" for t in FMA_TRACKS if t[1] != "large" and t[2] != "test"}
    assert {r.class_name for r in records} == expected


def test_unlabelled_mode_ignores_the_given_split_and_refuses_episodes(fma):
    given = OfficialSplit(train=["training"], val=["validation"], test=["test"])
    module = FMADataModule(fma, labelled=False, split=given, **FAST)
    assert module.split == OfficialSplit(train=["train"], val=[], test=[])
    with pytest.raises(ValueError, match=r"data.labelled=false.*sampler=batch"):
        FMADataModule(fma, labelled=False, train_sampler=EpisodeSpec())


def test_errors_name_the_setting_and_the_file(tmp_path, fma):
    with pytest.raises(ValueError, match="data.root is not set"):
        FMADataModule()
    with pytest.raises(ValueError, match="data.size='tiny'"):
        FMADataModule(fma, size="tiny")
    with pytest.raises(FileNotFoundError, match="data.root: no fma_small/ folder"):
        FMADataModule(tmp_path).load_records()
    (tmp_path / "fma_small").mkdir()
    with pytest.raises(FileNotFoundError, match="data.metadata: .*tracks.csv' does not exist"):
        FMADataModule(tmp_path).load_records()
    meta = tmp_path / "elsewhere" / "tracks.csv"
    meta.parent.mkdir()
    meta.write_text(",set,track\n,split,title\ntrack_id,,\n2,training,x\n")
    with pytest.raises(ValueError, match=r"lacks the columns \['\(set, subset\)', '\(track, genre"):
        FMADataModule(tmp_path, metadata=meta.parent).load_records()
    meta.write_text(",set,,track\n,split,subset,genre_top\ntrack_id,,,\n2,training,small,Pop\n")
    with pytest.raises(FileNotFoundError, match="none of the 1 files listed"):
        FMADataModule(tmp_path, metadata=meta).load_records()  # blank top-level names continue


def test_missing_tracks_are_left_out_with_a_warning(tmp_path, caplog):
    make_fma(tmp_path)
    (tmp_path / "fma_small" / "000" / "000010.mp3").unlink()
    with caplog.at_level(logging.WARNING):
        records = FMADataModule(tmp_path).load_records()
    assert len(records) == len(tracks_of("small")) - 1 and "000010.mp3" in caplog.text


def test_config_composes(compose_config, fma, tmp_path):
    overrides = ["data=fma", f"data.root={fma}", "sampler=batch", "sampler.batch_size=2"]
    cfg = compose_config("train", overrides, tmp_path / "cache")
    assert (cfg.data.loader.clip_seconds, cfg.data.loader.eval_hop_seconds) == (3.0, 3.0)
    module = build_datamodule(cfg)
    assert isinstance(module, FMADataModule) and module.size == "small" and module.labelled
    assert module.split == OfficialSplit(train=["training"], val=["validation"], test=["test"])
    unlabelled = build_datamodule(
        compose_config("train", [*overrides, "data.labelled=false", "data.size=large"])
    )
    assert unlabelled.split.train == ["train"] and not unlabelled.labelled
