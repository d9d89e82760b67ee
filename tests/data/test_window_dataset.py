import math

import numpy as np
import pytest
import torch

from audiofsl.data import ClipDataset, ClipRecord, load_audio
from audiofsl.data.audio_io import AudioLoadError, resample, resampled_length
from audiofsl.data.windows import WindowDataset, loop_window, window_starts

RATE = 8000
WINDOW_SECONDS = 0.05  # 400 samples at 8 kHz


def _starts_reference(n_samples, window, hop):
    """Start at 0 and step by hop until a window reaches the end."""
    starts = [0]
    while starts[-1] + window < n_samples:
        starts.append(starts[-1] + hop)
    return starts


@pytest.mark.parametrize(
    "n_samples, window, hop, expected",
    [
        (1, 4, 2, [0]),
        (3, 4, 2, [0]),  # shorter than the window: one looped window
        (4, 4, 2, [0]),  # exactly one window
        (5, 4, 2, [0, 2]),  # one sample more: a second window
        (5, 4, 4, [0, 4]),
        (8, 4, 4, [0, 4]),  # a multiple of the window
        (12, 4, 4, [0, 4, 8]),
        (10, 4, 2, [0, 2, 4, 6]),
        (10, 4, 3, [0, 3, 6]),
        (13, 4, 3, [0, 3, 6, 9]),
    ],
)
def test_window_starts_edge_cases(n_samples, window, hop, expected):
    assert window_starts(n_samples, window, hop) == expected
    assert expected == _starts_reference(n_samples, window, hop)
    if n_samples > window:
        assert len(expected) == 1 + math.ceil((n_samples - window) / hop)


def test_window_starts_match_loop_reference():
    for n_samples in range(1, 40):
        for window in range(1, 12):
            for hop in range(1, window + 1):
                starts = window_starts(n_samples, window, hop)
                assert starts == _starts_reference(n_samples, window, hop)
                assert starts[-1] + window >= n_samples  # the last window reaches the end


@pytest.mark.parametrize("name", ["n_samples", "window", "hop"])
@pytest.mark.parametrize("value", [0, -3, 2.0, True])
def test_window_starts_errors(name, value):
    kwargs = {"n_samples": 10, "window": 4, "hop": 2, name: value}
    with pytest.raises(ValueError, match=name):
        window_starts(**kwargs)


def test_window_starts_hop_longer_than_window():
    with pytest.raises(ValueError, match="hop=5 exceeds the window of 4"):
        window_starts(20, 4, 5)


def test_loop_window_values():
    wave = torch.arange(5, dtype=torch.float32)
    assert loop_window(wave, 0, 3).tolist() == [0, 1, 2]
    assert loop_window(wave, 3, 4).tolist() == [3, 4, 0, 1]  # the last window wraps around
    assert loop_window(wave, 0, 12).tolist() == [0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 0, 1]
    assert loop_window(wave, 4, 7).tolist() == [4, 0, 1, 2, 3, 4, 0]
    with pytest.raises(ValueError, match="empty"):
        loop_window(torch.zeros(0), 0, 3)


@pytest.fixture
def records(tmp_path, tone, write_audio):
    """Clips of different lengths (short, exact, long) and sample rates, two classes."""
    clips = [
        ("dog", 300, 0.02, 8000),  # 160 samples < window
        ("cat", 500, 0.05, 8000),  # exactly one window
        ("dog", 350, 0.13, 16000),  # resampled to 1040 samples
        ("cat", 450, 0.0731, 11025),  # resampled, length not a multiple of anything
        ("dog", 250, 0.2, 22050),
    ]
    out = []
    for i, (name, freq, seconds, rate) in enumerate(clips):
        wave = tone(freq, seconds, rate)
        out.append(ClipRecord(str(write_audio(tmp_path / f"{name}_{i}.wav", wave, rate)), name))
    return out


def _clips(records, cached):
    return ClipDataset(records, {"cat": 0, "dog": 1}, RATE, WINDOW_SECONDS, "start", cached)


