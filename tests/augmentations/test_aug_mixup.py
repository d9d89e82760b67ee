import pytest
import torch
import torch.nn.functional as F

from audiofsl.augmentations import Mixup


def test_mixup_is_the_convex_combination_with_the_permuted_partner():
    torch.manual_seed(0)
    x = torch.randn(32, 100)
    mixup = Mixup(alpha=0.4)
    out = mixup(x)
    lam, perm = mixup.last_params["lam"], mixup.last_params["permutation"]
    assert sorted(perm.tolist()) == list(range(32))
    torch.testing.assert_close(out, lam[:, None] * x + (1 - lam[:, None]) * x[perm])
    assert lam.min() >= 0 and lam.max() <= 1 and lam.unique().numel() == 32


def test_lambda_follows_the_beta_distribution():
    torch.manual_seed(1)
    mixup = Mixup(alpha=0.2)
    mixup(torch.zeros(20000, 1))
    lam = mixup.last_params["lam"]
    assert lam.mean() == pytest.approx(0.5, abs=0.02)
    # Beta(0.2, 0.2) puts most mass near 0 and 1; its variance is 1 / (4 (2 alpha + 1))
    assert lam.var() == pytest.approx(1 / (4 * 1.4), abs=0.01)


def test_mix_mixes_audio_and_labels_alike():
    torch.manual_seed(2)
    x = torch.randn(8, 50)
    labels = F.one_hot(torch.arange(8) % 3, 3).float()
    mixup = Mixup(alpha=1.0)
    audio, targets = mixup.mix(x, labels)
    lam, perm = mixup.last_params["lam"], mixup.last_params["permutation"]
    torch.testing.assert_close(targets, lam[:, None] * labels + (1 - lam[:, None]) * labels[perm])
    torch.testing.assert_close(targets.sum(1), torch.ones(8))
    torch.testing.assert_close(mixup.mix_labels(labels), targets)
    assert audio.shape == x.shape


def test_p_zero_keeps_the_batch_and_the_labels():
    x, labels = torch.randn(6, 20), torch.eye(6)
    audio, targets = Mixup(p=0.0).mix(x, labels)
    torch.testing.assert_close(audio, x)
    torch.testing.assert_close(targets, labels)


def test_works_on_spectrograms_keeps_dtype_and_device(device):
    x = torch.randn(4, 1, 8, 10, device=device).to(torch.bfloat16)
    out = Mixup()(x)
    assert out.shape == x.shape and out.dtype == torch.bfloat16 and out.device == x.device


def test_errors():
    with pytest.raises(ValueError, match="alpha"):
        Mixup(alpha=0)
    with pytest.raises(ValueError, match="p must be"):
        Mixup(p=2)
    with pytest.raises(RuntimeError, match="forward"):
        Mixup().mix_labels(torch.eye(2))
    with pytest.raises(ValueError, match="one-hot"):
        Mixup().mix(torch.randn(2, 5), torch.tensor([0, 1]))
