import math

import pytest
import torch
from aug_signals import SAMPLE_RATE, sine, write_wav

from audiofsl.augmentations import NOISE_COLORS, BackgroundNoise, ColoredNoise
from audiofsl.augmentations.noise import colored_noise


def snr_db(clean, noisy):
    noise = noisy - clean
    return 10 * torch.log10(clean.square().mean(-1) / noise.square().mean(-1))


def spectral_slope(noise):
    """Least-squares slope of log power against log frequency (Welch-averaged), per row."""
    frames = noise.unfold(-1, 1024, 512) * torch.hann_window(1024)
    power = torch.fft.rfft(frames).abs().square().mean(dim=-2)  # [N, 513]
    bins = torch.arange(4, 500)  # away from DC and Nyquist
    log_f = torch.log10(bins.double())
    log_p = torch.log10(power[:, bins].double())
    centred = log_f - log_f.mean()
    return ((log_p - log_p.mean(-1, keepdim=True)) * centred).sum(-1) / centred.square().sum()


def test_noise_has_the_drawn_snr():
    torch.manual_seed(0)
    clean = sine(440, batch=32) * torch.linspace(0.1, 2.0, 32)[:, None]
    noise = ColoredNoise(0, 30, min_decay=-2, max_decay=2, p=1.0)
    out = noise(clean)
    torch.testing.assert_close(
        snr_db(clean, out).float(), noise.last_params["snr_db"], atol=1e-3, rtol=0
    )


@pytest.mark.parametrize("color", ["white", "pink", "brown", "blue"])
def test_named_colours_have_their_spectral_slope(color):
    torch.manual_seed(1)
    noise = colored_noise(torch.full((8,), NOISE_COLORS[color]), 32768)
    slope = spectral_slope(noise)
    assert (slope + NOISE_COLORS[color]).abs().max() < 0.1
    torch.testing.assert_close(noise.square().mean(-1), torch.ones(8), atol=1e-4, rtol=0)


def test_drawn_decays_give_matching_slopes():
    torch.manual_seed(2)
    clean = torch.zeros(16, 32768)
    clean[:, ::64] = 1.0  # a click train: flat spectrum, defines the noise power
    noise = ColoredNoise(10, 10, min_decay=-2, max_decay=2, p=1.0)
    out = noise(clean)
    decay = noise.last_params["decay"].double()
    assert decay.std() > 0.5
    slope = spectral_slope(out - clean)
    assert (slope + decay).abs().max() < 0.12


def test_colour_and_decay_settings():
    assert ColoredNoise(color="pink").min_decay == ColoredNoise(color="pink").max_decay == 1.0
    assert ColoredNoise().min_decay == ColoredNoise().max_decay == 0.0
    with pytest.raises(ValueError, match="color"):
        ColoredNoise(color="green")
    with pytest.raises(ValueError, match="min_decay"):
        ColoredNoise(color="pink", min_decay=0.0)
    with pytest.raises(ValueError, match="min_snr_db"):
        ColoredNoise(20, 10)


def test_silent_examples_stay_silent():
    out = ColoredNoise(p=1.0)(torch.zeros(3, 1000))
    assert torch.equal(out, torch.zeros(3, 1000))


def test_background_noise_loads_the_folder_once(noise_folder):
    noise = BackgroundNoise(noise_folder, SAMPLE_RATE)
    assert noise.lengths.tolist() == [4000, 8000, 24000]  # a.wav, b.flac, sub/c.wav; hidden skipped
    assert "clips" not in noise.state_dict()


def test_background_noise_excerpts_loop_short_clips(noise_folder):
    noise = BackgroundNoise(noise_folder, SAMPLE_RATE)
    clip = torch.tensor([0, 1, 2])
    offset = torch.tensor([3900, 10, 23000])
    excerpts = noise.excerpts(clip, offset, 10000)
    for row in range(3):
        start, length = int(noise.starts[clip[row]]), int(noise.lengths[clip[row]])
        source = noise.clips[start : start + length]
        index = (offset[row] + torch.arange(10000)) % length
        torch.testing.assert_close(excerpts[row], source[index])


def test_background_noise_has_the_drawn_snr_and_clip(noise_folder):
    torch.manual_seed(3)
    clean = sine(300, n=8000, batch=24)
    noise = BackgroundNoise(noise_folder, SAMPLE_RATE, 5, 25, p=1.0)
    out = noise(clean)
    params = noise.last_params
    torch.testing.assert_close(snr_db(clean, out).float(), params["snr_db"], atol=1e-3, rtol=0)
    assert set(params["clip"].tolist()) == {0, 1, 2}
    assert (params["offset"] < noise.lengths[params["clip"]]).all()
    direction = out - clean
    expected = noise.excerpts(params["clip"], params["offset"], 8000)
    cosine = torch.nn.functional.cosine_similarity(direction, expected, dim=-1)
    assert (cosine > 0.9999).all()


def test_background_noise_resamples_other_rates(tmp_path):
    write_wav(tmp_path / "n.wav", torch.randn(8000), sample_rate=8000)
    assert BackgroundNoise(tmp_path, SAMPLE_RATE).lengths.tolist() == [16000]


def test_background_noise_errors_name_the_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing"):
        BackgroundNoise(tmp_path / "missing", SAMPLE_RATE)
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.txt").write_text("x")
    with pytest.raises(ValueError, match=r"BackgroundNoise: folder '.*empty' holds no audio"):
        BackgroundNoise(tmp_path / "empty", SAMPLE_RATE)
    write_wav(tmp_path / "silent" / "s.wav", torch.zeros(0))
    with pytest.raises(ValueError, match="empty"):
        BackgroundNoise(tmp_path / "silent", SAMPLE_RATE)


def test_noise_buffers_follow_the_module(noise_folder, device):
    noise = BackgroundNoise(noise_folder, SAMPLE_RATE, p=1.0).to(device)
    assert noise.clips.device.type == device.type
    out = noise(torch.randn(4, 3000, device=device))
    assert out.device.type == device.type and torch.isfinite(out).all()
    assert math.isfinite(float(ColoredNoise(p=1.0).to(device)(out).sum()))
