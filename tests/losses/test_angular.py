import math

import pytest
import torch
import torch.nn.functional as F
from pytorch_metric_learning import losses, miners

from audiofsl.heads import ProjectionHead
from audiofsl.losses import AngularPrototypicalLoss


def dot(a, b):
    return sum(x * y for x, y in zip(a, b, strict=True))


def distance(a, b):
    # the library's pairwise distance: |a - b + 1e-6|
    return math.sqrt(sum((x - y + 1e-6) ** 2 for x, y in zip(a, b, strict=True)))


def angle(a, p, n):
    """Angle at the negative of the triplet (Wang et al., 2017, eq. 5), in radians."""
    centre = [(x + y) / 2 for x, y in zip(a, p, strict=True)]
    return math.atan(distance(a, p) / (2 * distance(n, centre)))


def pair_term(a, p, refs, ref_labels, label, alpha):
    """log(1 + sum over references of another class of exp(f_{a,p,n}))."""
    t2 = math.tan(math.radians(alpha)) ** 2
    s = [x + y for x, y in zip(a, p, strict=True)]
    total = 1.0
    for n, y in zip(refs, ref_labels, strict=True):
        if y != label:
            total += math.exp(4 * t2 * dot(s, n) - 2 * (1 + t2) * dot(a, p))
    return math.log(total)


def loop_triplets(anchors, anchor_labels, refs, ref_labels, same_set):
    for i, a_label in enumerate(anchor_labels):
        for j, p_label in enumerate(ref_labels):
            if p_label != a_label or (same_set and i == j):
                continue
            for k, n_label in enumerate(ref_labels):
                if n_label != a_label:
                    yield i, j, k


