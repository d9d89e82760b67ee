import csv
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from audiofsl.data import synthetic
from audiofsl.data.folder import read_manifest
from audiofsl.data.synthetic import generate_synthetic_dataset

SMALL = {"n_classes": 4, "clips_per_class": 3, "clip_seconds": 0.25, "sample_rate": 8000}


def _rows(manifest: Path) -> list[dict]:
    with manifest.open(newline="") as f:
        return list(csv.DictReader(f))


def _audio_bytes(manifest: Path) -> dict[str, bytes]:
    return {r["path"]: (manifest.parent / r["path"]).read_bytes() for r in _rows(manifest)}


def test_layout_counts_and_audio(tmp_path):
    manifest = generate_synthetic_dataset(tmp_path, seed=0, progress=True, **SMALL)
    assert manifest.name == "manifest.csv" and manifest.parent.parent == tmp_path
    rows = _rows(manifest)
    assert list(rows[0]) == ["path", "label"]
    assert len(rows) == 12 and len({r["label"] for r in rows}) == 4
    for row in rows:
        path = manifest.parent / row["path"]
        assert not Path(row["path"]).is_absolute() and path.parent.name == row["label"]
        info = sf.info(path)
        assert (info.samplerate, info.frames, info.channels) == (8000, 2000, 1)
        assert info.subtype == "PCM_16"
        audio, _ = sf.read(path, dtype="float32")
        assert np.isfinite(audio).all() and np.abs(audio).max() <= 1.0
        assert np.sqrt(np.mean(audio**2)) > 1e-3  # not silent


def test_same_seed_same_bytes_other_seed_differs(tmp_path):
    a = generate_synthetic_dataset(tmp_path / "a", seed=3, progress=False, **SMALL)
    b = generate_synthetic_dataset(tmp_path / "b", seed=3, progress=False, **SMALL)
    c = generate_synthetic_dataset(tmp_path / "c", seed=4, progress=False, **SMALL)
    assert a.read_bytes() == b.read_bytes()
    assert _audio_bytes(a) == _audio_bytes(b)
    assert a.parent.name != c.parent.name  # settings hash includes the seed
    bytes_a, bytes_c = _audio_bytes(a), _audio_bytes(c)
    assert all(bytes_a[p] != bytes_c[p] for p in bytes_a)


def test_clips_and_classes_differ():
    recipes = {synthetic._draw_recipe(np.random.default_rng([0, c])) for c in range(100)}
    assert len(recipes) == 100
    recipe = synthetic._draw_recipe(np.random.default_rng([0, 0]))
    one = synthetic._render_clip(recipe, np.random.default_rng([0, 0, 1]), 4000, 16000)
    two = synthetic._render_clip(recipe, np.random.default_rng([0, 0, 2]), 4000, 16000)
    assert one.shape == (4000,) and not np.allclose(one, two)


def test_clips_of_a_class_are_closer_than_clips_of_different_classes():
    """Between-class over within-class distance of time-averaged log spectra."""
    features, labels = [], []
    for c in range(8):
        recipe = synthetic._draw_recipe(np.random.default_rng([0, c]))
        for i in range(6):
            wave = synthetic._render_clip(recipe, np.random.default_rng([0, c, i + 1]), 8192, 16000)
            frames = wave.reshape(-1, 256) * np.hanning(256)
            features.append(np.log(np.abs(np.fft.rfft(frames, axis=1)) ** 2 + 1e-8).mean(0))
            labels.append(c)
    x, y = np.array(features), np.array(labels)
    x = (x - x.mean(1, keepdims=True)) / x.std(1, keepdims=True)
    distance = ((x[:, None] - x[None]) ** 2).sum(-1)
    same, other = y[:, None] == y[None], ~np.eye(len(y), dtype=bool)
    ratio = distance[~same].mean() / distance[same & other].mean()
    assert 1.1 < ratio < 3.0  # classes differ, yet clips vary within a class


def test_existing_complete_dataset_is_reused(tmp_path, monkeypatch):
    manifest = generate_synthetic_dataset(tmp_path, progress=False, **SMALL)

    def fail(*args, **kwargs):
        raise AssertionError("a complete dataset was regenerated")

    monkeypatch.setattr(synthetic, "_write_dataset", fail)
    assert generate_synthetic_dataset(tmp_path, progress=False, **SMALL) == manifest
    with pytest.raises(AssertionError, match="regenerated"):
        generate_synthetic_dataset(tmp_path, progress=False, **{**SMALL, "n_classes": 5})


