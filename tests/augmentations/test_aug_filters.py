import math

import pytest
import torch
from aug_signals import SAMPLE_RATE, sine

from audiofsl.augmentations import BandPass, BandStop, HighPass, LowPass


def gain_db(transform, freq, params):
    """Gain (dB) of a filter applied with ``params`` to a sine, measured away from the edges."""
    n = len(next(iter(params.values())))
    x = sine(freq, n=8000, batch=n)
    out = transform.apply_params(x, params)
    middle = slice(2000, 6000)
    return 10 * torch.log10(out[:, middle].square().mean(-1) / x[:, middle].square().mean(-1))


def butterworth_db(x, order=4):
    return -10 * math.log10(1 + x ** (2 * order))


@pytest.mark.parametrize("cutoff", [300.0, 1000.0, 3000.0])
def test_low_pass_passes_below_and_attenuates_above_the_cutoff(cutoff):
    lp = LowPass(SAMPLE_RATE)
    params = {"cutoff_hz": torch.tensor([cutoff])}
    assert gain_db(lp, cutoff / 2, params).item() == pytest.approx(butterworth_db(0.5), abs=0.1)
    assert gain_db(lp, cutoff, params).item() == pytest.approx(-3.01, abs=0.1)
    assert gain_db(lp, cutoff * 2, params).item() == pytest.approx(butterworth_db(2), abs=0.3)
    assert gain_db(lp, cutoff * 2, params).item() < -23


@pytest.mark.parametrize("cutoff", [100.0, 800.0, 2000.0])
def test_high_pass_attenuates_below_and_passes_above_the_cutoff(cutoff):
    hp = HighPass(SAMPLE_RATE)
    params = {"cutoff_hz": torch.tensor([cutoff])}
    assert gain_db(hp, cutoff * 2, params).item() == pytest.approx(butterworth_db(0.5), abs=0.1)
    assert gain_db(hp, cutoff, params).item() == pytest.approx(-3.01, abs=0.1)
    assert gain_db(hp, cutoff / 2, params).item() < -23


def test_band_pass_and_band_stop_edges():
    center, bandwidth = 1000.0, 600.0
    edges = [-bandwidth / 2 + math.sqrt(bandwidth**2 / 4 + center**2)]
    edges.append(edges[0] + bandwidth)
    params = {"center_hz": torch.tensor([center]), "bandwidth_hz": torch.tensor([bandwidth])}
    bp, bs = BandPass(SAMPLE_RATE), BandStop(SAMPLE_RATE)
    assert gain_db(bp, center, params).item() == pytest.approx(0.0, abs=0.05)
    assert gain_db(bs, center, params).item() < -60
    for edge in edges:
        assert gain_db(bp, edge, params).item() == pytest.approx(-3.01, abs=0.15)
        assert gain_db(bs, edge, params).item() == pytest.approx(-3.01, abs=0.15)
    for far in (center / 4, center * 4):
        assert gain_db(bp, far, params).item() < -35
        assert gain_db(bs, far, params).item() == pytest.approx(0.0, abs=0.05)


def test_cutoffs_are_drawn_log_uniformly_per_example():
    torch.manual_seed(0)
    lp = LowPass(SAMPLE_RATE, 100, 6400, p=1.0)
    lp(torch.randn(4000, 600))
    log_cutoff = torch.log2(lp.last_params["cutoff_hz"] / 100)  # uniform on [0, 6]
    assert log_cutoff.min() >= 0 and log_cutoff.max() <= 6
    counts = torch.histc(log_cutoff, bins=6, min=0, max=6)
    assert (counts > 500).all()


def test_forward_filters_each_example_at_its_own_cutoff():
    torch.manual_seed(1)
    x = sine(1000, n=8000, batch=64)
    lp = LowPass(SAMPLE_RATE, 150, 7500, p=1.0)
    out = lp(x)
    cutoff = lp.last_params["cutoff_hz"]
    kept = out[:, 2000:6000].square().mean(-1) / x[:, 2000:6000].square().mean(-1)
    assert (kept[cutoff > 2000] > 0.99).all()
    assert (kept[cutoff < 500] < 0.01).all()


def test_no_delay_and_no_wraparound():
    """Zero phase: an impulse in the middle stays centred; nothing leaks to the far end."""
    x = torch.zeros(1, 4000)
    x[0, 2000] = 1.0
    out = HighPass(SAMPLE_RATE, 20, 2400).apply_params(x, {"cutoff_hz": torch.tensor([20.0])})
    assert out.abs().argmax() == 2000
    click_at_end = torch.zeros(1, 4000)
    click_at_end[0, -1] = 1.0
    out = LowPass(SAMPLE_RATE).apply_params(click_at_end, {"cutoff_hz": torch.tensor([150.0])})
    assert out[0, :1000].abs().max() < 1e-4 * out.abs().max()


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: LowPass(SAMPLE_RATE, 100, 9000), "Nyquist"),
        (lambda: HighPass(SAMPLE_RATE, 0, 100), "min_cutoff_hz"),
        (lambda: LowPass(SAMPLE_RATE, 500, 100), "min_cutoff_hz"),
        (lambda: BandPass(SAMPLE_RATE, max_center_hz=8000), "max_center_hz"),
        (lambda: BandStop(SAMPLE_RATE, min_bandwidth_fraction=0), "min_bandwidth_fraction"),
        (lambda: LowPass(0), "sample_rate"),
        (lambda: LowPass(SAMPLE_RATE, order=0), "order"),
    ],
)
def test_rejects_bad_settings(make, match):
    with pytest.raises(ValueError, match=match):
        make()
