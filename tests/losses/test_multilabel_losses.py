import inspect
import math

import pytest
import torch

from audiofsl.losses import ArcFaceLoss, BCEWithLogitsLoss, CompositeLoss, SigmoidFocalLoss


def loop_bce(logits, targets, pos_weight=None):
    """Reference: mean over entries of -(w_c y log s(x) + (1 - y) log(1 - s(x)))."""
    total, count = 0.0, 0
    for row, target_row in zip(logits.double().tolist(), targets.double().tolist(), strict=True):
        for c, (x, y) in enumerate(zip(row, target_row, strict=True)):
            p = 1 / (1 + math.exp(-x))
            w = 1.0 if pos_weight is None else float(pos_weight[c])
            total += -(w * y * math.log(p) + (1 - y) * math.log(1 - p))
            count += 1
    return torch.tensor(total / count, dtype=torch.float32)


def loop_focal(logits, targets, alpha, gamma):
    """Reference (Lin et al., 2017): mean of -alpha_t (1 - p_t)^gamma log p_t, binary y."""
    total, count = 0.0, 0
    for row, target_row in zip(logits.double().tolist(), targets.double().tolist(), strict=True):
        for x, y in zip(row, target_row, strict=True):
            p = 1 / (1 + math.exp(-x))
            p_t = p if y == 1 else 1 - p
            alpha_t = 1.0 if alpha is None else (alpha if y == 1 else 1 - alpha)
            total += -alpha_t * (1 - p_t) ** gamma * math.log(p_t)
            count += 1
    return torch.tensor(total / count, dtype=torch.float32)


def loop_arcface(embeddings, labels, weight, margin_deg, scale):
    """Reference (Deng et al., 2019): softmax CE over s cos(theta_j), target cos(theta_y + m)
    (cos(theta_y) - m sin(m) beyond theta_y > pi - m), averaged over rows."""
    m = math.radians(margin_deg)
    n_classes = weight.shape[1]
    total = 0.0
    for e, y in zip(embeddings.double(), labels.tolist(), strict=True):
        e = e / e.norm()
        logits = []
        for j in range(n_classes):
            w = weight[:, j].double()
            cos = float(e @ (w / w.norm()))
            if j == y:
                theta = math.acos(max(-1.0, min(1.0, cos)))
                cos = math.cos(theta + m) if theta <= math.pi - m else cos - m * math.sin(m)
            logits.append(scale * cos)
        top = max(logits)
        log_sum = top + math.log(sum(math.exp(v - top) for v in logits))
        total += log_sum - logits[y]
    return torch.tensor(total / len(labels), dtype=torch.float32)


def multi_hot(n, c, seed, p=0.3):
    generator = torch.Generator().manual_seed(seed)
    return (torch.rand(n, c, generator=generator) < p).float()


# --- BCEWithLogitsLoss --------------------------------------------------------------------


@pytest.mark.parametrize("weighted", [False, True])
def test_bce_matches_loop_reference(weighted):
    torch.manual_seed(0)
    logits, targets = 3 * torch.randn(10, 6), multi_hot(10, 6, seed=1)
    pos_weight = torch.tensor([1.0, 2.0, 0.5, 4.0, 1.0, 9.0]) if weighted else None
    loss = BCEWithLogitsLoss(pos_weight=pos_weight)(logits, targets)
    assert loss.dim() == 0 and loss.dtype == torch.float32
    torch.testing.assert_close(loss, loop_bce(logits, targets, pos_weight))


def test_bce_accepts_list_weights_int_targets_and_half_logits():
    torch.manual_seed(1)
    logits, targets = torch.randn(5, 3), multi_hot(5, 3, seed=2)
    loss = BCEWithLogitsLoss(pos_weight=[2.0, 1.0, 3.0])(logits.half(), targets.long())
    assert loss.dtype == torch.float32
    expected = loop_bce(logits.half().float(), targets, [2.0, 1.0, 3.0])
    torch.testing.assert_close(loss, expected)


def test_positive_weights_are_negatives_over_positives_with_clamping():
    targets = torch.tensor(
        [[1, 0, 0, 1], [1, 1, 0, 1], [0, 0, 0, 1], [0, 0, 0, 1], [0, 1, 0, 1]], dtype=torch.bool
    )
    weights = BCEWithLogitsLoss.positive_weights(targets)
    # class 0: 3 neg / 2 pos; class 1: 3 / 2; class 2: no positive -> 5 / 1; class 3: always
    # present -> 1 (clamped negatives) / 5
    expected = torch.tensor([3 / 2, 3 / 2, 5.0, 1 / 5])
    torch.testing.assert_close(weights, expected)
    assert weights.dtype == torch.float32
    loss = BCEWithLogitsLoss(pos_weight=weights)
    assert loss(torch.zeros(5, 4), targets.float()) > 0