@pytest.mark.parametrize("damage", ["delete_clip", "delete_marker", "truncate_manifest"])
def test_incomplete_dataset_is_regenerated(tmp_path, damage):
    manifest = generate_synthetic_dataset(tmp_path, progress=False, **SMALL)
    expected = _audio_bytes(manifest)
    folder = manifest.parent
    if damage == "delete_clip":
        (folder / next(iter(expected))).unlink()
    elif damage == "delete_marker":
        (folder / "settings.json").unlink()
    else:
        manifest.write_text("path,label\n")
    (folder / "stale.txt").write_text("left over from an interrupted run")
    assert generate_synthetic_dataset(tmp_path, progress=False, **SMALL) == manifest
    assert _audio_bytes(manifest) == expected
    assert not (folder / "stale.txt").exists()
    assert [p.name for p in tmp_path.iterdir()] == [folder.name]  # no staging folder left


def test_interrupted_run_leaves_nothing_that_looks_complete(tmp_path, monkeypatch):
    def interrupted(directory, settings, progress):
        (directory / "audio").mkdir()
        raise KeyboardInterrupt

    monkeypatch.setattr(synthetic, "_write_dataset", interrupted)
    with pytest.raises(KeyboardInterrupt):
        generate_synthetic_dataset(tmp_path, progress=False, **SMALL)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "name, value",
    [
        ("n_classes", 0),
        ("clips_per_class", 0),
        ("clip_seconds", 0.0),
        ("clip_seconds", 0.001),
        ("sample_rate", 0),
        ("seed", -1),
        ("n_classes", 2.5),
    ],
)
def test_bad_arguments_raise(tmp_path, name, value):
    with pytest.raises(ValueError, match=name):
        generate_synthetic_dataset(tmp_path, progress=False, **{**SMALL, name: value})
    assert list(tmp_path.iterdir()) == []


def test_default_settings_keep_their_cache_folder(tmp_path, monkeypatch):
    """The settings hash (and so existing caches) does not change without the length range."""
    monkeypatch.setattr(synthetic, "_write_dataset", lambda directory, settings, progress: None)
    small = generate_synthetic_dataset(tmp_path, progress=False, **SMALL)
    default = generate_synthetic_dataset(tmp_path, progress=False)
    explicit = generate_synthetic_dataset(tmp_path, progress=False, clip_seconds_range=None)
    assert small.parent.name == "79b5b11c5141ed8e"
    assert default.parent.name == explicit.parent.name == "75c35596cc09a6c8"


def _frames(manifest: Path) -> list[int]:
    return [sf.info(manifest.parent / row["path"]).frames for row in _rows(manifest)]


def test_clip_lengths_vary_within_the_range(tmp_path):
    varying = {**SMALL, "clips_per_class": 5, "clip_seconds_range": (0.1, 0.4)}
    manifest = generate_synthetic_dataset(tmp_path / "a", seed=2, progress=False, **varying)
    frames = _frames(manifest)
    assert len(frames) == 20 and all(800 <= n <= 3200 for n in frames)
    assert len(set(frames)) > 15 and max(frames) - min(frames) > 1200  # spread over the range
    for row in _rows(manifest):  # still audible, finite audio
        audio, _ = sf.read(manifest.parent / row["path"], dtype="float32")
        assert np.isfinite(audio).all() and np.sqrt(np.mean(audio**2)) > 1e-3
    again = generate_synthetic_dataset(tmp_path / "b", seed=2, progress=False, **varying)
    other = generate_synthetic_dataset(tmp_path / "c", seed=3, progress=False, **varying)
    assert again.parent.name == manifest.parent.name != other.parent.name
    assert _audio_bytes(again) == _audio_bytes(manifest)  # deterministic for a seed
    assert _frames(other) != frames


def test_clip_length_range_is_in_the_settings(tmp_path, monkeypatch):
    monkeypatch.setattr(synthetic, "_write_dataset", lambda directory, settings, progress: None)

    def folder(**kwargs):
        return generate_synthetic_dataset(tmp_path, progress=False, **{**SMALL, **kwargs}).parent

    ranged = folder(clip_seconds_range=(0.1, 0.4))
    assert ranged != folder() and ranged != folder(clip_seconds_range=(0.1, 0.5))
    assert ranged == folder(clip_seconds_range=[0.1, 0.4])  # a list (e.g. from a config) too
    assert ranged == folder(clip_seconds_range=(0.1, 0.4), clip_seconds=2.0)  # length unused


def test_clip_length_range_reuses_a_complete_dataset(tmp_path, monkeypatch):
    varying = {**SMALL, "clip_seconds_range": (0.1, 0.2)}
    manifest = generate_synthetic_dataset(tmp_path, progress=False, **varying)

    def fail(*args, **kwargs):
        raise AssertionError("a complete dataset was regenerated")

    monkeypatch.setattr(synthetic, "_write_dataset", fail)
    assert generate_synthetic_dataset(tmp_path, progress=False, **varying) == manifest


