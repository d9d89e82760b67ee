import math

import librosa
import numpy as np
import pytest
import torch
from hydra.utils import instantiate

from audiofsl.frontends import CLARSpectrogram, LogMel, Waveform
from audiofsl.frontends.clar import log_spaced_frequencies
from audiofsl.runs.composition import build_method

SR = 16000


# ---------------------------------------------------------------- waveform


def test_waveform_is_a_one_bin_feature_map():
    frontend = Waveform()
    waves = torch.randn(2, 8000)
    out = frontend(waves)
    assert out.shape == (2, 1, 1, 8000) and out.dtype == torch.float32
    assert frontend.out_channels == 1 and frontend.n_features == 1
    torch.testing.assert_close(out[:, 0, 0], waves, rtol=0, atol=0)
    out.mul_(0.0)  # a copy: changing the features leaves the audio alone
    assert waves.abs().sum() > 0


def test_waveform_float32_under_autocast_and_per_example_normalisation():
    waves = 3.0 + 2.0 * torch.randn(2, 4000)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = Waveform()(waves.bfloat16())
    assert out.dtype == torch.float32
    standardised = Waveform(normalization="per_example")(waves)
    torch.testing.assert_close(standardised.mean(dim=-1), torch.zeros(2, 1, 1), atol=1e-5, rtol=0)
    torch.testing.assert_close(standardised.std(dim=-1), torch.ones(2, 1, 1), atol=1e-3, rtol=0)


# ---------------------------------------------------------------- COLA log-mel


def cola_reference(waves: torch.Tensor) -> torch.Tensor:
    """COLA's definition with librosa's filterbank, float64: |STFT| (400-sample periodic Hann
    window centred in a 1024-point frame, 160 hop, centred zero-padded frames) -> HTK mel
    filterbank without normalisation, 64 bins, 60-7800 Hz -> log(max(mel, 1e-5))."""
    window = torch.hann_window(400, periodic=True, dtype=torch.float64)
    window = torch.nn.functional.pad(window, (312, 312))  # centred in the 1024-point frame
    padded = torch.nn.functional.pad(waves.double(), (512, 512))
    magnitude = torch.stft(
        padded, 1024, 160, window=window, center=False, return_complex=True
    ).abs()  # [B, 513, L]
    fbank = librosa.filters.mel(
        sr=SR, n_fft=1024, n_mels=64, fmin=60.0, fmax=7800.0, htk=True, norm=None, dtype=np.float64
    )
    mel = torch.from_numpy(fbank) @ magnitude
    return torch.log(mel.clamp_min(1e-5))


def test_cola_log_mel_matches_a_direct_computation(compose_config):
    cfg = compose_config("train", ["frontend=cola_logmel"])
    frontend = instantiate(cfg.frontend)
    assert isinstance(frontend, LogMel)
    assert frontend.n_features == 64 and frontend.out_channels == 1
    torch.manual_seed(0)
    waves = 0.1 * torch.randn(2, SR // 2)
    waves[1, 2000:5000] = 0.0  # silence: the 1e-5 clip is active
    out = frontend(waves)
    assert out.shape == (2, 1, 64, (SR // 2) // 160 + 1)
    expected = cola_reference(waves).float()
    torch.testing.assert_close(out[:, 0], expected, rtol=1e-4, atol=1e-4)
    assert out.min() == pytest.approx(math.log(1e-5))


def test_log_scale_is_the_natural_log_of_the_same_spectrogram():
    torch.manual_seed(1)
    waves = torch.randn(2, 4000)
    db = LogMel(n_mels=40, amin=1e-5)(waves)
    natural = LogMel(n_mels=40, amin=1e-5, scale="log")(waves)
    torch.testing.assert_close(natural, db * math.log(10) / 10, rtol=1e-5, atol=1e-5)


def test_short_window_is_zero_padded_inside_the_frame():
    torch.manual_seed(2)
    waves = torch.randn(1, 3000)
    short = LogMel(n_fft=512, win_length=200, hop_length=100, n_mels=32)(waves)
    window = torch.hann_window(200)
    power = (
        torch.stft(
            torch.nn.functional.pad(waves, (256, 256)),
            512,
            100,
            200,
            window,
            center=False,
            return_complex=True,
        )
        .abs()
        .pow(2)
    )
    fbank = torch.from_numpy(librosa.filters.mel(sr=SR, n_fft=512, n_mels=32))
    expected = 10 * torch.log10((fbank @ power).clamp_min(1e-10))
    torch.testing.assert_close(short[:, 0], expected, rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"win_length": 2048}, "win_length"),
        ({"scale": "ln"}, "scale"),
        ({"scale": "log", "top_db": 80.0}, "top_db"),
    ],
)
def test_log_mel_rejects_bad_new_settings(kwargs, match):
    with pytest.raises(ValueError, match=match):
        LogMel(**kwargs)