def test_bce_pos_weight_is_a_buffer_saved_with_the_module():
    loss = BCEWithLogitsLoss(pos_weight=[1.0, 2.0])
    assert "pos_weight" in loss.state_dict()
    assert "pos_weight" not in dict(loss.named_parameters())
    assert BCEWithLogitsLoss().pos_weight is None


def test_bce_errors_name_the_loss_and_shape():
    loss = BCEWithLogitsLoss()
    with pytest.raises(ValueError, match=r"BCEWithLogitsLoss expects logits \[B, C\]"):
        loss(torch.randn(4, 3), torch.zeros(4, 2))
    with pytest.raises(ValueError, match=r"BCEWithLogitsLoss.*\[B, C\]"):
        loss(torch.randn(4), torch.zeros(4))
    with pytest.raises(ValueError, match=r"BCEWithLogitsLoss targets must lie in \[0, 1\]"):
        loss(torch.randn(4, 3), torch.full((4, 3), 2.0))
    with pytest.raises(ValueError, match="pos_weight for 2 classes.*C=3"):
        BCEWithLogitsLoss(pos_weight=[1.0, 1.0])(torch.randn(4, 3), torch.zeros(4, 3))
    with pytest.raises(ValueError, match=r"pos_weight.*\[C\]"):
        BCEWithLogitsLoss(pos_weight=torch.ones(2, 2))
    with pytest.raises(ValueError, match="non-negative"):
        BCEWithLogitsLoss(pos_weight=[1.0, -1.0])
    with pytest.raises(ValueError, match=r"positive_weights expects multi-hot targets \[N, C\]"):
        BCEWithLogitsLoss.positive_weights(torch.ones(5))


# --- SigmoidFocalLoss ---------------------------------------------------------------------


@pytest.mark.parametrize(("alpha", "gamma"), [(0.25, 2.0), (None, 2.0), (0.5, 0.0), (0.9, 1.5)])
def test_focal_matches_loop_reference(alpha, gamma):
    torch.manual_seed(3)
    logits, targets = 3 * torch.randn(8, 5), multi_hot(8, 5, seed=4)
    loss = SigmoidFocalLoss(alpha=alpha, gamma=gamma)(logits, targets)
    assert loss.dim() == 0 and loss.dtype == torch.float32
    torch.testing.assert_close(loss, loop_focal(logits, targets, alpha, gamma))


def test_focal_without_focusing_or_alpha_is_bce():
    torch.manual_seed(5)
    logits, targets = torch.randn(6, 4), multi_hot(6, 4, seed=6)
    focal = SigmoidFocalLoss(alpha=None, gamma=0.0)(logits, targets)
    torch.testing.assert_close(focal, BCEWithLogitsLoss()(logits, targets))


def test_focal_errors():
    with pytest.raises(ValueError, match=r"SigmoidFocalLoss expects logits \[B, C\]"):
        SigmoidFocalLoss()(torch.randn(4, 3), torch.zeros(3, 4))
    with pytest.raises(ValueError, match="alpha"):
        SigmoidFocalLoss(alpha=1.5)
    with pytest.raises(ValueError, match="gamma"):
        SigmoidFocalLoss(gamma=-1.0)


# --- ArcFaceLoss --------------------------------------------------------------------------


@pytest.mark.parametrize(("margin", "scale"), [(28.6, 64.0), (10.0, 30.0), (0.0, 1.0)])
def test_arcface_matches_loop_reference(margin, scale):
    torch.manual_seed(7)
    loss_fn = ArcFaceLoss(n_classes=5, embedding_dim=8, margin=margin, scale=scale)
    embeddings, labels = torch.randn(12, 8), torch.randint(0, 5, (12,))
    loss = loss_fn(embeddings, labels)
    assert loss.dim() == 0 and loss.dtype == torch.float32
    expected = loop_arcface(embeddings, labels, loss_fn.weight.detach(), margin, scale)
    torch.testing.assert_close(loss, expected, rtol=1e-4, atol=1e-4)


def test_arcface_past_the_monotonic_bound_uses_the_linear_fallback():
    loss_fn = ArcFaceLoss(n_classes=3, embedding_dim=3, margin=28.6, scale=8.0)
    with torch.no_grad():
        loss_fn.weight.copy_(torch.eye(3))
    # row 0 points almost opposite its class centre: theta_y > pi - m
    embeddings = torch.tensor([[-1.0, 0.05, 0.0], [0.2, 1.0, 0.1], [0.0, 0.3, 1.0]])
    labels = torch.tensor([0, 1, 2])
    expected = loop_arcface(embeddings, labels, loss_fn.weight.detach(), 28.6, 8.0)
    torch.testing.assert_close(loss_fn(embeddings, labels), expected, rtol=1e-4, atol=1e-4)


