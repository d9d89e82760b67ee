"""The device feature modules against transformers' own feature extractors.

Tolerances (absolute, in each model's input units), with what was measured on CPU:

- AST, ``(log fbank + 4.27) / 9.14``: 5e-4 (max measured 1.8e-4 against torchaudio's
  ``kaldi.fbank`` path, 7e-5 against the numpy path): both the reference and the module work
  in float32, and rounding shows most in the lowest mel bins, which hold one or two FFT bins.
- Whisper, ``(log10 mel + 4) / 4``: 1e-5 (measured 0: the reference is torch on the CPU too,
  with the same operations).
- CLAP, dB: 2e-3 dB where the reference lies within 80 dB of its frame's maximum, 0.1 dB
  everywhere. The reference computes in float64 but stores the FFT as complex64, so it has
  a float32 noise floor itself; bands of a pure sine about 120 dB below the peak (near the
  -100 dB floor) differ by up to 0.05 dB, random waveforms by under 1e-4 dB.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

transformers = pytest.importorskip("transformers")

from audiofsl.encoders.pretrained.features import (  # noqa: E402
    ASTFeatures,
    ClapFeatures,
    WhisperFeatures,
    kaldi_mel_banks,
)

AST_ATOL = 5e-4
WHISPER_ATOL = 1e-5
CLAP_ATOL_NEAR_PEAK, CLAP_NEAR_PEAK_DB, CLAP_ATOL = 2e-3, 80.0, 0.1


def waveforms(sampling_rate: int, length: int, seed: int = 0) -> np.ndarray:
    """``[4, length]`` float32: noise, two sines (one with a little noise), near-silence."""
    rng = np.random.default_rng(seed)
    t = np.arange(length) / sampling_rate
    return np.stack(
        [
            0.3 * rng.standard_normal(length),
            0.5 * np.sin(2 * np.pi * 440.0 * t),
            0.05 * np.sin(2 * np.pi * 3000.0 * t + 1.0) + 0.01 * rng.standard_normal(length),
            1e-3 * rng.standard_normal(length),
        ]
    ).astype(np.float32)


def reference(extractor, batch: np.ndarray, key: str, **kwargs) -> np.ndarray:
    out = extractor(
        list(batch), sampling_rate=extractor.sampling_rate, return_tensors="np", **kwargs
    )
    return out[key]


def ast_extractor(**kwargs):
    return transformers.ASTFeatureExtractor(**kwargs)


# -- AST ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("seconds", [1.0, 10.3, 11.0])  # 99, 1028 and 1098 frames for 1024
def test_ast_matches_the_extractor(seconds):
    extractor = ast_extractor()
    module = ASTFeatures.from_extractor(extractor)
    batch = waveforms(16000, int(seconds * 16000))
    expected = reference(extractor, batch, "input_values")
    out = module(torch.from_numpy(batch))
    assert out.shape == expected.shape == (4, 1024, 128) and out.dtype == torch.float32
    np.testing.assert_allclose(out.numpy(), expected, rtol=0, atol=AST_ATOL)
    assert module.sampling_rate == 16000


def test_ast_matches_the_numpy_path_of_the_extractor(monkeypatch):
    """Without torchaudio the extractor computes the fbank with numpy and its own filters."""
    from transformers.models.audio_spectrogram_transformer import (
        feature_extraction_audio_spectrogram_transformer as ast_module,
    )

    monkeypatch.setattr(ast_module, "is_speech_available", lambda: False)
    with pytest.warns(UserWarning, match="all zero values"):  # bin 0 of 128 at 257 FFT bins
        extractor = ast_extractor()
    module = ASTFeatures.from_extractor(extractor)
    np.testing.assert_allclose(
        module.mel_filters.double().numpy(), extractor.mel_filters, atol=1e-7
    )
    batch = waveforms(16000, 16000 * 3, seed=1)
    expected = reference(extractor, batch, "input_values")
    np.testing.assert_allclose(module(torch.from_numpy(batch)).numpy(), expected, atol=AST_ATOL)
    # Shorter than one frame: no frames, so the output is the padding only.
    short = waveforms(16000, 300)
    expected = reference(extractor, short, "input_values")
    np.testing.assert_allclose(module(torch.from_numpy(short)).numpy(), expected, atol=1e-6)


def test_ast_non_default_settings():
    extractor = ast_extractor(num_mel_bins=64, max_length=100, do_normalize=False)
    module = ASTFeatures.from_extractor(extractor)
    for seconds in (0.5, 2.0):  # padded and truncated to 100 frames
        batch = waveforms(16000, int(seconds * 16000), seed=2)
        expected = reference(extractor, batch, "input_values")
        out = module(torch.from_numpy(batch))
        assert out.shape == expected.shape == (4, 100, 64)
        # Unnormalised: the log fbank itself, 2 * std = 9.14 times the scale of the default.
        np.testing.assert_allclose(out.numpy(), expected, rtol=0, atol=2 * 4.57 * AST_ATOL)


def test_kaldi_mel_banks_match_the_extractors_table():
    ast_module = pytest.importorskip(
        "transformers.models.audio_spectrogram_transformer.feature_extraction_audio_spectrogram_transformer"
    )
    expected = ast_module.mel_filter_bank(
        num_frequency_bins=257,
        num_mel_filters=64,
        min_frequency=20,
        max_frequency=8000,
        sampling_rate=16000,
        norm=None,
        mel_scale="kaldi",
        triangularize_in_mel_space=True,
    )
    np.testing.assert_allclose(
        kaldi_mel_banks(64, 512, 16000, 20.0, 0.0).numpy(), expected, atol=1e-9
    )


# -- Whisper -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("feature_size", "seconds"), [(80, 4.0), (80, 31.0), (128, 2.5)])
def test_whisper_matches_the_extractor(feature_size, seconds):
    extractor = transformers.WhisperFeatureExtractor(feature_size=feature_size)
    module = WhisperFeatures.from_extractor(extractor)
    batch = waveforms(16000, int(seconds * 16000))
    expected = reference(extractor, batch, "input_features")
    out = module(torch.from_numpy(batch))
    assert out.shape == expected.shape == (4, feature_size, 3000)
    np.testing.assert_allclose(out.numpy(), expected, rtol=0, atol=WHISPER_ATOL)


@pytest.mark.parametrize("seconds", [3.0, 30.5])
def test_whisper_normalised_waveform(seconds):
    extractor = transformers.WhisperFeatureExtractor()
    module = WhisperFeatures.from_extractor(extractor, do_normalize=True)
    batch = waveforms(16000, int(seconds * 16000), seed=3)
    expected = reference(extractor, batch, "input_features", do_normalize=True)
    plain = reference(extractor, batch, "input_features")
    assert np.abs(expected - plain).max() > 0.1  # the normalisation changes the features
    np.testing.assert_allclose(module(torch.from_numpy(batch)).numpy(), expected, atol=1e-4)


# -- CLAP --------------------------------------------------------------------------------------


def clap_extractor(**kwargs):
    return transformers.ClapFeatureExtractor(truncation="rand_trunc", **kwargs)


def assert_clap_close(out: np.ndarray, expected: np.ndarray) -> None:
    assert out.shape == expected.shape
    error = np.abs(out - expected)
    near_peak = expected >= expected.max(axis=-1, keepdims=True) - CLAP_NEAR_PEAK_DB
    assert error[near_peak].max() <= CLAP_ATOL_NEAR_PEAK
    assert error.max() <= CLAP_ATOL


@pytest.mark.parametrize(
    ("padding", "seconds"), [("repeatpad", 3.0), ("repeatpad", 10.0), ("repeat", 4.1), ("pad", 2.0)]
)
def test_clap_matches_the_extractor(padding, seconds):
    extractor = clap_extractor(padding=padding)
    module = ClapFeatures.from_extractor(extractor)
    batch = waveforms(48000, int(seconds * 48000))
    expected = reference(extractor, batch, "input_features")
    out = module(torch.from_numpy(batch))
    assert out.shape == (4, 1, 1001, 64) and out.dtype == torch.float32
    assert_clap_close(out.numpy(), expected)
    assert module.sampling_rate == 48000


def test_clap_longer_waveforms_are_cropped():
    """The extractor crops at a random start; the module at the start (or centre): the same
    features as the extractor's on that crop."""
    extractor = clap_extractor()
    batch = waveforms(48000, 48000 * 10 + 4000, seed=4)
    start_crop = ClapFeatures.from_extractor(extractor)
    centre_crop = ClapFeatures.from_extractor(extractor, crop="center")
    expected = reference(extractor, batch[:, :480000], "input_features")
    assert_clap_close(start_crop(torch.from_numpy(batch)).numpy(), expected)
    expected = reference(extractor, batch[:, 2000:482000], "input_features")
    assert_clap_close(centre_crop(torch.from_numpy(batch)).numpy(), expected)

    is_longer = extractor(list(batch), sampling_rate=48000, return_tensors="np")["is_longer"]
    np.testing.assert_array_equal(start_crop.is_longer(torch.from_numpy(batch)).numpy(), is_longer)
    assert not start_crop.is_longer(torch.zeros(2, 480000)).any()

    random_crop = ClapFeatures.from_extractor(extractor, crop="random")
    ramp = torch.arange(480100, dtype=torch.float64).repeat(8, 1)
    crops = random_crop.fit_length(ramp)
    starts = crops[:, 0]
    assert crops.shape == (8, 480000) and starts.min() >= 0 and starts.max() <= 100
    assert len(set(starts.tolist())) > 1  # one offset per example
    torch.testing.assert_close(crops, starts[:, None] + torch.arange(480000, dtype=torch.float64))


