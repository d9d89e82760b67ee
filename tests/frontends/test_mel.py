"""The mel filterbank, STFT and DCT against librosa/scipy (and torchaudio where it imports).

Tolerances: filterbanks agree with librosa's to 1e-6 relative (both built in float64), with
torchaudio's (built in float32) to 1e-5 of the largest weight; spectrograms, which sum hundreds of
float32 products, to 1e-4 relative plus 1e-6 of the largest value; decibels to 1e-3 dB.
"""

import librosa
import numpy as np
import pytest
import scipy.fft
import torch

from audiofsl.frontends import MFCC, LogMel
from audiofsl.frontends.mel import MelSpectrogram, dct_matrix, mel_filterbank

SR = 16000
FILTERBANKS = [  # (n_fft, n_mels, f_min, f_max, mel_scale, mel_norm): every config in conf/
    (1024, 128, 0.0, None, "slaney", "slaney"),  # MetaAudio log-mel and MFCC
    (1024, 64, 60.0, 7800.0, "htk", None),  # COLA
    (2048, 128, 40.0, 8000.0, "slaney", "slaney"),  # CLAR
    (512, 32, 0.0, 8000.0, "htk", "slaney"),
]


def assert_spectrogram_close(actual, expected):
    expected = torch.as_tensor(expected, dtype=torch.float64)
    atol = 1e-6 * float(expected.abs().max())
    torch.testing.assert_close(actual.double(), expected, rtol=1e-4, atol=atol)


@pytest.mark.parametrize(("n_fft", "n_mels", "f_min", "f_max", "scale", "norm"), FILTERBANKS)
def test_filterbank_is_librosas(n_fft, n_mels, f_min, f_max, scale, norm):
    ours = mel_filterbank(SR, n_fft, n_mels, f_min, f_max, scale, norm)
    expected = librosa.filters.mel(
        sr=SR, n_fft=n_fft, n_mels=n_mels, fmin=f_min, fmax=f_max, htk=scale == "htk", norm=norm
    )
    assert ours.shape == (n_mels, n_fft // 2 + 1) and ours.dtype == torch.float32
    np.testing.assert_allclose(ours.numpy(), expected, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize(("n_fft", "n_mels", "f_min", "f_max", "scale", "norm"), FILTERBANKS)
def test_filterbank_is_torchaudios(torchaudio_reference, n_fft, n_mels, f_min, f_max, scale, norm):
    ours = mel_filterbank(SR, n_fft, n_mels, f_min, f_max, scale, norm)
    expected = torchaudio_reference.functional.melscale_fbanks(
        n_fft // 2 + 1, f_min, SR / 2 if f_max is None else f_max, n_mels, SR, norm, scale
    )  # [n_freqs, n_mels]
    # torchaudio builds its filters in float32: equal to 1e-5 of the largest weight.
    torch.testing.assert_close(ours, expected.T, rtol=1e-4, atol=1e-5 * float(expected.max()))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"mel_scale": "bark"}, "mel_scale"),
        ({"mel_norm": "area"}, "mel_norm"),
        ({"f_min": 9000.0}, "f_min"),
        ({"f_max": 9000.0}, "f_max"),
    ],
)
def test_filterbank_rejects_bad_settings(kwargs, match):
    with pytest.raises(ValueError, match=match):
        mel_filterbank(SR, 512, 32, **kwargs)


@pytest.mark.parametrize(("n_coefficients", "n_inputs"), [(40, 128), (20, 128), (13, 40), (5, 5)])
def test_dct_matrix_is_scipys_orthonormal_dct_ii(n_coefficients, n_inputs):
    x = np.random.default_rng(0).standard_normal((3, n_inputs))
    expected = scipy.fft.dct(x, type=2, norm="ortho", axis=-1)[:, :n_coefficients]
    ours = torch.from_numpy(x).float() @ dct_matrix(n_coefficients, n_inputs)
    np.testing.assert_allclose(ours.numpy(), expected, rtol=1e-5, atol=1e-5)
    full = dct_matrix(n_inputs, n_inputs)  # orthonormal: its transpose inverts it
    torch.testing.assert_close(full.T @ full, torch.eye(n_inputs), rtol=0, atol=1e-5)


