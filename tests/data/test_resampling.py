"""Resampling at load time against librosa (the same soxr filter: equal to float32 rounding) and
torchaudio where it imports (another windowed-sinc filter: equal to 2e-3 of a 0.8 peak away from
the clip's ends, on tones below 0.45 of the lower Nyquist frequency)."""

import librosa
import numpy as np
import pytest
import soundfile as sf
import torch

from audiofsl.data import load_audio, read_window
from audiofsl.data.audio_io import resample, resampled_length

RATE_PAIRS = [(44100, 16000), (22050, 16000), (48000, 16000), (8000, 16000), (11025, 22050)]


def tones(rate: int, seconds: float, seed: int = 0) -> np.ndarray:
    """Four tones of amplitude 0.2 (peak 0.8) at random phases, all below 1.8 kHz."""
    rng = np.random.default_rng(seed)
    time = np.arange(int(rate * seconds)) / rate
    waves = [0.2 * np.sin(2 * np.pi * f * time + rng.uniform(0, 6)) for f in (110, 440, 1000, 1700)]
    return np.sum(waves, axis=0).astype(np.float32)


@pytest.mark.parametrize(("orig", "new"), RATE_PAIRS)
@pytest.mark.parametrize("seconds", [1.0, 0.3217])
def test_resample_is_librosas(orig, new, seconds):
    wave = tones(orig, seconds)
    ours = resample(torch.from_numpy(wave), orig, new)
    expected = librosa.resample(wave, orig_sr=orig, target_sr=new)  # res_type="soxr_hq"
    assert ours.dtype == torch.float32 and ours.shape == expected.shape
    assert ours.numel() == resampled_length(len(wave), orig, new)
    np.testing.assert_allclose(ours.numpy(), expected, rtol=0, atol=1e-6)


@pytest.mark.parametrize(("orig", "new"), RATE_PAIRS)
def test_resample_is_torchaudios_away_from_the_ends(torchaudio_reference, orig, new):
    wave = tones(orig, 1.0, seed=1)
    ours = resample(torch.from_numpy(wave), orig, new)
    expected = torchaudio_reference.functional.resample(torch.from_numpy(wave), orig, new)
    assert ours.shape == expected.shape
    inside = slice(new // 100, -new // 100)  # 10 ms from each end, where the filters differ
    torch.testing.assert_close(ours[inside], expected[inside], rtol=0, atol=2e-3)


def test_resample_keeps_equal_rates_and_empty_clips():
    wave = torch.randn(100)
    assert resample(wave, 16000, 16000) is wave
    assert resample(torch.zeros(0), 44100, 16000).shape == (0,)
    assert resampled_length(0, 44100, 16000) == 0 and resampled_length(7, 8000, 8000) == 7


@pytest.mark.parametrize("rate", [44100, 8000])
def test_load_audio_is_librosa_load(tmp_path, rate):
    stereo = np.stack([tones(rate, 0.7), 0.5 * tones(rate, 0.7, seed=2)], axis=1)
    path = tmp_path / "clip.flac"
    sf.write(path, stereo, rate, subtype="PCM_24")
    expected, _ = librosa.load(path, sr=16000, mono=True)  # soundfile, channel mean, soxr_hq
    ours = load_audio(path, 16000)
    assert ours.shape == expected.shape
    np.testing.assert_allclose(ours.numpy(), expected, rtol=0, atol=1e-6)


@pytest.mark.parametrize("rate", [96000, 48000, 44100, 11025])
def test_read_window_equals_the_whole_clip_at_high_and_low_rates(tmp_path, rate):
    path = tmp_path / "clip.wav"
    sf.write(path, tones(rate, 3.0, seed=3), rate, subtype="FLOAT")
    info = sf.info(path)
    whole = load_audio(path, 16000)
    for start in (0, 777, 16000, 40000):  # the last one runs past the end
        window = read_window(path, 16000, start, 8000, info.samplerate, info.frames)
        expected = whole[start : start + 8000]
        assert window.shape == expected.shape
        torch.testing.assert_close(window, expected, rtol=0, atol=1e-5)