@pytest.mark.parametrize("value", [(0.3, 0.2), (0.001, 0.2), (0.1,), "ab", (0.1, None), 0.5])
def test_bad_clip_length_range_raises(tmp_path, value):
    with pytest.raises(ValueError, match="clip_seconds_range"):
        generate_synthetic_dataset(tmp_path, progress=False, **SMALL, clip_seconds_range=value)
    assert list(tmp_path.iterdir()) == []


MIXED = {**SMALL, "n_classes": 5, "mixtures": 12, "max_labels": 3}


def test_mixtures_are_multi_label_test_clips(tmp_path):
    manifest = generate_synthetic_dataset(tmp_path / "a", seed=1, progress=False, **MIXED)
    rows = _rows(manifest)
    assert list(rows[0]) == ["path", "label", "labels", "split"]
    single, mixed = rows[:15], rows[15:]  # 5 classes x 3 clips, 12 mixtures
    assert all(r["labels"] == r["label"] and r["split"] == "train" for r in single)
    assert [r["path"] for r in mixed] == [f"audio/mixtures/mix{m:05d}.wav" for m in range(12)]
    classes = {r["label"] for r in single}
    for index, row in enumerate(mixed):
        labels = row["labels"].split(";")
        assert row["split"] == ("val" if index % 4 == 3 else "test") and row["label"] == labels[0]
        assert 2 <= len(labels) <= 3 and labels == sorted(set(labels)) and set(labels) <= classes
        audio, _ = sf.read(manifest.parent / row["path"], dtype="float32")
        assert audio.shape == (2000,) and np.isfinite(audio).all()
        assert np.sqrt(np.mean(audio**2)) > 1e-3 and np.abs(audio).max() <= 0.95
    assert {len(r["labels"].split(";")) for r in mixed} == {2, 3}
    again = generate_synthetic_dataset(tmp_path / "b", seed=1, progress=False, **MIXED)
    assert again.read_bytes() == manifest.read_bytes()
    assert _audio_bytes(again) == _audio_bytes(manifest)  # deterministic for a seed
    other = generate_synthetic_dataset(tmp_path / "c", seed=2, progress=False, **MIXED)
    assert _audio_bytes(other)[mixed[0]["path"]] != _audio_bytes(manifest)[mixed[0]["path"]]


def test_mixtures_keep_the_class_clips_and_reuse_no_clip(tmp_path):
    plain = generate_synthetic_dataset(tmp_path / "a", seed=1, progress=False, **SMALL)
    mixed = generate_synthetic_dataset(
        tmp_path / "b", seed=1, progress=False, **{**SMALL, "mixtures": 3, "max_labels": 2}
    )
    assert mixed.parent.name != plain.parent.name
    clips, with_mixtures = _audio_bytes(plain), _audio_bytes(mixed)
    assert {p: with_mixtures[p] for p in clips} == clips  # the class clips are unchanged
    assert not set(clips.values()) & {with_mixtures[p] for p in with_mixtures if "mix" in p}


def test_no_mixtures_keep_the_settings_hash(tmp_path, monkeypatch):
    monkeypatch.setattr(synthetic, "_write_dataset", lambda directory, settings, progress: None)

    def folder(**kwargs):
        return generate_synthetic_dataset(tmp_path, progress=False, **{**SMALL, **kwargs}).parent

    assert folder(mixtures=0).name == folder(mixtures=0, max_labels=4).name == "79b5b11c5141ed8e"
    mixed = [folder(mixtures=3), folder(mixtures=4), folder(mixtures=3, max_labels=2)]
    assert len({path.name for path in mixed}) == 3


def test_mixture_manifest_round_trips_through_read_manifest(tmp_path):
    manifest = generate_synthetic_dataset(tmp_path, seed=1, progress=False, **MIXED)
    records = read_manifest(manifest)
    assert len(records) == 27 and {r.split for r in records} == {"train", "val", "test"}
    for record, row in zip(records, _rows(manifest), strict=True):
        assert record.path == str(manifest.parent / row["path"])
        assert record.all_labels == tuple(row["labels"].split(";"))
        assert record.class_name == row["label"] and record.split == row["split"]
        assert (len(record.labels) > 1) == (row["split"] != "train")


@pytest.mark.parametrize(
    "name, value",
    [("mixtures", -1), ("mixtures", 1.5), ("max_labels", 1), ("max_labels", 6), ("n_classes", 1)],
)
def test_bad_mixture_arguments_raise(tmp_path, name, value):
    arguments = {**MIXED, name: value}
    with pytest.raises(ValueError, match=name):
        generate_synthetic_dataset(tmp_path, progress=False, **arguments)
    assert list(tmp_path.iterdir()) == []