@pytest.mark.parametrize(
    ("win_length", "power", "pad_mode"), [(None, 2.0, "constant"), (400, 1.0, "reflect")]
)
def test_mel_spectrogram_is_librosas(win_length, power, pad_mode):
    torch.manual_seed(0)
    waves = 0.1 * torch.randn(2, 7000)
    mel = MelSpectrogram(SR, 1024, 160, 64, win_length, 60.0, 7800.0, power, pad_mode, "htk", None)
    out = mel(waves)
    assert out.shape == (2, 64, 7000 // 160 + 1) and out.dtype == torch.float32
    for i in range(2):
        expected = librosa.feature.melspectrogram(
            y=waves[i].double().numpy(),
            sr=SR,
            n_fft=1024,
            hop_length=160,
            win_length=win_length,
            center=True,
            pad_mode=pad_mode,
            power=power,
            n_mels=64,
            fmin=60.0,
            fmax=7800.0,
            htk=True,
            norm=None,
        )
        assert_spectrogram_close(out[i], expected)


def test_mel_spectrogram_is_torchaudios(torchaudio_reference):
    torch.manual_seed(1)
    waves = torch.randn(3, 5000)
    expected = torchaudio_reference.transforms.MelSpectrogram(
        SR,
        n_fft=1024,
        hop_length=512,
        n_mels=128,
        pad_mode="constant",
        norm="slaney",
        mel_scale="slaney",
    )(waves)
    assert_spectrogram_close(MelSpectrogram(SR, 1024, 512, 128)(waves), expected)


def test_log_mel_is_librosas_per_clip():
    """LogMel's defaults: librosa's melspectrogram, then power_to_db with its top_db per clip."""
    torch.manual_seed(2)
    waves = torch.randn(3, 6000) * torch.tensor([[1.0], [1e-3], [1e-6]])
    waves[:, 1000:2500] = 0.0  # silence: the top_db clamp is active
    out = LogMel(top_db=80.0)(waves)
    for i in range(3):
        spectrogram = librosa.feature.melspectrogram(
            y=waves[i].double().numpy(), sr=SR, n_fft=1024, hop_length=512, pad_mode="constant"
        )
        expected = librosa.power_to_db(spectrogram, ref=1.0, amin=1e-10, top_db=80.0)
        np.testing.assert_allclose(out[i, 0].numpy(), expected, rtol=1e-5, atol=1e-3)


def test_mfcc_is_librosas_per_clip():
    torch.manual_seed(3)
    waves = torch.randn(3, 5000) * torch.tensor([[1.0], [1e-2], [1e-4]])
    out = MFCC(n_mfcc=20)(waves)
    assert out.shape == (3, 1, 20, 5000 // 512 + 1)
    for i in range(3):
        expected = librosa.feature.mfcc(
            y=waves[i].double().numpy(),
            sr=SR,
            n_mfcc=20,
            n_fft=1024,
            hop_length=512,
            n_mels=128,
            pad_mode="constant",
        )  # power_to_db with its default top_db=80, like MFCC's
        np.testing.assert_allclose(out[i, 0].numpy(), expected, rtol=1e-4, atol=2e-3)


def test_mfcc_is_torchaudios(torchaudio_reference):
    torch.manual_seed(4)
    waves = torch.randn(1, 5000)
    melkwargs = {"n_fft": 1024, "hop_length": 512, "n_mels": 128, "pad_mode": "constant"}
    melkwargs |= {"norm": "slaney", "mel_scale": "slaney"}
    expected = torchaudio_reference.transforms.MFCC(SR, n_mfcc=20, melkwargs=melkwargs)(waves[0])
    torch.testing.assert_close(MFCC(n_mfcc=20)(waves)[0, 0], expected, rtol=1e-4, atol=1e-3)


def test_window_and_filterbank_are_not_saved_and_legacy_checkpoints_load():
    frontend = LogMel(n_mels=40)
    state = frontend.state_dict()
    assert not any(key.startswith("mel.") for key in state)
    legacy = dict(state)  # what the torchaudio-based frontend saved
    legacy["mel.spectrogram.window"] = torch.hann_window(1024)
    legacy["mel.mel_scale.fb"] = torch.zeros(513, 40)
    restored = LogMel(n_mels=40)
    restored.load_state_dict(legacy)  # strict: no unexpected keys
    waves = torch.randn(1, 3000)
    torch.testing.assert_close(restored(waves), frontend(waves))
    mfcc = MFCC(n_mfcc=13)
    assert set(mfcc.state_dict()) >= {"dct"}
