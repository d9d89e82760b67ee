import pytest
import torch

from audiofsl.heads import ViewAttention, from_view_major


def test_from_view_major_layout():
    n_views, batch, dim = 3, 4, 2
    x = torch.randn(n_views * batch, dim)
    grouped = from_view_major(x, n_views)
    assert grouped.shape == (batch, n_views, dim)
    for b in range(batch):
        for v in range(n_views):
            assert torch.equal(grouped[b, v], x[v * batch + b])
    assert ViewAttention.from_view_major is from_view_major


def test_output_is_the_attended_views_concatenated():
    torch.manual_seed(0)
    module = ViewAttention(dim=16, n_views=4, n_heads=4, ffn_dim=32).eval()
    assert module.out_dim == 64
    x = torch.randn(5, 4, 16)
    out = module(x)
    assert out.shape == (5, 64)
    attended = module.layer(x)
    for v in range(4):
        torch.testing.assert_close(out[:, v * 16 : (v + 1) * 16], attended[:, v])
    flat = x.transpose(0, 1).reshape(20, 16)  # view-major
    torch.testing.assert_close(module(flat), out)


def test_clips_do_not_mix_and_views_are_permutation_equivariant():
    torch.manual_seed(1)
    module = ViewAttention(dim=8, n_views=3, n_heads=2, ffn_dim=16).eval()
    x = torch.randn(6, 3, 8)
    out = module(x).reshape(6, 3, 8)
    torch.testing.assert_close(module(x[2:3]).reshape(1, 3, 8), out[2:3])
    perm = torch.tensor([2, 0, 1])
    torch.testing.assert_close(module(x[:, perm]).reshape(6, 3, 8), out[:, perm])


def test_gradients_in_training_mode():
    torch.manual_seed(2)
    module = ViewAttention(dim=8, n_views=2, n_heads=2)
    x = torch.randn(12, 8, requires_grad=True)
    module(x).sum().backward()
    assert x.grad.abs().sum() > 0


def test_errors():
    with pytest.raises(ValueError, match="n_heads=3 must divide"):
        ViewAttention(dim=8, n_views=2, n_heads=3)
    with pytest.raises(ValueError, match="dropout"):
        ViewAttention(dim=8, n_views=2, n_heads=2, dropout=1.0)
    module = ViewAttention(dim=8, n_views=2, n_heads=2)
    with pytest.raises(ValueError, match="n_views=2"):
        module(torch.randn(4, 3, 8))
    with pytest.raises(ValueError, match="n_views=2"):
        module(torch.randn(5, 8))
