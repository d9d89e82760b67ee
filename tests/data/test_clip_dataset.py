import pytest
import torch

from audiofsl.data import ClipDataset, ClipRecord, fit_length, load_audio


@pytest.fixture
def records(tmp_path, tone, write_audio):
    out = []
    for name, freq, seconds in [("dog", 300, 0.1), ("cat", 500, 0.3), ("dog", 350, 0.05)]:
        path = write_audio(tmp_path / f"{name}_{freq}.wav", tone(freq, seconds, 8000), 8000)
        out.append(ClipRecord(str(path), name))
    return out


def test_items_follow_the_contract(records):
    dataset = ClipDataset(records, {"cat": 0, "dog": 1}, 8000, 0.1, crop="start")
    assert len(dataset) == 3 and dataset.clip_samples == 800
    assert dataset.labels.tolist() == [1, 0, 1] and dataset.labels.dtype == torch.long
    assert dataset.class_names == ["cat", "dog"]
    item = dataset[2]
    assert set(item) == {"audio", "label", "index"}
    assert item["audio"].shape == (800,) and item["audio"].dtype == torch.float32
    assert (item["label"], item["index"]) == (1, 2)
    expected = fit_length(load_audio(records[2].path, 8000), 800, "start")  # 400 -> looped
    assert torch.equal(item["audio"], expected)


@pytest.mark.parametrize("crop", ["start", "center"])
def test_cache_gives_the_same_items_as_reading_files(records, crop):
    kwargs = {"class_to_index": {"cat": 0, "dog": 1}, "sample_rate": 8000, "clip_seconds": 0.1}
    cached = ClipDataset(records, crop=crop, cache_audio=True, **kwargs)
    plain = ClipDataset(records, crop=crop, cache_audio=False, **kwargs)
    assert not cached.cached  # decoded on first use (or by fill_cache), not when created
    for i in range(3):
        assert torch.equal(cached[i]["audio"], plain[i]["audio"])
        assert torch.equal(cached.full_audio(i), load_audio(records[i].path, 8000))
    assert cached.cached and not plain.fill_cache().cached


def test_preloaded_audio_is_used_instead_of_the_files(records):
    audio = [torch.full((5,), float(i + 1)) for i in range(3)]
    dataset = ClipDataset(records, {"cat": 0, "dog": 1}, 8000, 0.001, "start", True, audio=audio)
    assert dataset[1]["audio"].tolist() == [2.0] * 8
    with pytest.raises(ValueError, match="2 decoded clips for 3 records"):
        ClipDataset(records, {"cat": 0, "dog": 1}, 8000, 0.1, "start", True, audio=audio[:2])


def test_random_crops_vary_and_with_crop_shares_the_cache(records):
    dataset = ClipDataset(records, {"cat": 0, "dog": 1}, 8000, 0.05, "random", True)
    torch.manual_seed(0)
    crops = {tuple(dataset[1]["audio"][:3].tolist()) for _ in range(20)}
    assert len(crops) > 1
    start = dataset.with_crop("start")
    assert start.crop == "start" and dataset.crop == "random"
    assert start._flat is dataset._flat
    assert torch.equal(start[1]["audio"], dataset.full_audio(1)[:400])


def test_errors(records):
    with pytest.raises(ValueError, match=r"classes \['cat'\] are not in class_to_index"):
        ClipDataset(records, {"dog": 0}, 8000, 0.1)
    with pytest.raises(ValueError, match="records is empty"):
        ClipDataset([], {"dog": 0}, 8000, 0.1)
    with pytest.raises(ValueError, match="crop"):
        ClipDataset(records, {"cat": 0, "dog": 1}, 8000, 0.1, crop="end")


def test_indexed_clips_are_decoded_into_one_preallocated_buffer(tmp_path, tone, write_audio):
    """Clips of other sample rates land in slots sized from their headers, equal to decoding."""
    from audiofsl.data import IndexedClip

    clips = []
    for k, (rate, seconds) in enumerate([(8000, 0.1), (44100, 0.27), (22050, 0.013)]):
        path = write_audio(tmp_path / f"c{k}.wav", tone(300 + 50 * k, seconds, rate), rate)
        frames = round(seconds * rate)
        clips.append(IndexedClip(ClipRecord(str(path), "a"), frames, rate, 1))
    dataset = ClipDataset(clips, {"a": 0}, 16000, 0.05, "start", cache_audio=True)
    with torch.inference_mode():  # as when first filled from a validation loop
        dataset.fill_cache()
    assert dataset.cached
    assert dataset._offsets.diff().tolist() == [c.num_samples(16000) for c in clips]
    for i, clip in enumerate(clips):
        assert torch.equal(dataset.full_audio(i), load_audio(clip.record.path, 16000))
