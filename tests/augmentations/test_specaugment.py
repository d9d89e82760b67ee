import pytest
import torch

from audiofsl.augmentations import SpecAugment, time_warp


def zero_runs(mask_1d: torch.Tensor) -> list[tuple[int, int]]:
    """(start, length) of the runs of True in a 1-d bool tensor."""
    runs, start = [], None
    for i, value in enumerate(mask_1d.tolist() + [False]):
        if value and start is None:
            start = i
        elif not value and start is not None:
            runs.append((start, i - start))
            start = None
    return runs


def masked_rows_and_cols(out: torch.Tensor):
    """For [B, 1, F, L] outputs of an all-ones input: fully zeroed freq rows / time cols."""
    zero = out[:, 0] == 0
    return zero.all(dim=2), zero.all(dim=1)  # [B, F], [B, L]


def test_shape_dtype_and_device_preserved():
    x = torch.randn(4, 2, 32, 50, dtype=torch.float64)
    out = SpecAugment()(x)
    assert out.shape == x.shape and out.dtype == x.dtype and out.device == x.device


def test_p_zero_is_identity():
    x = torch.randn(8, 1, 32, 40)
    torch.testing.assert_close(SpecAugment(p=0.0)(x), x)


@pytest.mark.parametrize("axis", ["freq", "time"])
def test_single_band_is_contiguous_bounded_and_covers_all_widths(axis):
    torch.manual_seed(0)
    param = 5
    if axis == "freq":
        aug = SpecAugment(freq_mask_param=param, time_mask_param=0)
    else:
        aug = SpecAugment(freq_mask_param=0, time_mask_param=param)
    out = aug(torch.ones(400, 1, 20, 30))
    rows, cols = masked_rows_and_cols(out)
    masked, other = (rows, cols) if axis == "freq" else (cols, rows)
    assert not other.any()
    assert ((out == 0) | (out == 1)).all()
    widths, starts = [], []
    for example in masked:
        runs = zero_runs(example)
        assert len(runs) <= 1
        widths.append(runs[0][1] if runs else 0)
        starts.extend(start for start, _ in runs)
    assert set(widths) == set(range(param + 1))  # widths uniform over {0, ..., param}
    assert len(set(starts)) > 10  # positions differ between examples


def test_p_one_masks_every_example_and_zero_regions_match_bands():
    torch.manual_seed(1)
    aug = SpecAugment(freq_mask_param=20, time_mask_param=20, n_freq_masks=3, n_time_masks=3)
    out = aug(torch.ones(32, 1, 40, 60))
    rows, cols = masked_rows_and_cols(out)
    expected = rows[:, :, None] | cols[:, None, :]
    assert torch.equal(out[:, 0] == 0, expected)  # zeros are exactly whole rows/cols
    assert (rows.sum(1) + cols.sum(1) > 0).all()
    assert (rows.sum(1) <= 3 * 20).all() and (cols.sum(1) <= 3 * 20).all()


def test_several_masks_give_several_bands():
    torch.manual_seed(2)
    aug = SpecAugment(freq_mask_param=3, time_mask_param=0, n_freq_masks=4)
    rows, _ = masked_rows_and_cols(aug(torch.ones(300, 1, 64, 8)))
    n_runs = [len(zero_runs(r)) for r in rows]
    assert max(n_runs) == 4  # fewer when bands overlap, touch or are empty
    assert (rows.sum(1) <= 4 * 3).all()


def test_probability_p_is_per_example():
    torch.manual_seed(3)
    aug = SpecAugment(freq_mask_param=30, time_mask_param=30, n_freq_masks=3, p=0.3)
    out = aug(torch.ones(2000, 1, 40, 40))
    augmented = (out == 0).flatten(1).any(1).float().mean().item()
    assert augmented == pytest.approx(0.3, abs=0.04)


def test_mask_value_and_channels_share_the_mask():
    torch.manual_seed(4)
    out = SpecAugment(freq_mask_param=8, time_mask_param=8, mask_value=-7.0)(
        torch.ones(6, 2, 16, 16)
    )
    assert ((out == -7.0) | (out == 1.0)).all()
    assert torch.equal(out[:, 0], out[:, 1])


def test_width_larger_than_axis_is_clamped():
    torch.manual_seed(5)
    out = SpecAugment(freq_mask_param=100, time_mask_param=0)(torch.ones(50, 1, 8, 10))
    assert out.shape == (50, 1, 8, 10)
    rows, _ = masked_rows_and_cols(out)
    assert rows.all(1).any()  # a width of 8 (the whole axis) occurs


