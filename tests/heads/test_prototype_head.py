import pytest
import torch

from audiofsl.heads import PrototypeHead
from audiofsl.losses import PrototypicalLoss


def loop_episode_loss(support, query, metric, scale):
    """Reference for one task: per query, prototypes, distances, log-softmax, NLL."""
    n_way, n_query = query.shape[0], query.shape[1]
    protos = [support[c].double().mean(0) for c in range(n_way)]
    rows, losses = [], []
    for c in range(n_way):
        for q in range(n_query):
            x = query[c, q].double()
            distances = []
            for p in protos:
                if metric == "cosine":
                    distances.append(1 - (x @ p) / (x.norm() * p.norm()))
                else:
                    squared = ((x - p) ** 2).sum()
                    distances.append(squared if metric == "squared_euclidean" else squared.sqrt())
            logits = -scale * torch.stack(distances)
            rows.append(logits)
            losses.append(-torch.log_softmax(logits, 0)[c])
    return torch.stack(rows), torch.stack(losses).mean()


@pytest.mark.parametrize("metric", ["squared_euclidean", "euclidean", "cosine"])
@pytest.mark.parametrize("scale", [1.0, 10.0])
def test_head_and_loss_match_loop_reference(metric, scale):
    torch.manual_seed(0)
    n_tasks, n_way, n_shot, n_query, dim = 3, 5, 2, 4, 8
    support = torch.randn(n_tasks, n_way, n_shot, dim)
    query = torch.randn(n_tasks, n_way, n_query, dim)
    head = PrototypeHead(distance=metric, scale=scale)
    logits = head(support, query)
    assert logits.shape == (n_tasks, n_way * n_query, n_way)
    labels = torch.arange(n_way).repeat_interleave(n_query).expand(n_tasks, -1)
    loss = PrototypicalLoss()(logits, labels)
    assert loss.dim() == 0
    expected_losses = []
    for t in range(n_tasks):
        expected_logits, expected_loss = loop_episode_loss(support[t], query[t], metric, scale)
        torch.testing.assert_close(logits[t], expected_logits.float(), rtol=1e-4, atol=1e-4)
        expected_losses.append(expected_loss)
        single = PrototypicalLoss()(head(support[t], query[t]), labels[t])
        torch.testing.assert_close(single, expected_loss.float(), rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(
        loss, torch.stack(expected_losses).mean().float(), rtol=1e-4, atol=1e-5
    )


def test_learned_scale_is_a_parameter_with_gradient():
    torch.manual_seed(1)
    head = PrototypeHead(distance="cosine", scale=10.0, learn_scale=True)
    assert [name for name, _ in head.named_parameters()] == ["scale"]
    logits = head(torch.randn(3, 2, 4), torch.randn(3, 5, 4))
    PrototypicalLoss()(logits, torch.arange(3).repeat_interleave(5)).backward()
    assert head.scale.grad is not None and head.scale.grad.abs() > 0


def test_fixed_scale_is_a_buffer():
    head = PrototypeHead(scale=2.0)
    assert list(head.parameters()) == []
    assert "scale" in head.state_dict()


def test_embeddings_reach_the_encoder_side():
    support = torch.randn(4, 3, 6, requires_grad=True)
    query = torch.randn(4, 2, 6, requires_grad=True)
    logits = PrototypeHead()(support, query)
    PrototypicalLoss()(logits, torch.arange(4).repeat_interleave(2)).backward()
    assert support.grad.abs().sum() > 0 and query.grad.abs().sum() > 0


def test_errors():
    with pytest.raises(ValueError, match="distance"):
        PrototypeHead(distance="l1")
    with pytest.raises(ValueError, match="scale"):
        PrototypeHead(scale=0.0)
    with pytest.raises(ValueError, match="n_way"):
        PrototypeHead()(torch.randn(5, 2, 8), torch.randn(4, 3, 8))
    with pytest.raises(ValueError, match="n_way"):
        PrototypeHead()(torch.randn(5, 2, 8), torch.randn(5, 3, 7))
