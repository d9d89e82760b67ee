import pytest
import torch

from audiofsl.frontends import MFCC, FeatureNormalization, LogMel


def test_per_example_standardises_each_example():
    torch.manual_seed(0)
    waves = torch.randn(3, 4000) * torch.tensor([[1.0], [0.01], [5.0]])
    out = LogMel(normalization="per_example")(waves)
    raw = LogMel()(waves)
    for i in range(3):
        x = raw[i, 0]
        expected = (x - x.mean()) / x.std(unbiased=False)
        torch.testing.assert_close(out[i, 0], expected, rtol=1e-4, atol=1e-4)
        assert abs(out[i].mean().item()) < 1e-4
        assert out[i].std(unbiased=False).item() == pytest.approx(1.0, abs=1e-4)


def test_per_example_is_per_channel_and_safe_on_constant_input():
    norm = FeatureNormalization("per_example")
    x = torch.stack([torch.full((4, 5), 3.0), torch.arange(20.0).view(4, 5)]).unsqueeze(0)
    out = norm(x)
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out[0, 0], torch.zeros(4, 5))
    assert out[0, 1].mean().abs() < 1e-5


def test_global_requires_fitting():
    frontend = LogMel(normalization="global")
    assert frontend.needs_fitting
    with pytest.raises(RuntimeError, match="fit_normalization"):
        frontend(torch.randn(2, 2000))


def test_global_fit_matches_statistics_of_all_features():
    torch.manual_seed(1)
    batches = [torch.randn(3, 3000), 0.1 * torch.randn(5, 3000), {"audio": torch.randn(2, 3000)}]
    frontend = MFCC(normalization="global")
    mean, std = frontend.fit_normalization(batches)
    raw = torch.cat(
        [frontend.compute_features(b["audio"] if isinstance(b, dict) else b) for b in batches]
    ).double()
    assert mean == pytest.approx(raw.mean().item(), rel=1e-6)
    assert std == pytest.approx(raw.std(unbiased=False).item(), rel=1e-6)
    assert not frontend.needs_fitting
    x = torch.randn(2, 3000)
    expected = (frontend.compute_features(x) - mean) / std
    torch.testing.assert_close(frontend(x), expected, rtol=1e-5, atol=1e-5)


def test_global_statistics_are_saved_in_state_dict():
    frontend = LogMel(normalization="global")
    frontend.fit_normalization([torch.randn(4, 2000)])
    state = frontend.state_dict()
    for key in ("normalization.mean", "normalization.std", "normalization.fitted"):
        assert key in state
    restored = LogMel(normalization="global")
    restored.load_state_dict(state)
    assert not restored.needs_fitting
    x = torch.randn(2, 2000)
    torch.testing.assert_close(restored(x), frontend(x))


def test_update_is_numerically_stable_with_a_large_offset():
    torch.manual_seed(2)
    norm = FeatureNormalization("global")
    chunks = [1e4 + torch.randn(n, 1, 8, 8) for n in (1, 7, 30)]
    for chunk in chunks:
        norm.update(chunk)
    mean, std = norm.finalize()
    everything = torch.cat(chunks).double()
    assert mean == pytest.approx(everything.mean().item(), rel=1e-7)  # float32 buffer
    assert std == pytest.approx(everything.std(unbiased=False).item(), rel=1e-4)


def test_errors():
    with pytest.raises(ValueError, match="normalization"):
        FeatureNormalization("batch")
    with pytest.raises(RuntimeError, match="update"):
        FeatureNormalization("global").finalize()
    with pytest.raises(ValueError, match="no waveforms"):
        LogMel(normalization="global").fit_normalization([])