def test_deterministic_under_manual_seed():
    x = torch.randn(16, 1, 32, 32)
    aug = SpecAugment(p=0.5)
    torch.manual_seed(7)
    first = aug(x)
    torch.manual_seed(7)
    assert torch.equal(aug(x), first)
    torch.manual_seed(8)
    assert not torch.equal(aug(x), first)


def test_random_draws_do_not_scale_with_batch_size(monkeypatch):
    calls = {"n": 0}
    for name in ("rand", "randint"):
        original = getattr(torch, name)

        def counted(*args, _original=original, **kwargs):
            calls["n"] += 1
            return _original(*args, **kwargs)

        monkeypatch.setattr(torch, name, counted)
    aug = SpecAugment(n_freq_masks=2, n_time_masks=2, p=0.5)
    counts = []
    for batch in (2, 64):
        calls["n"] = 0
        aug(torch.ones(batch, 1, 32, 32))
        counts.append(calls["n"])
    assert counts[0] == counts[1] > 0


@pytest.mark.parametrize(
    "kwargs", [{"freq_mask_param": -1}, {"n_time_masks": 1.5}, {"p": 1.5}, {"time_mask_param": -3}]
)
def test_rejects_bad_settings(kwargs):
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        SpecAugment(**kwargs)


def test_rejects_wrong_rank():
    with pytest.raises(ValueError, match=r"\[B, C, F, L\]"):
        SpecAugment()(torch.ones(2, 16, 16))


def reference_warp(features, center, distance):
    """Loop reference of the piecewise-linear time warp (one example at a time)."""
    n_time = features.shape[-1]
    end = n_time - 1
    out = torch.empty_like(features)
    for i in range(features.shape[0]):
        c, w = float(center[i]), float(distance[i])
        for j in range(n_time):
            src = j * c / (c + w) if j < c + w else c + (j - c - w) * (end - c) / (end - c - w)
            lo = min(int(src), n_time - 2)
            frac = src - lo
            out[i, ..., j] = (1 - frac) * features[i, ..., lo] + frac * features[i, ..., lo + 1]
    return out


def test_time_warp_matches_the_loop_reference_and_keeps_the_ends():
    torch.manual_seed(10)
    features = torch.randn(4, 2, 6, 40)
    center = torch.tensor([10.0, 20.0, 25.5, 30.0])
    distance = torch.tensor([3.0, -4.5, 0.0, 2.25])
    out = time_warp(features, center, distance)
    torch.testing.assert_close(out, reference_warp(features, center, distance))
    torch.testing.assert_close(out[..., 0], features[..., 0])
    torch.testing.assert_close(out[..., -1], features[..., -1])
    assert torch.equal(out[2], features[2])  # w = 0: unchanged


def test_time_warp_moves_the_centre_frame_to_centre_plus_distance():
    ramp = torch.arange(50.0).expand(3, 1, 1, 50)  # feature value = frame index
    out = time_warp(ramp, torch.tensor([20.0, 20.0, 30.0]), torch.tensor([5.0, -5.0, 8.0]))
    assert out[0, 0, 0, 25] == pytest.approx(20.0)
    assert out[1, 0, 0, 15] == pytest.approx(20.0)
    assert out[2, 0, 0, 38] == pytest.approx(30.0)
    assert (out[..., 1:] >= out[..., :-1]).all()  # monotone map


def test_specaugment_time_warp_is_per_example_and_follows_p():
    torch.manual_seed(11)
    ramp = torch.arange(60.0).expand(200, 1, 4, 60).contiguous()
    aug = SpecAugment(freq_mask_param=0, time_mask_param=0, time_warp=6, p=0.5)
    out = aug(ramp)
    warped = (out != ramp).flatten(1).any(1)
    assert warped.float().mean() == pytest.approx(0.5, abs=0.1)
    displacement = (out - ramp).abs().amax(dim=(1, 2, 3))
    assert displacement.max() <= 6 + 1e-4
    assert displacement[warped].unique().numel() > 50


def test_time_warp_skips_spectrograms_too_short_to_warp():
    x = torch.randn(2, 1, 8, 3)
    assert torch.equal(SpecAugment(0, 0, time_warp=5).warp(x), x)
    assert SpecAugment(0, 0, time_warp=5)(torch.randn(2, 1, 8, 6)).shape == (2, 1, 8, 6)
