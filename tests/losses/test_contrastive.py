import copy
import math

import pytest
import torch
from pytorch_metric_learning import losses

from audiofsl.heads import BilinearSimilarity, CosineSimilarity
from audiofsl.losses import ColaLoss, CompositeLoss, CrossEntropyLoss, NTXentLoss, SupConLoss


def cosine(u, v):
    dot = sum(x * y for x, y in zip(u, v, strict=True))
    return dot / math.sqrt(sum(x * x for x in u) * sum(y * y for y in v))


def as_rows(views):
    """[V, B, P] tensor -> list of V * B float lists (view-major) and their clip indices."""
    n_views, batch = views.shape[:2]
    rows = views.double().flatten(0, 1).tolist()
    return rows, [k % batch for k in range(n_views * batch)]


def loop_simclr(views, temperature):
    """SimCLR eq. 1 for two views, averaged over all 2B anchors."""
    rows, clips = as_rows(views)
    total = 0.0
    for a in range(len(rows)):
        positive = next(k for k in range(len(rows)) if k != a and clips[k] == clips[a])
        numerator = math.exp(cosine(rows[a], rows[positive]) / temperature)
        denominator = sum(
            math.exp(cosine(rows[a], rows[k]) / temperature) for k in range(len(rows)) if k != a
        )
        total += -math.log(numerator / denominator)
    return total / len(rows)


def loop_ntxent_pairs(views, temperature):
    """Mean over positive pairs (a, p) of -log(e^{s_ap} / (e^{s_ap} + sum_neg e^{s_an}))."""
    rows, clips = as_rows(views)
    terms = []
    for a in range(len(rows)):
        negatives = sum(
            math.exp(cosine(rows[a], rows[n]) / temperature)
            for n in range(len(rows))
            if clips[n] != clips[a]
        )
        for p in range(len(rows)):
            if p != a and clips[p] == clips[a]:
                positive = math.exp(cosine(rows[a], rows[p]) / temperature)
                terms.append(-math.log(positive / (positive + negatives)))
    return sum(terms) / len(terms)


def loop_supcon(views, labels, temperature):
    """Khosla et al. eq. 2 (L_out); label -1 = unlabelled, positive only of its own views."""
    rows, clips = as_rows(views)
    labels = labels.tolist()
    keys = [(y, -1) if y >= 0 else (-1, c) for y, c in zip(labels, clips, strict=True)]
    total = 0.0
    for i in range(len(rows)):
        others = [a for a in range(len(rows)) if a != i]
        denominator = sum(math.exp(cosine(rows[i], rows[a]) / temperature) for a in others)
        positives = [p for p in others if keys[p] == keys[i]]
        log_probs = [
            cosine(rows[i], rows[p]) / temperature - math.log(denominator) for p in positives
        ]
        total += -sum(log_probs) / len(positives)
    return total / len(rows)


def loop_cola(views, similarity):
    """-1/B sum_i log(e^{s(a_i, p_i)} / sum_j e^{s(a_i, p_j)}), one similarity call per pair."""
    anchors, positives = views[0].double(), views[1].double()
    similarity = copy.deepcopy(similarity).double()
    total = 0.0
    for i in range(anchors.shape[0]):
        scores = [
            similarity(anchors[i : i + 1], positives[j : j + 1]).item()
            for j in range(positives.shape[0])
        ]
        total += -(scores[i] - math.log(sum(math.exp(s) for s in scores)))
    return total / anchors.shape[0]


def assert_matches(loss, expected):
    """The float32 loss equals the float64 loop reference to float32 precision."""
    torch.testing.assert_close(loss, torch.tensor(expected, dtype=torch.float32))


def random_views(n_views, batch, dim, seed):
    torch.manual_seed(seed)
    # not unit-norm, with some views close to each other
    base = torch.randn(1, batch, dim)
    return (base + 0.7 * torch.randn(n_views, batch, dim)) * (1 + 3 * torch.rand(n_views, batch, 1))


@pytest.mark.parametrize("temperature", [0.1, 0.5, 1.0])
def test_ntxent_two_views_is_simclr(temperature):
    views = random_views(2, 6, 5, seed=0)
    loss = NTXentLoss(temperature)(views)
    assert loss.dim() == 0 and loss.dtype == torch.float32
    assert_matches(loss, loop_simclr(views, temperature))


def test_ntxent_more_views_averages_positive_pairs():
    views = random_views(3, 5, 4, seed=1)
    loss = NTXentLoss(0.5)(views)
    expected = loop_ntxent_pairs(views, 0.5)
    assert_matches(loss, expected)
    # with V > 2 the other positives are not in the denominator, unlike SupCon's L_out
    clips = torch.arange(5).repeat(3)
    assert abs(SupConLoss(0.5)(views, clips).item() - expected) > 1e-3


