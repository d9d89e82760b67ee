import math

import pytest
import torch

from audiofsl.data.audio_io import resample
from audiofsl.encoders.pretrained import DeviceResampler


@pytest.mark.parametrize(
    ("orig", "new"), [(16000, 32000), (44100, 16000), (16000, 48000), (22050, 16000), (8000, 16000)]
)
def test_matches_soxr_away_from_the_edges(orig, new):
    torch.manual_seed(0)
    t = torch.arange(orig) / orig
    tones = torch.sin(2 * math.pi * 440 * t) + 0.5 * torch.sin(2 * math.pi * 1000 * t)
    batch = torch.stack([tones, 0.3 * tones.roll(17)])
    out = DeviceResampler(orig, new)(batch)
    assert out.shape == (2, math.ceil(orig * new / orig))
    for row, wave in zip(out, batch, strict=True):
        reference = resample(wave, orig, new)
        # soxr's and ours differ only in the filter's transition band, far below this
        assert (row[200:-200] - reference[200:-200]).abs().max() < 2e-4


def test_downsampling_removes_what_the_new_rate_cannot_hold():
    orig, new = 48000, 16000
    t = torch.arange(orig) / orig
    above_nyquist = torch.sin(2 * math.pi * 11000 * t)[None]  # would alias to 5 kHz (-50 dB)
    out = DeviceResampler(orig, new)(above_nyquist)
    assert out[0, 200:-200].abs().max() < 5e-3  # soxr: 3.1e-3


def test_equal_rates_return_the_input_and_lengths_follow_the_ratio():
    x = torch.randn(3, 1001)
    assert DeviceResampler(16000, 16000)(x) is x
    assert DeviceResampler(16000, 32000)(x).shape == (3, 2002)
    assert DeviceResampler(32000, 16000)(x).shape == (3, 501)  # ceil(1001 / 2)


def test_bad_settings_and_inputs_are_refused():
    with pytest.raises(ValueError, match="positive"):
        DeviceResampler(0, 16000)
    with pytest.raises(ValueError, match=r"\[B, T\]"):
        DeviceResampler(16000, 32000)(torch.randn(100))
