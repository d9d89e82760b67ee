import pytest
import torch

from audiofsl.augmentations import SpliceOut, TimeMasking
from audiofsl.augmentations.masking import interval_mask, random_intervals


def reference_mask(starts, widths, length):
    mask = torch.zeros(starts.shape[0], length, dtype=torch.bool)
    for row in range(starts.shape[0]):
        for start, width in zip(starts[row].tolist(), widths[row].tolist(), strict=True):
            mask[row, start : start + width] = True
    return mask


def test_intervals_fit_and_cover_all_widths():
    torch.manual_seed(0)
    params = random_intervals(500, 3, 6, 40, torch.device("cpu"))
    starts, widths = params["starts"], params["widths"]
    assert set(widths.flatten().tolist()) == set(range(7))
    assert (starts >= 0).all() and (starts + widths <= 40).all()
    assert torch.equal(interval_mask(starts, widths, 40), reference_mask(starts, widths, 40))


def test_time_masking_zeroes_exactly_the_union_of_its_segments():
    torch.manual_seed(1)
    x = torch.randn(32, 1000) + 5.0  # no zero in the signal
    masking = TimeMasking(n_masks=5, max_fraction=0.05, p=1.0)
    out = masking(x)
    expected = reference_mask(masking.last_params["starts"], masking.last_params["widths"], 1000)
    assert torch.equal(out == 0, expected)
    assert torch.equal(out[~expected], x[~expected])
    assert masking.last_params["widths"].max() <= 50
    assert (expected.sum(1) <= 250).all() and expected.sum() > 0


def test_time_masking_fill_value_and_noise():
    x = torch.full((2, 400), 2.0)
    params = {"starts": torch.tensor([[100], [0]]), "widths": torch.tensor([[50], [400]])}
    out = TimeMasking(fill_value=-1.0).apply_params(x, params)
    assert (out[0, 100:150] == -1).all() and (out[0, :100] == 2).all() and (out[1] == -1).all()
    torch.manual_seed(0)
    noisy = TimeMasking(fill="noise").apply_params(x, params)
    segment = noisy[1]
    assert segment.std() == pytest.approx(2.0, rel=0.15)  # the example's RMS is 2
    assert (noisy[0, :100] == 2).all()


def splice_reference(x, starts, widths):
    keep = ~reference_mask(starts, widths, x.shape[1])
    out = torch.zeros_like(x)
    for row in range(x.shape[0]):
        kept = x[row, keep[row]]
        out[row, : kept.numel()] = kept
    return out, (~keep).sum(1)


def test_splice_out_removes_the_intervals_and_pads_with_the_removed_count():
    torch.manual_seed(2)
    x = torch.randn(16, 3000) + 10.0
    splice = SpliceOut(n_intervals=8, max_samples=120, p=1.0)
    out = splice(x)
    expected, removed = splice_reference(
        x, splice.last_params["starts"], splice.last_params["widths"]
    )
    torch.testing.assert_close(out, expected)
    trailing_zeros = (out == 0).sum(1)
    assert torch.equal(trailing_zeros, removed)
    assert (removed > 0).all() and (removed <= 8 * 120).all()


def test_splice_out_keeps_the_order_of_the_kept_samples():
    x = torch.arange(1.0, 21.0)[None]
    params = {"starts": torch.tensor([[2, 10]]), "widths": torch.tensor([[3, 4]])}
    out = SpliceOut().apply_params(x, params)
    expected = [1, 2, 6, 7, 8, 9, 10, 15, 16, 17, 18, 19, 20] + [0] * 7
    assert out[0].tolist() == expected


def test_splice_out_overlapping_intervals_remove_their_union():
    x = torch.arange(1.0, 11.0)[None]
    params = {"starts": torch.tensor([[2, 3]]), "widths": torch.tensor([[3, 3]])}
    assert SpliceOut().apply_params(x, params)[0].tolist() == [1, 2, 7, 8, 9, 10, 0, 0, 0, 0]


@pytest.mark.parametrize(
    "cls, kwargs, match",
    [
        (TimeMasking, {"n_masks": -1}, "n_masks"),
        (TimeMasking, {"max_fraction": 2}, "max_fraction"),
        (TimeMasking, {"fill": "mean"}, "fill"),
        (SpliceOut, {"n_intervals": 1.5}, "n_intervals"),
        (SpliceOut, {"max_samples": -4}, "max_samples"),
    ],
)
def test_rejects_bad_settings(cls, kwargs, match):
    with pytest.raises(ValueError, match=match):
        cls(**kwargs)
