import pytest
import torch

from audiofsl.heads import LinearHead


def test_linear_head_is_an_affine_map():
    torch.manual_seed(0)
    head = LinearHead(in_dim=6, n_classes=4)
    x = torch.randn(3, 6)
    out = head(x)
    assert out.shape == (3, 4)
    weight, bias = head.linear.weight, head.linear.bias
    for i in range(3):
        for c in range(4):
            expected = sum(x[i, d] * weight[c, d] for d in range(6)) + bias[c]
            torch.testing.assert_close(out[i, c], expected)


def test_linear_head_errors():
    with pytest.raises(ValueError, match="in_dim"):
        LinearHead(in_dim=0, n_classes=3)
    with pytest.raises(ValueError, match="out_dim"):
        LinearHead(in_dim=6, n_classes=3)(torch.randn(2, 5))


def test_pre_activation_is_clar_batch_norm_relu_then_linear():
    import torch

    from audiofsl.heads import LinearHead

    torch.manual_seed(0)
    head = LinearHead(6, 3, pre_activation=True).train()
    x = torch.randn(8, 6)
    normalised = (x - x.mean(0)) / torch.sqrt(x.var(0, unbiased=False) + 1e-5)
    expected = head.linear(normalised.clamp_min(0))
    assert torch.allclose(head(x), expected, atol=1e-5)
    assert not isinstance(LinearHead(6, 3).pre, torch.nn.Sequential)
