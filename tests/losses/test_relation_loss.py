import pytest
import torch
from torch import nn

from audiofsl.heads import RelationModule
from audiofsl.losses import CrossEntropyLoss, RelationMSELoss


def loop_mse(scores, labels):
    """Reference: mean over queries and classes of (r_ij - 1[y_i == j])^2."""
    total, n, w = 0.0, scores.shape[0], scores.shape[1]
    for i in range(n):
        for j in range(w):
            target = 1.0 if labels[i] == j else 0.0
            total += (scores[i, j].item() - target) ** 2
    return total / (n * w)


def test_matches_loop_reference():
    torch.manual_seed(0)
    scores, labels = torch.rand(12, 5), torch.randint(0, 5, (12,))
    loss = RelationMSELoss()(scores, labels)
    assert loss.dim() == 0 and loss.dtype == torch.float32
    torch.testing.assert_close(loss.item(), loop_mse(scores, labels), rtol=1e-5, atol=1e-7)
    batched = RelationMSELoss()(scores.reshape(3, 4, 5), labels.reshape(3, 4))
    torch.testing.assert_close(batched, loss)
    half = RelationMSELoss()(scores.half(), labels)
    assert half.dtype == torch.float32


def test_perfect_scores_give_zero():
    labels = torch.tensor([0, 2, 1])
    assert RelationMSELoss()(torch.eye(3)[labels], labels).item() == 0.0


def assert_gradients_reach_the_module(module: RelationModule, cancelled: set[str]) -> None:
    """Every parameter gets a gradient, except those the maths cancels (``cancelled``)."""
    grads = {name: p.grad.abs().sum() for name, p in module.named_parameters()}
    assert all(g > 0 for name, g in grads.items() if name not in cancelled)
    assert all(grads[name] < 1e-6 for name in cancelled)


def test_trains_relation_module_with_mse_or_cross_entropy_on_logits():
    torch.manual_seed(1)
    module = RelationModule(in_channels=8, hidden_channels=16)
    protos, query = torch.randn(3, 8, 4, 4), torch.randn(6, 8, 4, 4)
    labels = torch.arange(3).repeat_interleave(2)
    # A convolution's bias right before BatchNorm is cancelled by it.
    conv_biases = {
        f"blocks.{i}.bias" for i, m in enumerate(module.blocks) if isinstance(m, nn.Conv2d)
    }
    RelationMSELoss()(module.score(protos, query), labels).backward()
    assert_gradients_reach_the_module(module, conv_biases)
    module.zero_grad()
    CrossEntropyLoss()(module.score(protos, query, logits=True), labels).backward()
    # The last layer's bias shifts every class's logit alike: softmax cancels it too.
    assert_gradients_reach_the_module(module, conv_biases | {"fc.2.bias"})


def test_errors():
    with pytest.raises(ValueError, match=r"\[0, 4\)"):
        RelationMSELoss()(torch.rand(3, 4), torch.tensor([0, 4, 1]))
    with pytest.raises(ValueError, match="labels"):
        RelationMSELoss()(torch.rand(3, 4), torch.tensor([0, 1]))
