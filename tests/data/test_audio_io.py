import pickle

import numpy as np
import pytest
import torch

from audiofsl.data import AudioLoadError, fit_length, load_audio


def loop_reference(wave, n, offset):
    return torch.stack([wave[(offset + i) % len(wave)] for i in range(n)])


def test_fit_length_crops():
    wave = torch.arange(10.0)
    assert fit_length(wave, 4, "start").tolist() == [0, 1, 2, 3]
    assert fit_length(wave, 4, "center").tolist() == [3, 4, 5, 6]
    assert fit_length(wave, 10, "random").tolist() == wave.tolist()
    generator = torch.Generator().manual_seed(0)
    starts = set()
    for _ in range(200):
        out = fit_length(wave, 4, "random", generator)
        start = int(out[0])
        assert torch.equal(out, wave[start : start + 4])
        starts.add(start)
    assert starts == set(range(7)), "every window must be reachable"


def test_fit_length_loop_pads_by_repeating_the_whole_clip():
    wave = torch.tensor([1.0, 2.0, 3.0])
    assert fit_length(wave, 8, "start").tolist() == [1, 2, 3, 1, 2, 3, 1, 2]
    centred = fit_length(wave, 8, "center")  # one full copy in the middle: at positions 2..4
    assert centred[2:5].tolist() == [1, 2, 3]
    assert torch.equal(centred, loop_reference(wave, 8, offset=-2))
    generator = torch.Generator().manual_seed(3)
    phases = set()
    for _ in range(100):
        out = fit_length(wave, 8, "random", generator)
        phase = int(out[0]) - 1
        assert torch.equal(out, loop_reference(wave, 8, phase))
        phases.add(phase)
    assert phases == {0, 1, 2}


def test_fit_length_random_is_reproducible_with_a_generator():
    wave = torch.randn(1000)
    first = fit_length(wave, 300, "random", torch.Generator().manual_seed(7))
    second = fit_length(wave, 300, "random", torch.Generator().manual_seed(7))
    assert torch.equal(first, second)


def test_fit_length_keeps_dtype_batch_dims_and_copies():
    wave = torch.arange(12, dtype=torch.float64).view(2, 6)
    out = fit_length(wave, 4, "center")
    assert out.dtype == torch.float64 and out.tolist() == [[1, 2, 3, 4], [7, 8, 9, 10]]
    out[0, 0] = -1
    assert wave[0, 1] == 1, "the output must not be a view of the input"


def test_fit_length_errors():
    with pytest.raises(ValueError, match="mode"):
        fit_length(torch.ones(4), 2, "end")
    with pytest.raises(ValueError, match="n_samples"):
        fit_length(torch.ones(4), 0)
    with pytest.raises(ValueError, match="empty"):
        fit_length(torch.ones(0), 4)


@pytest.mark.parametrize(
    ("suffix", "subtype"), [(".wav", "PCM_16"), (".flac", "PCM_16"), (".wav", "FLOAT")]
)
def test_load_audio_reads_mono_files(tmp_path, suffix, subtype, tone, write_audio):
    wave = tone(440, 0.1, 8000)
    path = write_audio(tmp_path / f"a{suffix}", wave, 8000, subtype)
    loaded = load_audio(path, 8000)
    assert loaded.dtype == torch.float32 and loaded.shape == (800,)
    assert torch.allclose(loaded, torch.from_numpy(wave), atol=1 / 32768 + 1e-7)


def test_load_audio_mixes_stereo_down_to_the_channel_mean(tmp_path, tone, write_audio):
    left, right = tone(300, 0.1, 8000, 0.6), tone(500, 0.1, 8000, 0.2)
    path = write_audio(tmp_path / "stereo.wav", np.stack([left, right], axis=1), 8000, "FLOAT")
    assert torch.allclose(load_audio(path, 8000), torch.from_numpy((left + right) / 2), atol=1e-6)


def test_load_audio_resamples_keeping_pitch(tmp_path, tone, write_audio):
    path = write_audio(tmp_path / "a.flac", tone(440, 0.5, 44100), 44100)
    loaded = load_audio(path, 16000)
    assert loaded.shape == (int(np.ceil(0.5 * 44100 * 16000 / 44100)),)
    spectrum = torch.fft.rfft(loaded).abs()
    peak_hz = int(spectrum.argmax()) * 16000 / len(loaded)
    assert abs(peak_hz - 440) <= 2


def test_load_audio_errors(tmp_path):
    corrupt = tmp_path / "bad.wav"
    corrupt.write_bytes(b"RIFF this is not audio at all" * 10)
    with pytest.raises(AudioLoadError, match="bad.wav") as info:
        load_audio(corrupt, 8000)
    assert info.value.path == str(corrupt)
    copy = pickle.loads(pickle.dumps(info.value))
    assert copy.path == info.value.path and copy.reason == info.value.reason
    with pytest.raises(AudioLoadError, match="missing.flac"):
        load_audio(tmp_path / "missing.flac", 8000)
    with pytest.raises(ValueError, match="sample_rate"):
        load_audio(corrupt, 0)


def test_load_audio_of_a_file_without_frames_is_empty(tmp_path, write_audio):
    path = write_audio(tmp_path / "empty.wav", np.zeros(0, dtype=np.float32), 8000)
    assert load_audio(path, 16000).shape == (0,)


@pytest.mark.parametrize(
    "suffix,rate", [(".wav", 44100), (".wav", 16000), (".flac", 22050), (".mp3", 44100)]
)
def test_read_window_equals_a_slice_of_the_whole_decoded_clip(tmp_path, suffix, rate):
    import soundfile as sf

    from audiofsl.data import read_window

    # A plain 6 s tone: libsndfile's MP3 decoder gives wrong samples after seeks into it.
    wave = 0.3 * np.sin(np.arange(rate * 6) * 0.01)
    path = tmp_path / f"clip{suffix}"
    sf.write(path, np.stack([wave, 0.5 * wave], 1).astype(np.float32), rate)
    info = sf.info(path)
    whole = load_audio(path, 16000)
    assert whole.abs().max() > 0.1
    for start in (0, 1234, 20000, 40000, 95000):  # the last one runs past the end
        window = read_window(path, 16000, start, 16000, info.samplerate, info.frames)
        expected = whole[start : start + 16000]
        assert window.shape == expected.shape
        assert torch.allclose(window, expected, atol=1e-5), (start, (window - expected).abs().max())