def test_arcface_margin_raises_the_loss_and_centres_are_trained():
    torch.manual_seed(8)
    embeddings, labels = torch.randn(10, 6), torch.randint(0, 4, (10,))
    plain = ArcFaceLoss(4, 6, margin=0.0, scale=16.0)
    margined = ArcFaceLoss(4, 6, margin=28.6, scale=16.0)
    margined.load_state_dict(plain.state_dict())
    assert margined(embeddings, labels) > plain(embeddings, labels)
    assert [name for name, _ in margined.named_parameters()] == ["loss_fn.W"]
    embeddings.requires_grad_(True)
    margined(embeddings, labels).backward()
    assert margined.weight.grad.abs().sum() > 0 and embeddings.grad.abs().sum() > 0


def test_arcface_ignores_unlabelled_rows():
    torch.manual_seed(9)
    loss_fn = ArcFaceLoss(3, 4)
    embeddings = torch.randn(6, 4, requires_grad=True)
    labels = torch.tensor([0, -1, 2, -1, 1, 0])
    keep = labels != -1
    torch.testing.assert_close(loss_fn(embeddings, labels), loss_fn(embeddings[keep], labels[keep]))
    none = loss_fn(embeddings, torch.full((6,), -1))
    assert none.item() == 0.0
    none.backward()
    assert embeddings.grad is not None and embeddings.grad.abs().sum() == 0


def test_arcface_class_logits_are_scaled_cosines():
    torch.manual_seed(10)
    loss_fn = ArcFaceLoss(4, 5, scale=10.0)
    embeddings = torch.randn(3, 5)
    w = loss_fn.weight.detach()
    expected = 10.0 * torch.nn.functional.cosine_similarity(
        embeddings.unsqueeze(2), w.unsqueeze(0), dim=1
    )
    torch.testing.assert_close(loss_fn.class_logits(embeddings), expected)


def test_arcface_errors_name_the_loss_and_shape():
    loss_fn = ArcFaceLoss(n_classes=3, embedding_dim=4)
    with pytest.raises(ValueError, match=r"ArcFaceLoss expects embeddings \[B, 4\]"):
        loss_fn(torch.randn(5, 3), torch.zeros(5, dtype=torch.long))
    with pytest.raises(ValueError, match=r"ArcFaceLoss expects embeddings \[B, D\] and labels"):
        loss_fn(torch.randn(5, 4), torch.zeros(4, dtype=torch.long))
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        loss_fn(torch.randn(2, 4), torch.tensor([0, 3]))
    with pytest.raises(ValueError, match="integer"):
        loss_fn(torch.randn(2, 4), torch.zeros(2))
    with pytest.raises(ValueError, match="n_classes"):
        ArcFaceLoss(n_classes=1, embedding_dim=4)
    with pytest.raises(ValueError, match="degrees"):
        ArcFaceLoss(n_classes=3, embedding_dim=4, margin=100.0)


# --- shared contract ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("loss", "consumes"),
    [
        (BCEWithLogitsLoss(), ("logits", "targets")),
        (SigmoidFocalLoss(), ("logits", "targets")),
        (ArcFaceLoss(3, 4), ("embeddings", "labels")),
    ],
)
def test_consumes_names_the_forward_arguments(loss, consumes):
    assert type(loss).consumes == consumes
    assert tuple(inspect.signature(type(loss).forward).parameters)[1:] == consumes


def test_losses_compose():
    torch.manual_seed(11)
    composite = CompositeLoss({"bce": BCEWithLogitsLoss(), "focal": SigmoidFocalLoss()})
    assert composite.consumes == ("logits", "targets")
    logits, targets = torch.randn(4, 3), multi_hot(4, 3, seed=12)
    out = composite({"logits": logits, "targets": targets})
    torch.testing.assert_close(out["loss"], out["bce"] + out["focal"])


def test_arcface_under_autocast_stays_float32():
    torch.manual_seed(13)
    loss_fn = ArcFaceLoss(4, 8)
    embeddings, labels = torch.randn(6, 8), torch.randint(0, 4, (6,))
    expected = loss_fn(embeddings, labels)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = loss_fn(embeddings, labels)
    assert loss.dtype == loss_fn.weight.dtype == torch.float32
    torch.testing.assert_close(loss, expected)