# ---------------------------------------------------------------- CLAR


def clar_reference(wave: np.ndarray, f_min=40.0, f_max=8000.0, n_fft=2048, hop=128, bins=128):
    """CLAR's three channels by hand in float64 for one clip: zero-padded centred frames,
    periodic Hann window; the STFT as explicit sums at log-spaced frequencies."""
    padded = np.pad(wave.astype(np.float64), n_fft // 2)
    n_frames = 1 + (len(padded) - n_fft) // hop
    n = np.arange(n_fft)
    window = 0.5 - 0.5 * np.cos(2 * math.pi * n / n_fft)
    frames = np.stack([padded[m * hop : m * hop + n_fft] * window for m in range(n_frames)], 1)
    freqs = f_min * (f_max / f_min) ** (np.arange(bins) / bins)
    basis = np.exp(-2j * math.pi * freqs[:, None] * n[None, :] / SR)  # [bins, n_fft]
    stft = basis @ frames  # [bins, L]
    fbank = librosa.filters.mel(
        sr=SR, n_fft=n_fft, n_mels=bins, fmin=f_min, fmax=f_max, dtype=np.float64
    )
    mel = fbank @ np.abs(np.fft.rfft(frames, axis=0)) ** 2
    return (
        20 * np.log10(np.maximum(np.abs(stft), 1e-5)),
        stft,
        10 * np.log10(np.maximum(mel, 1e-5)),
    )


@pytest.fixture(scope="module")
def clar():
    return CLARSpectrogram()


def test_clar_channels_equal_their_definitions(clar):
    torch.manual_seed(3)
    waves = 0.1 * torch.randn(2, 6000)
    out = clar(waves)
    assert out.shape == (2, 3, 128, 6000 // 128 + 1) and out.dtype == torch.float32
    assert clar.out_channels == 3 and clar.n_features == 128
    for i in range(2):
        magnitude, stft, mel = clar_reference(waves[i].numpy())
        np.testing.assert_allclose(out[i, 0].numpy(), magnitude, rtol=1e-4, atol=1e-3)
        np.testing.assert_allclose(out[i, 2].numpy(), mel, rtol=1e-4, atol=1e-3)
        # Phase: compare on the unit circle (no wrap-around at +-pi), where |X| is not tiny.
        phase = torch.from_numpy(np.angle(stft))
        reliable = torch.from_numpy(np.abs(stft) > 1e-2)
        assert reliable.float().mean() > 0.9
        unit = torch.polar(torch.ones_like(phase), phase)
        ours = torch.polar(torch.ones_like(phase), out[i, 1].double())
        assert (ours - unit).abs()[reliable].max() < 1e-3
        assert out[i, 1].abs().max() <= math.pi


def test_clar_frequencies_are_log_spaced_and_match_torch_stft_on_a_dft_bin():
    bin_width = SR / 2048  # 7.8125 Hz: 62.5 Hz is DFT bin 8
    frontend = CLARSpectrogram(f_min=8 * bin_width, f_max=8000.0)
    freqs = log_spaced_frequencies(8 * bin_width, 8000.0, 128)
    torch.testing.assert_close(frontend.frequencies, freqs.float())
    assert freqs[0] == 62.5 and freqs[-1] < 8000.0
    ratios = freqs[1:] / freqs[:-1]
    torch.testing.assert_close(ratios, torch.full_like(ratios, ratios[0].item()))
    torch.testing.assert_close(ratios[0] ** 128, torch.tensor(8000.0 / 62.5, dtype=torch.float64))
    torch.manual_seed(4)
    waves = torch.randn(2, 5000)
    out = frontend(waves)
    stft = torch.stft(
        waves,
        2048,
        128,
        window=torch.hann_window(2048),
        center=True,
        pad_mode="constant",
        return_complex=True,
    )[:, 8]  # [B, L]
    expected_magnitude = 20 * torch.log10(stft.abs().clamp_min(1e-5))
    torch.testing.assert_close(out[:, 0, 0], expected_magnitude, rtol=1e-4, atol=1e-3)
    torch.testing.assert_close(
        torch.polar(torch.ones_like(out[:, 1, 0]), out[:, 1, 0]),
        torch.polar(torch.ones_like(out[:, 1, 0]), stft.angle()),
        rtol=0,
        atol=1e-3,
    )


def test_clar_under_autocast_is_float32_and_unchanged(clar):
    torch.manual_seed(5)
    waves = torch.randn(2, 4000)
    reference = clar(waves)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = clar(waves)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, reference, rtol=0, atol=0)


def test_clar_options_keep_the_shape(clar):
    waves = torch.randn(2, 4000)
    expected = (2, 3, 128, 4000 // 128 + 1)
    assert CLARSpectrogram(win_length=256)(waves).shape == expected  # the paper's 16 ms
    reflect = CLARSpectrogram(pad_mode="reflect")(waves)
    assert reflect.shape == expected
    middle = slice(10, 20)  # frames away from the padded edges agree
    torch.testing.assert_close(reflect[..., middle], clar(waves)[..., middle])
    assert CLARSpectrogram(n_bins=64)(waves).shape == (2, 3, 64, 4000 // 128 + 1)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"f_max": 9000.0}, "f_max"),
        ({"f_min": 8000.0}, "f_min"),
        ({"win_length": 4096}, "win_length"),
        ({"pad_mode": "circular"}, "pad_mode"),
        ({"n_bins": 0}, "n_bins"),
    ],
)
def test_clar_rejects_bad_settings(kwargs, match):
    with pytest.raises(ValueError, match=match):
        CLARSpectrogram(**kwargs)


# ---------------------------------------------------------------- configs


@pytest.mark.parametrize(
    ("encoder", "frontend", "in_channels"),
    [
        ("efficientnet_b0", "cola_logmel", 1),
        ("resnet18", "clar", 3),
        ("resnet1d18", "waveform", 1),
        ("efficientnet_b0", "clar", 3),
        ("resnet1d18", "mfcc", 1),
    ],
)
def test_configs_compose_and_build_with_each_frontend(
    compose_config, encoder, frontend, in_channels
):
    cfg = compose_config("train", [f"encoder={encoder}", f"frontend={frontend}"])
    method = build_method(cfg)  # builds the frontend, then the encoder sized by ${part:...}
    features = method.frontend(torch.randn(2, SR // 2))
    assert features.shape[:3] == (2, method.frontend.out_channels, method.frontend.n_features)
    assert method.frontend.out_channels == in_channels
    method.encoder.eval()
    with torch.no_grad():
        embeddings = method.encoder(features)
        feature_map = method.encoder.forward_features(features)
    assert embeddings.shape == (2, method.encoder.out_dim)
    assert feature_map.dim() == 4 and feature_map.shape[1] == method.encoder.feature_channels
    stored = method.run_config["encoder"]
    assert stored["in_channels"] == in_channels  # resolved from the frontend
    if "n_features" in stored:
        assert stored["n_features"] == method.frontend.n_features