def test_supcon_with_clip_labels_equals_ntxent_for_two_views():
    views = random_views(2, 7, 6, seed=2)
    torch.testing.assert_close(
        SupConLoss(0.3)(views, torch.arange(7).repeat(2)), NTXentLoss(0.3)(views)
    )


@pytest.mark.parametrize("n_views", [2, 3])
@pytest.mark.parametrize("temperature", [0.1, 0.7])
def test_supcon_matches_loop_reference(n_views, temperature):
    views = random_views(n_views, 8, 5, seed=3)
    clip_labels = torch.tensor([0, 1, 0, 2, 1, 0, 3, 2])
    labels = clip_labels.repeat(n_views)
    loss = SupConLoss(temperature)(views, labels)
    assert loss.dim() == 0 and loss.dtype == torch.float32
    expected = loop_supcon(views, labels, temperature)
    assert_matches(loss, expected)


def test_supcon_unlabelled_clips_are_positives_only_of_their_own_views():
    views = random_views(2, 8, 5, seed=4)
    clip_labels = torch.tensor([-1, 1, 0, -1, 1, 0, -1, 5])
    labels = clip_labels.repeat(2)
    loss = SupConLoss(0.2)(views, labels)
    assert_matches(loss, loop_supcon(views, labels, 0.2))
    pseudo = SupConLoss.pseudo_labels(clip_labels)
    assert pseudo.tolist() == [6, 1, 0, 9, 1, 0, 12, 5]
    # all unlabelled: SimCLR
    unlabelled = torch.full((16,), -1)
    torch.testing.assert_close(SupConLoss(0.2)(views, unlabelled), NTXentLoss(0.2)(views))


def test_supcon_averages_over_all_anchors_even_when_some_losses_are_zero():
    # clips 0 and 1: identical views, far from everything -> their anchors' losses are exactly 0
    # in float32 at T = 0.01; the library's default AvgNonZeroReducer would drop them
    views = torch.tensor(
        [
            [[1.0, 0.0, 0.0], [-1.0, 0.0, 0.0], [0.0, 1.0, 0.0]],
            [[1.0, 0.0, 0.0], [-1.0, 0.0, 0.0], [0.0, -1.0, 0.0]],
        ]
    )
    labels = torch.arange(3).repeat(2)
    loss = SupConLoss(0.01)(views, labels)
    expected = loop_supcon(views, labels, 0.01)
    assert expected == pytest.approx((2 * math.log(1 + 4 * math.exp(100))) / 6)
    assert_matches(loss, expected)
    library_default = losses.SupConLoss(0.01)(views.flatten(0, 1), labels)
    assert library_default.item() == pytest.approx(math.log(1 + 4 * math.exp(100)), rel=1e-5)


def test_supcon_without_negatives_is_zero():
    views = random_views(2, 4, 3, seed=5).requires_grad_()
    loss = SupConLoss()(views, torch.zeros(8, dtype=torch.long))
    assert loss.item() == 0.0


@pytest.mark.parametrize("similarity", ["bilinear", "cosine"])
def test_cola_matches_loop_reference(similarity):
    views = random_views(2, 6, 5, seed=6)
    torch.manual_seed(7)
    module = (
        BilinearSimilarity(5, init="xavier") if similarity == "bilinear" else CosineSimilarity(0.2)
    )
    loss = ColaLoss(module)(views)
    assert loss.dim() == 0 and loss.dtype == torch.float32
    expected = loop_cola(views, module)
    assert_matches(loss, expected)


def test_cola_uses_only_first_view_as_anchors():
    views = random_views(2, 5, 4, seed=8)
    similarity = CosineSimilarity(0.5)
    swapped = ColaLoss(similarity)(views.flip(0))
    assert abs(ColaLoss(similarity)(views).item() - swapped.item()) > 1e-4


@pytest.mark.parametrize(
    "loss_fn, needs_labels",
    [(NTXentLoss(), False), (SupConLoss(), True), (ColaLoss(BilinearSimilarity(4)), False)],
)
def test_gradients_flow(loss_fn, needs_labels):
    views = random_views(2, 5, 4, seed=9).requires_grad_()
    labels = torch.tensor([0, 1, 0, -1, 2]).repeat(2)
    loss = loss_fn(views, labels) if needs_labels else loss_fn(views)
    loss.backward()
    assert views.grad is not None and torch.isfinite(views.grad).all()
    assert views.grad.abs().sum() > 0
    for parameter in loss_fn.parameters():  # COLA's bilinear W is trained through the loss
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0