def test_clap_fusion_is_refused():
    with pytest.raises(ValueError, match="truncation='rand_trunc'.*'fusion'"):
        ClapFeatures.from_extractor(transformers.ClapFeatureExtractor(truncation="fusion"))


# -- Shared --------------------------------------------------------------------------------------


MODULES = [
    lambda: ASTFeatures(max_length=16),
    lambda: WhisperFeatures.from_extractor(transformers.WhisperFeatureExtractor(chunk_length=1)),
    lambda: ClapFeatures.from_extractor(clap_extractor(max_length_s=1)),
]


@pytest.mark.parametrize("make", MODULES, ids=["ast", "whisper", "clap"])
def test_wrong_rank_is_refused(make):
    module = make()
    for shape in [(16000,), (2, 1, 16000), (2, 1, 1, 16000)]:
        with pytest.raises(ValueError, match=r"\[B, T\]"):
            module(torch.zeros(shape))


@pytest.mark.parametrize("make", MODULES, ids=["ast", "whisper", "clap"])
def test_float32_under_autocast_and_float64_input(make):
    module = make()
    x = torch.from_numpy(waveforms(module.sampling_rate, module.sampling_rate))
    plain = module(x)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        autocast = module(x)
    assert autocast.dtype == torch.float32
    torch.testing.assert_close(autocast, plain)
    assert module(x.double()).dtype == torch.float64
    assert module(x.half()).dtype == torch.float32


@pytest.mark.gpu
@pytest.mark.parametrize("make", MODULES, ids=["ast", "whisper", "clap"])
def test_cuda_matches_cpu(make):
    module = make()
    x = torch.from_numpy(waveforms(module.sampling_rate, module.sampling_rate))
    expected = module(x)
    out = module.to("cuda")(x.to("cuda"))
    assert out.device.type == "cuda"
    # cuFFT and the GPU's matmul round differently; log features near the floors move most.
    torch.testing.assert_close(out.cpu(), expected, rtol=0, atol=2e-3)
