import pytest
import torch
from aug_signals import SAMPLE_RATE, peak_frequency, sine

from audiofsl.augmentations import PitchShift, TimeStretch


@pytest.mark.parametrize("freq", [220.0, 440.0, 1000.0])
def test_pitch_shift_moves_a_sine_by_the_semitone_ratio(freq):
    semitones = torch.tensor([-12.0, -5.0, -1.0, 0.0, 2.5, 7.0, 12.0])
    x = sine(freq, batch=len(semitones))
    out = PitchShift().apply_params(x, {"semitones": semitones})
    expected = freq * 2 ** (semitones / 12)
    measured = peak_frequency(out[:, 1000:-1000])
    assert ((measured / expected) - 1).abs().max() < 0.004
    level = out[:, 1000:-1000].square().mean(-1) / x[:, 1000:-1000].square().mean(-1)
    assert (level > 0.7).all() and (level < 1.2).all()


def test_pitch_shift_moves_every_harmonic_and_keeps_length():
    x = sine(200) + sine(600) + sine(1400)
    out = PitchShift().apply_params(x, {"semitones": torch.tensor([4.0])})
    assert out.shape == x.shape
    spectrum = torch.fft.rfft(out[0, 2000:-2000] * torch.hann_window(12000)).abs()
    freqs = torch.fft.rfftfreq(12000, 1 / SAMPLE_RATE)
    ratio = 2 ** (4 / 12)
    for f in (200, 600, 1400):
        near = (freqs - f * ratio).abs() < 10
        old = (freqs - f).abs() < 10
        assert spectrum[near].max() > 20 * spectrum[old].max()


def test_pitch_shift_up_does_not_alias():
    x = sine(7000)
    out = PitchShift().apply_params(x, {"semitones": torch.tensor([5.0])})  # 9.35 kHz > Nyquist
    assert out.square().mean() < 1e-3 * x.square().mean()


def test_pitch_shift_zero_semitones_is_identity():
    x = torch.randn(2, 8000)
    out = PitchShift().apply_params(x, {"semitones": torch.tensor([0.0, 0.0])})
    torch.testing.assert_close(out, x, atol=2e-3, rtol=0)  # float32 phase accumulation


def click_times(out, expected_times, window=160):
    """Position of the largest sample near each expected click, per expected click."""
    times = []
    for t in expected_times:
        lo = max(int(t) - window, 0)
        segment = out[lo : int(t) + window].abs()
        times.append(lo + int(segment.argmax()))
    return torch.tensor(times, dtype=torch.float64)


@pytest.mark.parametrize("rate", [0.6, 0.8, 1.25, 1.6])
def test_time_stretch_moves_the_clicks_of_a_click_train(rate):
    length, period, first = 2 * SAMPLE_RATE, 1600, 800
    x = torch.zeros(1, length)
    x[0, first::period] = 1.0
    out = TimeStretch().apply_params(x, {"rate": torch.tensor([rate])})[0]
    clicks = first + period * torch.arange((length - first) // period + 1, dtype=torch.float64)
    expected = clicks / rate
    expected = expected[expected < length - 400]
    measured = click_times(out, expected)
    spacing = (measured[-1] - measured[0]) / (len(measured) - 1)
    assert spacing == pytest.approx(period / rate, rel=0.02)
    assert (measured - expected).abs().max() < 160  # within about one hop
    # the energy sits at the clicks: little between them
    near = torch.zeros(length, dtype=torch.bool)
    for t in expected.long().tolist():
        near[max(t - 320, 0) : t + 320] = True
    assert out[near].square().sum() > 0.95 * out.square().sum()


def test_time_stretch_keeps_the_pitch_of_a_sine():
    rates = torch.tensor([0.5, 0.9, 1.1, 1.5])
    out = TimeStretch(fill="loop").apply_params(sine(440, batch=4), {"rate": rates})
    measured = peak_frequency(out[:, 1000:6000])
    assert ((measured / 440) - 1).abs().max() < 0.003


def test_time_stretch_fill_zero_or_loop():
    x = sine(440, n=16000, batch=1) + 0.0
    rate = torch.tensor([2.0])
    zero = TimeStretch(fill="zero").apply_params(x, {"rate": rate})[0]
    loop = TimeStretch(fill="loop").apply_params(x, {"rate": rate})[0]
    assert zero[8600:].abs().max() < 1e-3  # the stretched clip lasts 8000 samples
    assert zero[1000:7000].abs().max() > 0.45
    assert loop[9000:15000].abs().max() > 0.45 and loop[9000:15000].abs().min() < 0.05
    torch.testing.assert_close(zero[:7000], loop[:7000], atol=1e-4, rtol=0)


def test_time_stretch_rate_one_is_identity():
    x = torch.randn(3, 5000)
    out = TimeStretch().apply_params(x, {"rate": torch.ones(3)})
    torch.testing.assert_close(out, x, atol=2e-3, rtol=0)  # float32 phase accumulation


def test_rates_and_semitones_are_drawn_in_their_ranges():
    torch.manual_seed(0)
    x = torch.randn(64, 2000)
    stretch = TimeStretch(0.5, 1.5, p=1.0)
    stretch(x)
    rate = stretch.last_params["rate"]
    assert rate.min() >= 0.5 and rate.max() <= 1.5 and rate.std() > 0.2
    shift = PitchShift(-15, 15, p=1.0)
    out = shift(x)
    assert torch.isfinite(out).all()
    s = shift.last_params["semitones"]
    assert s.min() >= -15 and s.max() <= 15 and s.std() > 5


def test_short_clip_error_names_the_setting():
    with pytest.raises(ValueError, match="hop_length"):
        TimeStretch(p=1.0)(torch.randn(2, 100))


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: TimeStretch(0, 1), "min_rate"),
        (lambda: TimeStretch(fill="reflect"), "fill"),
        (lambda: PitchShift(3, -3), "min_semitones"),
        (lambda: PitchShift(n_fft=2), "n_fft"),
        (lambda: PitchShift(n_fft=512, hop_length=400), "hop_length"),
    ],
)
def test_rejects_bad_settings(make, match):
    with pytest.raises(ValueError, match=match):
        make()
