import math

import pytest
import torch

from audiofsl.augmentations import FADE_SHAPES, Fade, Gain, PolarityInversion


def rms_db(x):
    return 20 * torch.log10(x.square().mean(dim=-1).sqrt())


def test_gain_moves_rms_by_exactly_the_drawn_decibels():
    torch.manual_seed(0)
    x = torch.randn(32, 2000)
    gain = Gain(-12, 6, p=1.0)
    out = gain(x)
    drawn = gain.last_params["gain_db"]
    torch.testing.assert_close(rms_db(out) - rms_db(x), drawn, atol=1e-4, rtol=0)
    assert drawn.min() >= -12 and drawn.max() <= 6 and drawn.std() > 3


def test_gain_apply_with_chosen_parameters():
    x = torch.ones(3, 10)
    out = Gain().apply_params(x, {"gain_db": torch.tensor([0.0, 20.0, -6.0206])})
    torch.testing.assert_close(out[:, 0], torch.tensor([1.0, 10.0, 0.5]), atol=1e-4, rtol=0)


def test_polarity_inversion_negates():
    x = torch.randn(4, 50)
    torch.testing.assert_close(PolarityInversion(p=1.0)(x), -x)


@pytest.mark.parametrize("shape", sorted(FADE_SHAPES))
def test_fade_curves_rise_from_zero_to_one(shape):
    u = torch.linspace(0, 1, 101)
    g = FADE_SHAPES[shape](u)
    assert g[0].abs() < 1e-6 and (g[-1] - 1).abs() < 1e-6
    assert (g[1:] - g[:-1] >= -1e-7).all()


def test_fade_shapes_have_their_curvature():
    u = torch.tensor([0.5])
    values = {name: float(curve(u)) for name, curve in FADE_SHAPES.items()}
    assert values["linear"] == pytest.approx(0.5)
    assert values["logarithmic"] > values["quarter_sine"] > 0.5  # fast rise
    assert values["exponential"] < 0.5  # slow rise
    assert values["half_sine"] == pytest.approx(0.5)
    assert values["quarter_sine"] == pytest.approx(math.sin(math.pi / 4))


def test_fade_envelope_has_the_drawn_lengths():
    x = torch.ones(3, 1000)
    params = {
        "fade_in": torch.tensor([100, 0, 500]),
        "fade_out": torch.tensor([0, 250, 500]),
        "shape": torch.tensor([0, 0, 0]),
    }
    out = Fade(shapes="linear").apply_params(x, params)
    t = torch.arange(1000.0)
    torch.testing.assert_close(out[0, :100], t[:100] / 100)
    assert (out[0, 100:] == 1).all()
    assert (out[1, :750] == 1).all()
    torch.testing.assert_close(out[1, 750:], (999 - t[750:]) / 250)
    assert out[2].max() <= 1 and out[2, 0] == 0 and out[2, -1] == 0  # overlapping fades: min


def test_fade_shape_is_drawn_per_example():
    torch.manual_seed(0)
    fade = Fade(0.5, 0.5, shapes=["linear", "exponential"], p=1.0)
    out = fade(torch.ones(200, 100))
    shape = fade.last_params["shape"]
    assert set(shape.tolist()) == {0, 1}
    lengths = fade.last_params["fade_in"]
    assert lengths.max() <= 50 and lengths.unique().numel() > 10
    # at the fade-in's middle, linear gives 0.5 and exponential less
    rows = torch.arange(200)[lengths >= 10]
    middle = out[rows, lengths[rows] // 2]
    linear = shape[rows] == 0
    assert (middle[linear] - 0.5).abs().max() < 0.06
    assert (middle[~linear] < 0.4).all()


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"min_gain_db": 3, "max_gain_db": -3}, "min_gain_db"),
    ],
)
def test_gain_rejects_bad_settings(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Gain(**kwargs)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"max_fade_in": 1.5}, "max_fade_in"),
        ({"shapes": ["cubic"]}, "shapes"),
        ({"shapes": []}, "shapes"),
    ],
)
def test_fade_rejects_bad_settings(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Fade(**kwargs)
