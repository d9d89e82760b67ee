import pytest
import torch

from audiofsl.augmentations import Shift, TimeInversion


def test_time_inversion_reverses():
    x = torch.arange(10.0).repeat(2, 1)
    torch.testing.assert_close(TimeInversion(p=1.0)(x), x.flip(-1))


@pytest.mark.parametrize("mode", ["roll", "zero"])
def test_shift_matches_a_per_example_reference(mode):
    x = torch.randn(5, 100)
    shifts = torch.tensor([0, 7, -13, 99, -100])
    out = Shift(mode=mode).apply_params(x, {"shift": shifts})
    for row, s in zip(range(5), shifts.tolist(), strict=True):
        expected = torch.roll(x[row], s)
        if mode == "zero":
            if s > 0:
                expected[:s] = 0
            elif s < 0:
                expected[s:] = 0
        torch.testing.assert_close(out[row], expected)


def test_shift_units_give_the_drawn_number_of_samples():
    torch.manual_seed(0)
    x = torch.randn(400, 1000)
    fraction = Shift(-0.5, 0.5, p=1.0)
    fraction(x)
    shifts = fraction.last_params["shift"]
    assert shifts.min() >= -500 and shifts.max() <= 500 and shifts.float().std() > 200
    seconds = Shift(0.01, 0.02, unit="seconds", sample_rate=16000, p=1.0)
    seconds(x)
    assert seconds.last_params["shift"].min() >= 160 and seconds.last_params["shift"].max() <= 320
    samples = Shift(-3, 3, unit="samples", p=1.0)
    samples(x)
    assert set(samples.last_params["shift"].tolist()) == set(range(-3, 4))


def test_shift_forward_moves_an_impulse_by_the_drawn_shift():
    torch.manual_seed(1)
    x = torch.zeros(8, 64)
    x[:, 10] = 1.0
    shift = Shift(-5, 5, unit="samples", mode="zero", p=1.0)
    out = shift(x)
    assert torch.equal(out.argmax(dim=1), 10 + shift.last_params["shift"])


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"unit": "beats"}, "unit"),
        ({"mode": "wrap"}, "mode"),
        ({"unit": "seconds"}, "sample_rate"),
        ({"min_shift": 1, "max_shift": 0}, "min_shift"),
    ],
)
def test_shift_rejects_bad_settings(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Shift(**kwargs)
