import math

import pytest
import torch
from timm.optim import Lars

from audiofsl.methods.optim import WarmupCosine, lars, warmup_cosine


def regression(seed=0):
    torch.manual_seed(seed)
    x = torch.randn(64, 8)
    y = x @ torch.randn(8, 1) + 0.5
    model = torch.nn.Sequential(
        torch.nn.Linear(8, 16), torch.nn.LayerNorm(16), torch.nn.Linear(16, 1)
    )
    return model, x, y


def test_lars_trains_a_tiny_regression():
    model, x, y = regression()
    optimizer = lars(model.parameters(), lr=0.5, trust_coeff=0.02)
    assert isinstance(optimizer, Lars)
    losses = []
    for _ in range(60):
        optimizer.zero_grad()
        loss = torch.nn.functional.mse_loss(model(x), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.2 * losses[0]


def test_lars_excludes_biases_and_norm_parameters():
    model, _, _ = regression()
    optimizer = lars(model.parameters(), lr=0.1, weight_decay=1e-4)
    adapted, excluded = optimizer.param_groups
    assert [p.ndim for p in adapted["params"]] == [2, 2]
    assert all(p.ndim == 1 for p in excluded["params"]) and len(excluded["params"]) == 4
    assert adapted["weight_decay"] == 1e-4 and adapted["always_adapt"]
    assert excluded["weight_decay"] == 0.0 and not excluded["always_adapt"]
    everything = lars(model.parameters(), lr=0.1, exclude_bias_and_norm=False).param_groups
    assert len(everything) == 1 and len(everything[0]["params"]) == 6
    groups = lars([{"params": list(model.parameters()), "lr": 0.01}], lr=0.1).param_groups
    assert [g["lr"] for g in groups] == [0.01, 0.01] and len(groups[1]["params"]) == 4
    with pytest.raises(ValueError, match="no parameters"):
        lars([], lr=0.1)


def test_lars_first_step_follows_the_formula():
    torch.manual_seed(1)
    weight = torch.nn.Parameter(torch.randn(3, 4))
    bias = torch.nn.Parameter(torch.randn(3))
    weight.grad, bias.grad = torch.randn(3, 4), torch.randn(3)
    w0, b0 = weight.detach().clone(), bias.detach().clone()
    lr, wd, eta = 0.7, 1e-3, 0.01
    lars([weight, bias], lr=lr, weight_decay=wd, trust_coeff=eta).step()
    # adapted: w - lr * trust * (g + wd * w), trust = eta |w| / (|g| + wd |w| + eps)
    w_norm = math.sqrt(sum(v * v for v in w0.flatten().tolist()))
    g_norm = math.sqrt(sum(v * v for v in weight.grad.flatten().tolist()))
    trust = eta * w_norm / (g_norm + wd * w_norm + 1e-8)
    expected = [
        w - lr * trust * (g + wd * w)
        for w, g in zip(w0.flatten().tolist(), weight.grad.flatten().tolist(), strict=True)
    ]
    torch.testing.assert_close(weight.detach().flatten(), torch.tensor(expected))
    # excluded: plain SGD (the first momentum buffer is the gradient), no decay
    torch.testing.assert_close(bias.detach(), b0 - lr * bias.grad)


def expected_factor(epoch, warmup, total, low):
    if epoch < warmup:
        return (epoch + 1) / (warmup + 1)
    t = min(epoch, total) - warmup
    return low + (1 - low) * (1 + math.cos(math.pi * t / (total - warmup))) / 2


@pytest.mark.parametrize("warmup, total, low", [(5, 20, 0.0), (0, 10, 0.1), (3, 4, 0.5)])
def test_warmup_cosine_follows_the_formula(warmup, total, low):
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.4)
    scheduler = warmup_cosine(optimizer, warmup, total, min_lr_ratio=low)
    seen = []
    for _ in range(total + 3):  # one step per epoch
        seen.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    expected = [0.4 * expected_factor(e, warmup, total, low) for e in range(total + 3)]
    assert seen == pytest.approx(expected, rel=1e-12, abs=1e-15)
    assert seen[warmup] == pytest.approx(0.4)
    assert seen[total] == pytest.approx(0.4 * low, abs=1e-15)
    assert all(a < b for a, b in zip(seen[:warmup], seen[1 : warmup + 1], strict=True))
    assert all(a >= b for a, b in zip(seen[warmup:], seen[warmup + 1 :], strict=False))


def test_warmup_cosine_values_and_state():
    factor = WarmupCosine(4, 14)
    assert [factor(e) for e in range(4)] == pytest.approx([0.2, 0.4, 0.6, 0.8])
    assert factor(4) == 1.0 and factor(9) == pytest.approx(0.5) and factor(14) == pytest.approx(0.0)
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    state = warmup_cosine(optimizer, 4, 14).state_dict()
    assert state["lr_lambdas"][0] == {"warmup_epochs": 4, "max_epochs": 14, "min_lr_ratio": 0.0}


def test_warmup_cosine_errors():
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    with pytest.raises(ValueError, match="0 <= warmup_epochs < max_epochs"):
        warmup_cosine(optimizer, 10, 10)
    with pytest.raises(ValueError, match="0 <= warmup_epochs < max_epochs"):
        warmup_cosine(optimizer, -1, 10)
    with pytest.raises(ValueError, match=r"min_lr_ratio must be in \[0, 1\]"):
        warmup_cosine(optimizer, 2, 10, min_lr_ratio=1.5)
