import math

import librosa
import numpy as np
import pytest
import torch

from audiofsl.frontends import MFCC, LogMel, power_to_db
from audiofsl.frontends.logmel import LOG_FLOORS

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


def test_power_to_db_log_floor_add_offsets_instead_of_clamping():
    spec = torch.tensor([[[0.0, 1e-10], [1.0, 100.0]]], dtype=torch.float64)
    db = power_to_db(spec, power=2.0, amin=1e-10, log_floor="add")
    expected = 10 * torch.log10(spec + 1e-10)
    torch.testing.assert_close(db, expected)
    assert db[0, 0, 1] == pytest.approx(-100.0 + 10 * math.log10(2.0))  # clamp: -100


@pytest.mark.parametrize("scale", ["db", "log"])
def test_log_floor_add_is_log_of_mel_plus_amin(scale):
    torch.manual_seed(3)
    waves = 0.1 * torch.randn(2, 4000)
    waves[:, 2000:] = 0.0  # digital silence: the floor decides these frames
    amin = 2.220446049250313e-16
    frontend = LogMel(amin=amin, log_floor="add", scale=scale)
    mel = frontend.mel(waves).double()
    expected = 10 * torch.log10(mel + amin) if scale == "db" else torch.log(mel + amin)
    torch.testing.assert_close(frontend(waves)[:, 0].double(), expected, rtol=1e-5, atol=1e-4)
    # bins near the floor tell the two apart (by up to log(2), 3 dB, at mel = amin)
    added, clamped = (LogMel(amin=1.0, log_floor=f, scale=scale)(waves) for f in LOG_FLOORS)
    assert (added - clamped).abs().max() > 0.1


def test_standardize_waveform_removes_gain_and_offset_per_example():
    torch.manual_seed(4)
    waves = torch.randn(3, 5000)
    scaled = waves * torch.tensor([[0.01], [1.0], [30.0]]) + torch.tensor([[0.5], [0.0], [-2.0]])
    frontend = LogMel(standardize_waveform=True)
    out = frontend(scaled)
    std, mean = torch.std_mean(waves, dim=-1, correction=0, keepdim=True)
    torch.testing.assert_close(out, LogMel()((waves - mean) / std), rtol=1e-4, atol=1e-3)
    torch.testing.assert_close(out, frontend(waves), rtol=1e-4, atol=1e-3)
    silent = frontend(torch.zeros(1, 5000))
    assert torch.isfinite(silent).all()


def test_reflect_padding_htk_and_added_floor_match_torchaudio():
    torchaudio = pytest.importorskip("torchaudio")
    torch.manual_seed(5)
    waves = torch.randn(2, 8000)
    eps = float(torch.finfo(torch.float32).eps)
    transform = torchaudio.transforms.MelSpectrogram(
        sample_rate=SR, n_fft=1024, hop_length=512, n_mels=128, power=2.0
    )
    expected = 10 * torch.log10(transform(waves) + eps)
    frontend = LogMel(mel_scale="htk", mel_norm=None, pad_mode="reflect", amin=eps, log_floor="add")
    torch.testing.assert_close(frontend(waves)[:, 0], expected, rtol=1e-5, atol=1e-3)
    edges = LogMel(mel_scale="htk", mel_norm=None, amin=eps, log_floor="add")(waves)[:, 0]
    assert (edges[..., 0] - expected[..., 0]).abs().max() > 0.1  # zero padding differs


def test_rejects_unknown_log_floor():
    with pytest.raises(ValueError, match="log_floor"):
        LogMel(log_floor="offset")
    with pytest.raises(ValueError, match="log_floor"):
        power_to_db(torch.ones(1, 1, 1), log_floor="offset")
