"""Contract shared by every waveform augmentation: shapes, dtypes, probability, seeding."""

from __future__ import annotations

import pytest
import torch
from aug_signals import SAMPLE_RATE

import audiofsl.augmentations as A

FACTORIES = {
    "Gain": lambda f: A.Gain(-6, 6),
    "PolarityInversion": lambda f: A.PolarityInversion(),
    "TimeInversion": lambda f: A.TimeInversion(),
    "Shift": lambda f: A.Shift(-0.5, 0.5),
    "ShiftZero": lambda f: A.Shift(-0.1, 0.1, unit="seconds", mode="zero", sample_rate=SAMPLE_RATE),
    "Fade": lambda f: A.Fade(shapes=list(A.FADE_SHAPES)),
    "TimeMasking": lambda f: A.TimeMasking(3, 0.1, fill="noise"),
    "SpliceOut": lambda f: A.SpliceOut(4, 200),
    "ColoredNoise": lambda f: A.ColoredNoise(5, 20, min_decay=-2, max_decay=2),
    "BackgroundNoise": lambda f: A.BackgroundNoise(f["noise"], SAMPLE_RATE),
    "ImpulseResponse": lambda f: A.ImpulseResponse(f["ir"], SAMPLE_RATE),
    "LowPass": lambda f: A.LowPass(SAMPLE_RATE),
    "HighPass": lambda f: A.HighPass(SAMPLE_RATE),
    "BandPass": lambda f: A.BandPass(SAMPLE_RATE),
    "BandStop": lambda f: A.BandStop(SAMPLE_RATE),
    "TimeStretch": lambda f: A.TimeStretch(0.7, 1.4, fill="loop"),
    "PitchShift": lambda f: A.PitchShift(-5, 5),
}
#: Transforms whose parameters are all drawn (nothing without parameters).
WITH_PARAMS = sorted(set(FACTORIES) - {"PolarityInversion", "TimeInversion"})


@pytest.fixture
def folders(noise_folder, ir_folder):
    return {"noise": noise_folder, "ir": ir_folder}


def build(name, folders, p, device="cpu"):
    transform = FACTORIES[name](folders)
    transform.p = p
    return transform.to(device)


def batch(n=6, length=4000, device="cpu", dtype=torch.float32):
    generator = torch.Generator().manual_seed(1)
    return (0.3 * torch.randn(n, length, generator=generator)).to(device, dtype)


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_keeps_shape_dtype_device_and_is_finite(name, folders, device):
    for dtype in (torch.float32, torch.float64):
        x = batch(device=device, dtype=dtype)
        out = build(name, folders, 1.0, device)(x)
        assert out.shape == x.shape and out.dtype == dtype and out.device == x.device
        assert torch.isfinite(out).all()


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_p_zero_is_identity_and_p_one_applies_to_all(name, folders):
    x = batch()
    assert torch.equal(build(name, folders, 0.0)(x), x)
    transform = build(name, folders, 1.0)
    out = transform(x)
    assert transform.last_params["applied"].all()
    assert not torch.equal(out, x)


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_probability_is_per_example_and_unselected_rows_are_unchanged(name, folders):
    torch.manual_seed(0)
    x = batch(n=64)
    transform = build(name, folders, 0.5)
    out = transform(x)
    applied = transform.last_params["applied"]
    assert 16 < int(applied.sum()) < 48
    assert torch.equal(out[~applied], x[~applied])
    changed = (out != x).any(dim=1)
    assert changed[applied].float().mean() > 0.8  # (a drawn zero shift, say, changes nothing)


@pytest.mark.parametrize("name", WITH_PARAMS)
def test_parameters_differ_across_examples_and_repeat_under_a_seed(name, folders):
    x = batch(n=16)
    transform = build(name, folders, 1.0)
    torch.manual_seed(3)
    first = transform(x)
    params = {k: v.clone() for k, v in transform.last_params.items()}
    for key, value in params.items():
        if key != "applied":
            assert value.unique().numel() > 1, key
    torch.manual_seed(3)
    torch.testing.assert_close(transform(x), first, rtol=0, atol=0)
    torch.manual_seed(4)
    transform(x)
    assert any(not torch.equal(params[k], v) for k, v in transform.last_params.items())


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_forward_applies_the_drawn_parameters(name, folders):
    """With p=1, forward equals apply_params() with the parameters it reports (noise aside)."""
    x = batch()
    transform = build(name, folders, 1.0)
    torch.manual_seed(5)
    out = transform(x)
    params = {k: v for k, v in transform.last_params.items() if k != "applied"}
    if name in ("ColoredNoise", "TimeMasking"):  # they draw noise samples inside apply_params()
        return
    torch.testing.assert_close(transform.apply_params(x, params), out)


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_random_draws_do_not_depend_on_the_batch_size(name, folders, monkeypatch):
    calls = {"n": 0}
    for function in ("rand", "randint", "randn"):
        original = getattr(torch, function)

        def counted(*args, _original=original, **kwargs):
            calls["n"] += 1
            return _original(*args, **kwargs)

        monkeypatch.setattr(torch, function, counted)
    counts = []
    for n in (2, 40):
        calls["n"] = 0
        build(name, folders, 1.0)(batch(n=n))
        counts.append(calls["n"])
    assert counts[0] == counts[1] > 0


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_bfloat16_under_cpu_autocast_keeps_dtype_and_finiteness(name, folders):
    x = batch().to(torch.bfloat16)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = build(name, folders, 1.0)(x)
    assert out.dtype == torch.bfloat16 and out.shape == x.shape
    assert torch.isfinite(out.float()).all()


@pytest.mark.gpu
@pytest.mark.parametrize("name", ["PitchShift", "LowPass", "ColoredNoise", "SpliceOut"])
def test_cuda_half_autocast_matches_float32(name, folders):
    x = batch(device="cuda")
    transform = build(name, folders, 1.0, "cuda")
    torch.manual_seed(0)
    reference = transform(x)
    torch.manual_seed(0)
    with torch.autocast("cuda", dtype=torch.float16):
        out = transform(x.half())
    assert out.dtype == torch.float16
    if name != "ColoredNoise":  # same parameters, same maths in float32
        torch.testing.assert_close(out.float(), reference, atol=2e-2, rtol=0)


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_rejects_a_batch_that_is_not_b_by_t(name, folders):
    with pytest.raises(ValueError, match=r"\[B, T\]"):
        build(name, folders, 1.0)(torch.zeros(2, 1, 100))


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_rejects_a_probability_outside_0_1(name, folders):
    transform = FACTORIES[name](folders)
    kwargs = {"folder": folders["noise" if name == "BackgroundNoise" else "ir"]}
    with pytest.raises(ValueError, match=f"{type(transform).__name__} p must be"):
        if name in ("BackgroundNoise", "ImpulseResponse"):
            type(transform)(sample_rate=SAMPLE_RATE, p=1.5, **kwargs)
        elif hasattr(transform, "sample_rate") and name.endswith(("Pass", "Stop")):
            type(transform)(SAMPLE_RATE, p=1.5)
        else:
            type(transform)(p=1.5)


def test_module_apply_still_visits_submodules(folders):
    """``nn.Module.apply(fn)`` (used to initialise weights) works through a pipeline."""
    pipeline = A.AugmentationPipeline(
        waveform=[build(name, folders, 0.5) for name in FACTORIES] + [A.Mixup()],
        spectrogram=[A.SpecAugment(), A.OneOf([A.Gain()])],
    )
    visited = []
    pipeline.apply(visited.append)
    assert len(visited) > len(FACTORIES) + 3
