import math

import pytest
import torch

from audiofsl.heads import pairwise_distance, prototypes


def loop_distance(query, protos, metric):
    """Slow reference in float64 for [Q, D] x [W, D]."""
    out = torch.empty(query.shape[0], protos.shape[0], dtype=torch.float64)
    for q in range(query.shape[0]):
        for w in range(protos.shape[0]):
            a, b = query[q].double(), protos[w].double()
            if metric == "cosine":
                out[q, w] = 1 - (a @ b) / (a.norm() * b.norm())
            else:
                squared = sum((x - y) ** 2 for x, y in zip(a.tolist(), b.tolist(), strict=True))
                out[q, w] = squared if metric == "squared_euclidean" else math.sqrt(squared)
    return out


@pytest.mark.parametrize("metric", ["euclidean", "squared_euclidean", "cosine"])
def test_matches_double_loop_with_leading_dims(metric):
    torch.manual_seed(0)
    query, protos = torch.randn(2, 3, 7, 16), torch.randn(2, 3, 5, 16)
    out = pairwise_distance(query, protos, metric)
    assert out.shape == (2, 3, 7, 5) and out.dtype == torch.float32
    for i in range(2):
        for j in range(3):
            expected = loop_distance(query[i, j], protos[i, j], metric).float()
            torch.testing.assert_close(out[i, j], expected, rtol=1e-4, atol=1e-4)


def test_prototypes_broadcast_over_tasks():
    torch.manual_seed(1)
    protos = torch.randn(4, 6)
    out = pairwise_distance(torch.randn(3, 10, 6), protos)  # 3 tasks, shared prototypes
    assert out.shape == (3, 10, 4)


@pytest.mark.parametrize("metric", ["euclidean", "squared_euclidean", "cosine"])
def test_low_precision_and_autocast_give_float32(metric):
    torch.manual_seed(2)
    query, protos = 10 * torch.randn(6, 32), 10 * torch.randn(4, 32)
    reference = pairwise_distance(query, protos, metric)
    assert pairwise_distance(query.half(), protos.half(), metric).dtype == torch.float32
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = pairwise_distance(query, protos, metric)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, reference)


def test_identical_points_give_zero_distance_and_finite_gradients():
    torch.manual_seed(4)
    x = (100 * torch.randn(3, 8)).requires_grad_()
    for metric in ("euclidean", "squared_euclidean"):
        out = pairwise_distance(x, x, metric)
        assert (out >= 0).all()
        off_diagonal = out[~torch.eye(3, dtype=torch.bool)]
        # the expanded form leaves a small cancellation error on the diagonal
        assert out.diagonal().max() < 1e-3 * off_diagonal.min()
        out.sum().backward()
        assert torch.isfinite(x.grad).all()
        x.grad = None
    zero = torch.zeros(1, 4, requires_grad=True)
    pairwise_distance(zero, torch.zeros(1, 4), "euclidean").sum().backward()
    assert torch.equal(zero.grad, torch.zeros(1, 4))


def test_prototypes_are_class_means():
    torch.manual_seed(3)
    support = torch.randn(2, 5, 3, 4)
    protos = prototypes(support)
    assert protos.shape == (2, 5, 4)
    for t in range(2):
        for c in range(5):
            expected = sum(support[t, c, s] for s in range(3)) / 3
            torch.testing.assert_close(protos[t, c], expected)


def test_errors():
    with pytest.raises(ValueError, match="metric"):
        pairwise_distance(torch.randn(2, 3), torch.randn(2, 3), "manhattan")
    with pytest.raises(ValueError, match="same D"):
        pairwise_distance(torch.randn(2, 3), torch.randn(2, 4))
    with pytest.raises(ValueError, match="n_shot"):
        prototypes(torch.randn(5, 4))
