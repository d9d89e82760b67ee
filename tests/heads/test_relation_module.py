import pytest
import torch

from audiofsl.heads import RelationModule


def loop_scores(module, protos, query, logits=False):
    """Reference: every (query, prototype) pair through forward one at a time."""
    out = torch.empty(query.shape[0], protos.shape[0])
    for q in range(query.shape[0]):
        for w in range(protos.shape[0]):
            pair = torch.cat([protos[w], query[q]], dim=0)[None]
            out[q, w] = module(pair, logits=logits)[0]
    return out


@pytest.mark.parametrize("map_shape", [(8, 9), (8, 2), (1, 1)])
def test_score_matches_loop_over_pairs(map_shape):
    torch.manual_seed(0)
    module = RelationModule(in_channels=64).eval()
    protos, query = torch.randn(5, 64, *map_shape), torch.randn(7, 64, *map_shape)
    scores = module.score(protos, query)
    assert scores.shape == (7, 5)
    assert ((scores > 0) & (scores < 1)).all()
    with torch.no_grad():
        torch.testing.assert_close(scores, loop_scores(module, protos, query), atol=1e-5, rtol=1e-5)
        logits = module.score(protos, query, logits=True)
        torch.testing.assert_close(
            logits, loop_scores(module, protos, query, logits=True), atol=1e-5, rtol=1e-5
        )
    torch.testing.assert_close(torch.sigmoid(logits), scores)


def test_score_batches_leading_task_dims():
    torch.manual_seed(1)
    module = RelationModule(in_channels=4, hidden_channels=8, n_blocks=3).eval()
    protos, query = torch.randn(2, 3, 4, 6, 5), torch.randn(2, 6, 4, 6, 5)
    scores = module.score(protos, query)
    assert scores.shape == (2, 6, 3)
    with torch.no_grad():
        for t in range(2):
            torch.testing.assert_close(
                scores[t], loop_scores(module, protos[t], query[t]), atol=1e-5, rtol=1e-5
            )
    shared = module.score(protos[0], query)  # prototypes shared by both query sets
    assert shared.shape == (2, 6, 3)


def test_training_mode_gradients_reach_both_maps():
    torch.manual_seed(2)
    module = RelationModule(in_channels=64)
    support = torch.randn(5, 2, 64, 8, 9, requires_grad=True)
    query = torch.randn(10, 64, 8, 9, requires_grad=True)
    scores = module.score(module.feature_prototypes(support), query)
    scores.sum().backward()
    assert support.grad.abs().sum() > 0 and query.grad.abs().sum() > 0
    assert all(p.grad is not None for p in module.parameters())


def test_feature_prototypes_mean_and_sum():
    torch.manual_seed(3)
    support = torch.randn(2, 3, 4, 5, 6, 7)  # [tasks, W, S, C, H, W']
    mean = RelationModule.feature_prototypes(support)
    total = RelationModule.feature_prototypes(support, reduction="sum")
    assert mean.shape == total.shape == (2, 3, 5, 6, 7)
    for t in range(2):
        for w in range(3):
            expected = sum(support[t, w, s] for s in range(4))
            torch.testing.assert_close(total[t, w], expected)
            torch.testing.assert_close(mean[t, w], expected / 4)


def test_errors():
    with pytest.raises(ValueError, match="in_channels"):
        RelationModule(in_channels=0)
    module = RelationModule(in_channels=4)
    with pytest.raises(ValueError, match="2 \\* in_channels=8"):
        module(torch.randn(3, 4, 5, 5))
    with pytest.raises(ValueError, match="same C=4"):
        module.score(torch.randn(3, 4, 5, 5), torch.randn(2, 4, 5, 6))
    with pytest.raises(ValueError, match="same C=4"):
        module.score(torch.randn(3, 3, 5, 5), torch.randn(2, 3, 5, 5))
    with pytest.raises(ValueError, match="reduction"):
        RelationModule.feature_prototypes(torch.randn(3, 2, 4, 5, 5), reduction="max")
    with pytest.raises(ValueError, match="n_shot"):
        RelationModule.feature_prototypes(torch.randn(3, 4, 5, 5))
