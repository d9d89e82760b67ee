import math

import librosa
import numpy as np
import pytest
import torch

from audiofsl.frontends import MFCC, LogMel, power_to_db

SR = 16000


def numpy_log_mel(wave: np.ndarray, n_fft=1024, hop=512, n_mels=128, amin=1e-10) -> np.ndarray:
    """Centred (zero-padded) periodic-Hann STFT power -> Slaney mel -> dB, in float64."""
    padded = np.pad(wave.astype(np.float64), n_fft // 2)
    n_frames = 1 + (len(padded) - n_fft) // hop
    window = 0.5 - 0.5 * np.cos(2 * math.pi * np.arange(n_fft) / n_fft)
    frames = np.stack([padded[i * hop : i * hop + n_fft] * window for i in range(n_frames)], 1)
    power = np.abs(np.fft.rfft(frames, axis=0)) ** 2  # [n_fft // 2 + 1, L]
    fbank = librosa.filters.mel(sr=SR, n_fft=n_fft, n_mels=n_mels, dtype=np.float64)
    mel = fbank @ power
    return 10 * np.log10(np.maximum(mel, amin))


def test_shapes_and_attributes():
    frontend = LogMel()
    out = frontend(torch.randn(3, SR))
    assert out.shape == (3, 1, 128, SR // 512 + 1)
    assert out.dtype == torch.float32
    assert frontend.out_channels == 1 and frontend.n_features == 128
    assert LogMel(n_mels=64)(torch.randn(2, 1000)).shape == (2, 1, 64, 1000 // 512 + 1)


def test_matches_numpy_reference():
    torch.manual_seed(0)
    waves = 0.1 * torch.randn(2, 6000)
    out = LogMel()(waves)
    for i in range(2):
        expected = numpy_log_mel(waves[i].numpy())
        np.testing.assert_allclose(out[i, 0].numpy(), expected, rtol=1e-4, atol=1e-3)


def test_top_db_is_per_example_like_a_loop_over_librosa():
    torch.manual_seed(0)
    waves = torch.randn(3, 4000) * torch.tensor([[1.0], [1e-3], [1e-6]])
    waves[:, 1000:2000] = 0.0  # silent stretch so the clamp is active
    out = LogMel(top_db=60.0)(waves)
    mel = LogMel().mel
    for i in range(3):
        spec = mel(waves[i])  # [F, L], a single spectrogram
        expected = librosa.power_to_db(spec.double().numpy(), amin=1e-10, top_db=60.0)
        torch.testing.assert_close(
            out[i, 0].double(), torch.from_numpy(expected), atol=1e-4, rtol=1e-5
        )
        assert out[i].min() >= out[i].max() - 60.0 - 1e-4
    assert out[2].max() < out[0].max() - 60.0  # a quiet clip is not clamped by a loud one


def test_batch_rows_are_independent():
    torch.manual_seed(1)
    waves = torch.randn(4, 3000)
    frontend = LogMel(top_db=80.0, normalization="per_example")
    batched = frontend(waves)
    for i in range(4):
        torch.testing.assert_close(batched[i : i + 1], frontend(waves[i : i + 1]))


def test_power_to_db_floor_and_power_one():
    spec = torch.tensor([[[0.0, 1e-12], [1.0, 100.0]]])
    db = power_to_db(spec, power=2.0, amin=1e-10)
    torch.testing.assert_close(db, torch.tensor([[[-100.0, -100.0], [0.0, 20.0]]]))
    torch.testing.assert_close(
        power_to_db(torch.tensor([[[10.0]]]), power=1.0), torch.full((1, 1, 1), 20.0)
    )


def test_autocast_computes_in_float32():
    torch.manual_seed(2)
    waves = torch.randn(2, 4000)
    frontend = LogMel()
    reference = frontend(waves)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = frontend(waves)
        out_low_precision_input = frontend(waves.bfloat16())
    assert out.dtype == out_low_precision_input.dtype == torch.float32
    torch.testing.assert_close(out, reference, rtol=1e-6, atol=1e-5)


def test_rejects_non_batched_waveform():
    with pytest.raises(ValueError, match=r"\[B, T\]"):
        LogMel()(torch.randn(SR))


@pytest.mark.parametrize("kwargs", [{"n_mels": 0}, {"hop_length": -1}, {"top_db": 0.0}])
def test_rejects_bad_settings(kwargs):
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        LogMel(**kwargs)


def test_mfcc_rejects_too_many_coefficients():
    with pytest.raises(ValueError, match="n_mfcc"):
        MFCC(n_mfcc=200, n_mels=128)