def loop_episode(protos, queries, n_query, alpha, angle_deg, as_anchors, reference_mining):
    """Reference for one episode on normalised lists of floats."""
    proto_labels = list(range(len(protos)))
    query_labels = [i // n_query for i in range(len(queries))]
    if as_anchors:
        anchors, anchor_labels, refs, ref_labels = protos, proto_labels, queries, query_labels
    else:
        anchors = refs = protos + queries
        anchor_labels = ref_labels = proto_labels + query_labels
    kept = [
        (i, j, k)
        for i, j, k in loop_triplets(anchors, anchor_labels, refs, ref_labels, not as_anchors)
        if angle(anchors[i], refs[j], refs[k]) > math.radians(angle_deg)
    ]
    if reference_mining:
        anchors2 = [anchors[i] for i, _, _ in kept]
        labels2 = [anchor_labels[i] for i, _, _ in kept]
        order = [j for _, j, _ in kept] + [k for _, _, k in kept]
        refs2, ref_labels2 = [refs[r] for r in order], [ref_labels[r] for r in order]
        terms = [
            pair_term(a, p, refs2, ref_labels2, label, alpha)
            for a, label in zip(anchors2, labels2, strict=True)
            for p, p_label in zip(refs2, ref_labels2, strict=True)
            if p_label == label
        ]
    else:
        terms = [
            pair_term(anchors[i], refs[j], refs, ref_labels, anchor_labels[i], alpha)
            for i, j, _ in kept
        ]
    return sum(terms) / len(terms) if terms else 0.0


def loop_apl(support, query, alpha, angle_deg, as_anchors, reference_mining=False):
    n_episodes, n_way, n_query = query.shape[:3]
    total = 0.0
    for e in range(n_episodes):
        protos = [F.normalize(support[e, w].double().mean(0), dim=0).tolist() for w in range(n_way)]
        queries = [
            F.normalize(query[e, w, q].double(), dim=0).tolist()
            for w in range(n_way)
            for q in range(n_query)
        ]
        total += loop_episode(
            protos, queries, n_query, alpha, angle_deg, as_anchors, reference_mining
        )
    return total / n_episodes


@pytest.mark.parametrize("as_anchors", [True, False])
@pytest.mark.parametrize(("alpha", "angle_deg"), [(40.0, 20.0), (40.0, 0.0), (30.0, 35.0)])
def test_matches_loop_reference(as_anchors, alpha, angle_deg):
    torch.manual_seed(0)
    support, query = torch.randn(2, 3, 2, 6), torch.randn(2, 3, 3, 6)
    loss_fn = AngularPrototypicalLoss(alpha, angle_deg, prototypes_as_anchors=as_anchors)
    loss = loss_fn(support, query)
    assert loss.dim() == 0 and loss.dtype == torch.float32
    expected = loop_apl(support, query, alpha, angle_deg, as_anchors)
    assert expected > 0
    torch.testing.assert_close(loss.item(), expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("angle_deg", [0.0, 25.0])
def test_reference_mining_matches_loop_reference(angle_deg):
    torch.manual_seed(1)
    support, query = torch.randn(2, 3, 2, 5), torch.randn(2, 3, 2, 5)
    loss = AngularPrototypicalLoss(angle=angle_deg, reference_mining=True)(support, query)
    expected = loop_apl(support, query, 40.0, angle_deg, True, reference_mining=True)
    torch.testing.assert_close(loss.item(), expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("as_anchors", [True, False])
def test_equals_calling_the_library_directly(as_anchors):
    torch.manual_seed(2)
    support, query = torch.randn(3, 4, 2, 8), torch.randn(3, 4, 3, 8)
    loss_lib, miner = losses.AngularLoss(alpha=35), miners.AngularMiner(angle=15)
    proto_labels, query_labels = torch.arange(4), torch.arange(4).repeat_interleave(3)
    per_episode = []
    for e in range(3):
        protos = F.normalize(support[e].mean(1), dim=-1)
        queries = F.normalize(query[e].reshape(12, 8), dim=-1)
        if as_anchors:
            triplets = miner(protos, proto_labels, queries, query_labels)
            per_episode.append(loss_lib(protos, proto_labels, triplets, queries, query_labels))
        else:
            pooled, labels = torch.cat([protos, queries]), torch.cat([proto_labels, query_labels])
            per_episode.append(loss_lib(pooled, labels, miner(pooled, labels)))
    loss_fn = AngularPrototypicalLoss(alpha=35, angle=15, prototypes_as_anchors=as_anchors)
    torch.testing.assert_close(loss_fn(support, query), torch.stack(per_episode).mean())


def test_hand_computed_case_and_zero_angle():
    """Prototypes equal to their queries: with alpha = 45 deg, tan^2 = 1 and each of the two
    (prototype, query) pairs costs log(1 + exp(4 (a + p).n - 4 a.p)) = log(1 + e^-4)."""
    support = torch.tensor([[[[1.0, 0.0]], [[0.0, 1.0]]]])  # [1, 2, 1, 2]
    query = support.clone()
    loss = AngularPrototypicalLoss(alpha=45.0, angle=0.0)(support, query)
    torch.testing.assert_close(loss.item(), math.log(1 + math.exp(-4)), rtol=1e-5, atol=1e-6)
    # |a - p| = 0: no triplet exceeds a positive threshold, so the loss is zero
    assert AngularPrototypicalLoss(alpha=45.0, angle=20.0)(support, query).item() == 0.0


def test_zero_angle_keeps_every_triplet():
    torch.manual_seed(3)
    support, query = torch.randn(1, 5, 2, 8), torch.randn(1, 5, 4, 8)
    loss_fn = AngularPrototypicalLoss(angle=0.0)
    protos = F.normalize(support[0].mean(1), dim=-1)
    queries = F.normalize(query[0].reshape(20, 8), dim=-1)
    labels = torch.arange(5).repeat_interleave(4)
    triplets = loss_fn.miner(protos, torch.arange(5), queries, labels)
    assert len(triplets[0]) == 5 * 4 * 16  # W * Q positives x (W - 1) * Q negatives


def test_episodes_are_scored_separately_and_averaged():
    torch.manual_seed(4)
    support, query = torch.randn(3, 3, 2, 6), torch.randn(3, 3, 2, 6)
    loss_fn = AngularPrototypicalLoss(angle=10.0, prototypes_as_anchors=False)
    single = [loss_fn(support[e : e + 1], query[e : e + 1]) for e in range(3)]
    torch.testing.assert_close(loss_fn(support, query), torch.stack(single).mean())


def test_projection_gradients_and_no_triplets():
    torch.manual_seed(5)
    projection = ProjectionHead(8, (8,), 4)
    loss_fn = AngularPrototypicalLoss(angle=5.0, projection=projection)
    support = torch.randn(2, 3, 2, 8, requires_grad=True)
    query = torch.randn(2, 3, 3, 8, requires_grad=True)
    loss_fn(support, query).backward()
    assert support.grad.abs().sum() > 0 and query.grad.abs().sum() > 0
    assert all(p.grad is not None for p in projection.parameters())
    empty = AngularPrototypicalLoss(angle=89.0)(support, query)
    assert empty.item() == 0.0 and empty.requires_grad


def test_autocast_gives_float32():
    torch.manual_seed(6)
    support, query = torch.randn(2, 4, 2, 16), torch.randn(2, 4, 3, 16)
    loss_fn = AngularPrototypicalLoss(angle=10.0)
    reference = loss_fn(support, query)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = loss_fn(support, query)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, reference)


def test_errors():
    with pytest.raises(ValueError, match="alpha"):
        AngularPrototypicalLoss(alpha=90.0)
    with pytest.raises(ValueError, match="angle"):
        AngularPrototypicalLoss(angle=-1.0)
    with pytest.raises(ValueError, match="reference_mining"):
        AngularPrototypicalLoss(prototypes_as_anchors=False, reference_mining=True)
    with pytest.raises(ValueError, match="n_episodes"):
        AngularPrototypicalLoss()(torch.randn(3, 2, 4), torch.randn(3, 2, 4))
