import math

import pytest
import torch

from audiofsl.heads import BilinearSimilarity, CosineSimilarity


def loop_bilinear(a, b, weight):
    """s[i][j] = sum_k sum_l a[i][k] W[k][l] b[j][l]."""
    a, b, w = a.double().tolist(), b.double().tolist(), weight.double().tolist()
    dim = len(w)
    return [
        [sum(ai[k] * w[k][l] * bj[l] for k in range(dim) for l in range(dim)) for bj in b]
        for ai in a
    ]


def loop_cosine(a, b, temperature):
    def norm(u):
        return math.sqrt(sum(x * x for x in u))

    a, b = a.double().tolist(), b.double().tolist()
    return [
        [
            sum(x * y for x, y in zip(ai, bj, strict=True)) / (norm(ai) * norm(bj)) / temperature
            for bj in b
        ]
        for ai in a
    ]


@pytest.mark.parametrize("init", ["normal", "identity", "xavier"])
def test_bilinear_matches_loop_reference(init):
    torch.manual_seed(0)
    head = BilinearSimilarity(5, init=init)
    a, b = torch.randn(3, 5), torch.randn(4, 5)
    out = head(a, b)
    assert out.shape == (3, 4)
    torch.testing.assert_close(
        out, torch.tensor(loop_bilinear(a, b, head.weight), dtype=torch.float32)
    )


def test_bilinear_inits():
    torch.manual_seed(1)
    torch.testing.assert_close(BilinearSimilarity(6, init="identity").weight.detach(), torch.eye(6))
    a, b = torch.randn(3, 6), torch.randn(2, 6)
    torch.testing.assert_close(BilinearSimilarity(6, init="identity")(a, b), a @ b.T)
    normal = BilinearSimilarity(256).weight.detach()  # Keras random_normal: N(0, 0.05^2)
    assert normal.mean().abs() < 0.005 and abs(normal.std().item() - 0.05) < 0.002
    bound = math.sqrt(6 / (2 * 256))
    xavier = BilinearSimilarity(256, init="xavier").weight.detach()
    assert xavier.abs().max() <= bound and xavier.abs().max() > 0.9 * bound


def test_bilinear_weight_is_trained():
    head = BilinearSimilarity(4)
    a = torch.randn(3, 4, requires_grad=True)
    head(a, torch.randn(5, 4)).sum().backward()
    assert head.weight.grad is not None and head.weight.grad.abs().sum() > 0
    assert a.grad is not None


@pytest.mark.parametrize("temperature", [0.1, 1.0])
def test_cosine_matches_loop_reference(temperature):
    torch.manual_seed(2)
    a, b = 3 * torch.randn(4, 6), torch.randn(2, 6)
    out = CosineSimilarity(temperature)(a, b)
    assert out.shape == (4, 2)
    expected = torch.tensor(loop_cosine(a, b, temperature), dtype=torch.float32)
    torch.testing.assert_close(out, expected)
    assert list(CosineSimilarity().parameters()) == []


def test_errors():
    with pytest.raises(ValueError, match="dim must be >= 1"):
        BilinearSimilarity(0)
    with pytest.raises(ValueError, match="init must be one of"):
        BilinearSimilarity(4, init="orthogonal")
    with pytest.raises(ValueError, match="temperature must be positive"):
        CosineSimilarity(0.0)
    with pytest.raises(
        ValueError, match=r"BilinearSimilarity expects a \[B, P=4\] and b \[N, P=4\]"
    ):
        BilinearSimilarity(4)(torch.randn(3, 4), torch.randn(3, 5))
    with pytest.raises(ValueError, match=r"BilinearSimilarity expects"):
        BilinearSimilarity(4)(torch.randn(2, 3, 4), torch.randn(3, 4))
    with pytest.raises(ValueError, match=r"CosineSimilarity expects a \[B, P\] and b \[N, P\]"):
        CosineSimilarity()(torch.randn(3, 4), torch.randn(3, 5))
    with pytest.raises(ValueError, match=r"CosineSimilarity expects"):
        CosineSimilarity()(torch.randn(4), torch.randn(3, 4))