@pytest.mark.parametrize("cached", [True, False])
def test_num_samples_agrees_with_decoding(records, cached):
    clips = _clips(records, cached)
    assert [clips.num_samples(i) for i in range(len(clips))] == [
        load_audio(r.path, RATE).numel() for r in records
    ]


def test_resampled_length_matches_the_resampler():
    # (44100, 16000) and (7, 3) reduce to rates that do not divide one another.
    for orig, new in [(44100, 16000), (8000, 16000), (22050, 8000), (32000, 16000), (7, 3)]:
        for frames in [1, 2, 3, 7, 441, 4410, 12345]:
            resampled = resample(torch.zeros(frames), orig, new)
            assert resampled_length(frames, orig, new) == resampled.numel(), (orig, new, frames)
            assert resampled.numel() == math.ceil(frames * new / orig)
        assert resampled_length(0, orig, new) == 0  # load_audio does not resample empty files
    assert resampled_length(1234, 16000, 16000) == 1234


def test_num_samples_of_an_unreadable_file(tmp_path):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"not audio")
    clips = ClipDataset([ClipRecord(str(bad), "x")], {"x": 0}, RATE, 0.1, "start", False)
    with pytest.raises(AudioLoadError, match="bad.wav"):
        clips.num_samples(0)


@pytest.mark.parametrize("cached", [True, False])
@pytest.mark.parametrize("hop", [400, 160, 37])
def test_windows_match_a_loop_reference(records, cached, hop):
    dataset = WindowDataset(_clips(records, cached), hop)
    expected, clip_of_window = [], []
    for c, record in enumerate(records):
        wave = load_audio(record.path, RATE)
        for start in _starts_reference(wave.numel(), 400, hop):
            expected.append([float(wave[(start + i) % wave.numel()]) for i in range(400)])
            clip_of_window.append(c)
    assert len(dataset) == len(expected) and dataset.window == 400
    assert dataset.clip_of_window.tolist() == clip_of_window
    assert dataset.clip_of_window.dtype == torch.long
    assert dataset.labels.tolist() == [1, 0, 1, 0, 1] and dataset.n_clips == 5
    for k in range(len(dataset)):
        item = dataset[k]
        assert set(item) == {"audio", "label", "index", "segment"}
        assert item["audio"].dtype == torch.float32 and item["audio"].shape == (400,)
        assert (item["index"], item["segment"]) == (k, clip_of_window[k])
        assert item["label"] == int(dataset.labels[clip_of_window[k]])
        assert np.allclose(item["audio"].numpy(), expected[k], atol=0)


def test_window_counts_per_clip(records):
    dataset = WindowDataset(_clips(records, True), 400)
    lengths = [load_audio(r.path, RATE).numel() for r in records]
    counts = torch.bincount(dataset.clip_of_window, minlength=5).tolist()
    assert counts == [1 if n <= 400 else 1 + math.ceil((n - 400) / 400) for n in lengths]
    assert counts[:2] == [1, 1] and max(counts) > 2


def test_no_hop_gives_the_start_crop_of_each_clip(records):
    clips = _clips(records, False)
    dataset = WindowDataset(clips)
    assert len(dataset) == len(clips) and dataset.clip_of_window.tolist() == list(range(5))
    for i in range(len(clips)):
        assert torch.equal(dataset[i]["audio"], clips[i]["audio"])


def test_cached_and_uncached_give_the_same_windows(records):
    cached, plain = (
        WindowDataset(_clips(records, True), 300),
        WindowDataset(_clips(records, False), 300),
    )
    assert torch.equal(cached.clip_of_window, plain.clip_of_window)
    for k in [5, 0, len(cached) - 1, 3, 4]:  # out of order too: the kept clip must not leak
        assert torch.equal(cached[k]["audio"], plain[k]["audio"])


def test_bad_hop(records):
    for hop in [0, -1, 2.5, True, 401]:
        with pytest.raises(ValueError, match="hop"):
            WindowDataset(_clips(records, True), hop)