@pytest.mark.parametrize(
    "loss_fn, needs_labels",
    [(NTXentLoss(), False), (SupConLoss(), True), (ColaLoss(CosineSimilarity()), False)],
)
def test_half_precision_views_give_float32_loss(loss_fn, needs_labels):
    views = random_views(2, 4, 8, seed=10)
    labels = torch.arange(4).repeat(2)
    args = (views.half(), labels) if needs_labels else (views.half(),)
    loss = loss_fn(*args)
    assert loss.dtype == torch.float32
    reference = (
        loss_fn(views.half().float(), labels) if needs_labels else loss_fn(views.half().float())
    )
    torch.testing.assert_close(loss, reference)


def test_composite_of_contrastive_and_classification_terms():
    views = random_views(2, 4, 3, seed=11)
    labels = torch.tensor([0, -1, 1, 1]).repeat(2)
    logits = torch.randn(8, 2)
    composite = CompositeLoss(
        {
            "ntxent": NTXentLoss(),
            "supcon": {"loss": SupConLoss(), "weight": 0.5},
            "ce": CrossEntropyLoss(),
        }
    )
    assert composite.consumes == ("views", "labels", "logits")
    out = composite({"views": views, "labels": labels, "logits": logits})
    torch.testing.assert_close(out["loss"], out["ntxent"] + 0.5 * out["supcon"] + out["ce"])


@pytest.mark.parametrize("loss_cls", [NTXentLoss, SupConLoss])
def test_errors_on_bad_views(loss_cls):
    loss_fn = loss_cls()
    labels = torch.zeros(8, dtype=torch.long)
    call = (lambda v: loss_fn(v, labels)) if loss_cls is SupConLoss else loss_fn
    name = loss_cls.__name__
    with pytest.raises(ValueError, match=rf"{name} expects float views \[n_views, batch, dim\]"):
        call(torch.randn(8, 4))
    with pytest.raises(ValueError, match=rf"{name} expects float views"):
        call(torch.zeros(2, 4, 3, dtype=torch.long))
    with pytest.raises(ValueError, match=rf"{name} needs views \[n_views >= 2, batch >= 2"):
        call(torch.randn(1, 8, 4))
    with pytest.raises(ValueError, match=rf"{name} needs views"):
        call(torch.randn(8, 1, 4))
    with pytest.raises(ValueError, match="temperature must be positive"):
        loss_cls(temperature=0.0)


def test_supcon_errors_on_bad_labels():
    loss_fn, views = SupConLoss(), torch.randn(2, 4, 3)
    with pytest.raises(ValueError, match=r"SupConLoss expects labels \[n_views \* batch\] = \[8\]"):
        loss_fn(views, torch.zeros(4, dtype=torch.long))
    with pytest.raises(ValueError, match=r"labels \[n_views \* batch\]"):
        loss_fn(views, torch.zeros(2, 4, dtype=torch.long))
    with pytest.raises(ValueError, match="integer labels"):
        loss_fn(views, torch.zeros(8))
    with pytest.raises(ValueError, match="or -1 \\(unlabelled\\)"):
        loss_fn(views, torch.tensor([0, 1, -2, 0] * 2))
    with pytest.raises(ValueError, match="view-major"):
        loss_fn(views, torch.tensor([0, 0, 1, 1, 0, 1, 0, 1]))  # clip-major


def test_cola_errors():
    loss_fn = ColaLoss(BilinearSimilarity(4))
    with pytest.raises(ValueError, match=r"ColaLoss expects views \[2, batch, dim\]"):
        loss_fn(torch.randn(3, 5, 4))
    with pytest.raises(ValueError, match=r"ColaLoss expects float views"):
        loss_fn(torch.randn(10, 4))
    with pytest.raises(ValueError, match=r"BilinearSimilarity expects a \[B, P=4\]"):
        loss_fn(torch.randn(2, 5, 3))
    with pytest.raises(
        ValueError, match=r"ColaLoss similarity must map .* to \[5, 5\], got \(5,\)"
    ):
        ColaLoss(lambda_module(lambda a, b: (a * b).sum(-1)))(torch.randn(2, 5, 4))
    with pytest.raises(ValueError, match="ColaLoss similarity must be a module"):
        ColaLoss(lambda a, b: a @ b.T)


def lambda_module(fn):
    class Wrapped(torch.nn.Module):
        def forward(self, a, b):
            return fn(a, b)

    return Wrapped()
