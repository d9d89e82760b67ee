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
