import math

import pytest
import torch

from audiofsl.heads import ProjectionHead
from audiofsl.losses import PrototypicalContrastiveLoss


def cosine(a, b):
    return float(a @ b) / (math.sqrt(float(a @ a)) * math.sqrt(float(b @ b)))


def loop_cpl(support, query, candidates, temperature, projection=None, reference_scaling=False):
    """Reference: per episode, class and query, the softmax over its candidates, in float64."""

    @torch.no_grad()
    def embed(x):
        return x.double() if projection is None else projection(x[None].float())[0].double()

    n_episodes, n_way, n_query = query.shape[:3]
    episode_losses = []
    for e in range(n_episodes):
        flat = [query[e, c, j] for c in range(n_way) for j in range(n_query)]
        total = 0.0
        for w in range(n_way):
            proto = embed(sum(support[e, w, s] for s in range(support.shape[2])) / support.shape[2])
            for q in range(n_query):
                rows = candidates[e, w, q].tolist()
                logits = [cosine(proto, embed(flat[r])) / temperature for r in rows]
                log_norm = math.log(sum(math.exp(x) for x in logits))
                total += log_norm - logits[-1]
        loss = total / (n_way * n_query)
        if reference_scaling:
            loss /= n_way * n_query
        episode_losses.append(loss)
    return sum(episode_losses) / n_episodes


@pytest.mark.parametrize("n_candidates", [1, 2, 4])
@pytest.mark.parametrize("temperature", [0.1, 1.0, 6.0])
def test_matches_loop_reference_on_the_same_candidates(n_candidates, temperature):
    torch.manual_seed(0)
    loss_fn = PrototypicalContrastiveLoss(n_candidates=n_candidates, temperature=temperature)
    support, query = torch.randn(3, 5, 2, 8), torch.randn(3, 5, 4, 8)
    torch.manual_seed(7)
    loss = loss_fn(support, query)
    torch.manual_seed(7)
    candidates = loss_fn.draw_candidates(3, 5, 4)
    assert loss.dim() == 0 and loss.dtype == torch.float32
    expected = loop_cpl(support, query, candidates, temperature)
    torch.testing.assert_close(loss.item(), expected, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(loss_fn.loss_from_candidates(support, query, candidates), loss)


def test_projection_is_applied_to_prototypes_and_queries():
    torch.manual_seed(1)
    projection = ProjectionHead(8, (6,), 5)
    loss_fn = PrototypicalContrastiveLoss(n_candidates=2, temperature=0.5, projection=projection)
    support, query = torch.randn(2, 4, 3, 8), torch.randn(2, 4, 3, 8)
    candidates = loss_fn.draw_candidates(2, 4, 3)
    loss = loss_fn.loss_from_candidates(support, query, candidates)
    expected = loop_cpl(support, query, candidates, 0.5, projection=projection)
    torch.testing.assert_close(loss.item(), expected, rtol=1e-5, atol=1e-6)
    loss.backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in projection.parameters())
    assert {name.split(".")[0] for name, _ in loss_fn.named_parameters()} == {"projection"}


def test_candidates_are_distinct_queries_of_every_other_class():
    torch.manual_seed(2)
    n_episodes, n_way, n_query, m = 2, 4, 5, 3
    candidates = PrototypicalContrastiveLoss(n_candidates=m).draw_candidates(
        n_episodes, n_way, n_query
    )
    assert candidates.shape == (n_episodes, n_way, n_query, (n_way - 1) * m + 1)
    assert candidates.dtype == torch.long
    for e in range(n_episodes):
        for w in range(n_way):
            for q in range(n_query):
                *rows, itself = candidates[e, w, q].tolist()
                assert itself == w * n_query + q
                classes = [r // n_query for r in rows]
                assert classes == [c for c in range(n_way) if c != w for _ in range(m)]
                for k in range(n_way - 1):
                    block = rows[k * m : (k + 1) * m]
                    assert len(set(block)) == m


def test_candidate_draw_is_uniform_and_independent_per_query():
    torch.manual_seed(3)
    m, n_query, n_draws = 2, 5, 4000
    candidates = PrototypicalContrastiveLoss(n_candidates=m).draw_candidates(n_draws, 2, n_query)
    picked = candidates[:, 0, :, :-1] - n_query  # queries of class 1 drawn for class-0 queries
    counts = torch.bincount(picked.flatten(), minlength=n_query).double()
    expected = n_draws * n_query * m / n_query
    assert ((counts - expected).abs() / expected).max() < 0.05
    assert not torch.equal(candidates[:, 0, 0, :-1], candidates[:, 0, 1, :-1])


def test_all_candidates_equal_public_code_formula_with_reference_scaling():
    """With M = Q the candidate set is every query of the other classes: no randomness."""
    torch.manual_seed(4)
    support, query = torch.randn(1, 5, 5, 16), torch.randn(1, 5, 5, 16)
    temperature = 6.0
    protos, queries = support[0].mean(1), query[0].reshape(25, 16)
    labels = torch.arange(5).repeat_interleave(5)
    total = 0.0
    for i in range(25):
        others = [queries[j] for j in range(25) if labels[j] != labels[i]]
        samples = torch.stack([*others, queries[i]])
        sims = torch.nn.functional.cosine_similarity(protos[labels[i]][None], samples) / temperature
        total += -torch.log_softmax(sims.double(), 0)[-1].item()
    public = (1 / 25) * (total / 25)
    loss_fn = PrototypicalContrastiveLoss(n_candidates=5, temperature=temperature)
    scaled = PrototypicalContrastiveLoss(5, temperature, reference_scaling=True)
    torch.testing.assert_close(scaled(support, query).item(), public, rtol=1e-5, atol=1e-7)
    torch.testing.assert_close(loss_fn(support, query).item(), 25 * public, rtol=1e-5, atol=1e-6)


def test_episodes_are_averaged():
    torch.manual_seed(5)
    loss_fn = PrototypicalContrastiveLoss(n_candidates=2)
    support, query = torch.randn(3, 3, 2, 6), torch.randn(3, 3, 4, 6)
    candidates = loss_fn.draw_candidates(3, 3, 4)
    together = loss_fn.loss_from_candidates(support, query, candidates)
    single = [
        loss_fn.loss_from_candidates(support[e : e + 1], query[e : e + 1], candidates[e : e + 1])
        for e in range(3)
    ]
    torch.testing.assert_close(together, torch.stack(single).mean())


def test_gradients_reach_support_and_query():
    torch.manual_seed(6)
    support = torch.randn(2, 3, 2, 6, requires_grad=True)
    query = torch.randn(2, 3, 4, 6, requires_grad=True)
    PrototypicalContrastiveLoss(n_candidates=2)(support, query).backward()
    assert support.grad.abs().sum() > 0 and query.grad.abs().sum() > 0
    assert torch.isfinite(support.grad).all() and torch.isfinite(query.grad).all()


def test_autocast_and_half_inputs_give_float32():
    torch.manual_seed(8)
    loss_fn = PrototypicalContrastiveLoss(n_candidates=3, temperature=0.2)
    support, query = torch.randn(2, 5, 2, 32), torch.randn(2, 5, 3, 32)
    candidates = loss_fn.draw_candidates(2, 5, 3)
    reference = loss_fn.loss_from_candidates(support, query, candidates)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = loss_fn.loss_from_candidates(support, query, candidates)
        projected = PrototypicalContrastiveLoss(3, projection=ProjectionHead(32, (16,), 8))
        assert projected(support, query).dtype == torch.float32
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, reference)
    half = loss_fn.loss_from_candidates(support.half(), query.half(), candidates)
    assert half.dtype == torch.float32
    torch.testing.assert_close(half, reference, rtol=1e-2, atol=1e-2)


def test_errors():
    with pytest.raises(ValueError, match="temperature"):
        PrototypicalContrastiveLoss(temperature=0.0)
    with pytest.raises(ValueError, match="n_candidates"):
        PrototypicalContrastiveLoss(n_candidates=0)
    with pytest.raises(ValueError, match="n_candidates=4 exceeds n_query=3"):
        PrototypicalContrastiveLoss(4)(torch.randn(1, 5, 2, 8), torch.randn(1, 5, 3, 8))
    loss_fn = PrototypicalContrastiveLoss(n_candidates=1)
    with pytest.raises(ValueError, match="n_episodes"):
        loss_fn(torch.randn(5, 2, 8), torch.randn(5, 3, 8))
    with pytest.raises(ValueError, match="n_episodes"):
        loss_fn(torch.randn(1, 5, 2, 8), torch.randn(1, 4, 3, 8))
    with pytest.raises(ValueError, match="n_way >= 2"):
        loss_fn(torch.randn(1, 1, 2, 8), torch.randn(1, 1, 3, 8))
    with pytest.raises(ValueError, match="candidates"):
        loss_fn.loss_from_candidates(
            torch.randn(1, 3, 2, 8), torch.randn(1, 3, 2, 8), torch.zeros(1, 3, 3, 3).long()
        )


def autograd_loop_cpl(support, query, candidates, temperature, reference_scaling=False):
    """Differentiable reference: per episode, class and query, cross-entropy over the cosines
    of its candidates (plain torch ops, autograd's own gradients)."""
    n_episodes, n_way, n_query = query.shape[:3]
    episode_losses = []
    for e in range(n_episodes):
        flat = query[e].reshape(n_way * n_query, -1)
        terms = []
        for w in range(n_way):
            proto = support[e, w].mean(0)
            for q in range(n_query):
                samples = flat[candidates[e, w, q]]
                logits = torch.nn.functional.cosine_similarity(proto[None], samples) / temperature
                terms.append(torch.logsumexp(logits, 0) - logits[-1])
        loss = torch.stack(terms).mean()
        episode_losses.append(loss / (n_way * n_query) if reference_scaling else loss)
    return torch.stack(episode_losses).mean()


@pytest.mark.parametrize("reference_scaling", [False, True])
@pytest.mark.parametrize("temperature", [0.2, 6.0])
def test_gradients_equal_autograd_of_the_loop_reference(temperature, reference_scaling):
    torch.manual_seed(9)
    loss_fn = PrototypicalContrastiveLoss(2, temperature, reference_scaling=reference_scaling)
    support = torch.randn(2, 4, 3, 7, dtype=torch.float64, requires_grad=True)
    query = torch.randn(2, 4, 3, 7, dtype=torch.float64, requires_grad=True)
    candidates = loss_fn.draw_candidates(2, 4, 3)
    ours = loss_fn.loss_from_candidates(support, query, candidates)
    reference = autograd_loop_cpl(support, query, candidates, temperature, reference_scaling)
    assert ours.dtype == torch.float64
    torch.testing.assert_close(ours, reference)
    for got, expected in zip(
        torch.autograd.grad(ours, (support, query)),
        torch.autograd.grad(reference, (support, query)),
        strict=True,
    ):
        torch.testing.assert_close(got, expected, rtol=1e-9, atol=1e-12)


def test_gradcheck_with_projection_and_a_zero_query():
    torch.manual_seed(10)
    projection = ProjectionHead(6, (5,), 4).double()
    loss_fn = PrototypicalContrastiveLoss(2, 0.5, projection=projection)
    support = torch.randn(1, 3, 2, 6, dtype=torch.float64, requires_grad=True)
    query = torch.randn(1, 3, 3, 6, dtype=torch.float64, requires_grad=True)
    candidates = loss_fn.draw_candidates(1, 3, 3)
    assert torch.autograd.gradcheck(
        lambda s, q: loss_fn.loss_from_candidates(s, q, candidates), (support, query)
    )
    # a zero row has a clamped norm: its cosines are 0 and its gradient is finite
    plain = PrototypicalContrastiveLoss(2, 0.5)
    zeros = query.detach().clone()
    zeros[0, 1, 2] = 0
    zeros.requires_grad_()
    plain.loss_from_candidates(support, zeros, candidates).backward()
    assert torch.isfinite(zeros.grad).all() and zeros.grad[0, 1, 2].abs().sum() > 0


def test_candidates_drawn_in_inference_mode_do_not_leak_into_training():
    torch.manual_seed(11)
    loss_fn = PrototypicalContrastiveLoss(n_candidates=2)
    with torch.inference_mode():
        loss_fn(torch.randn(1, 3, 2, 6), torch.randn(1, 3, 3, 6))
    support = torch.randn(1, 3, 2, 6, requires_grad=True)
    loss_fn(support, torch.randn(1, 3, 3, 6)).backward()
    assert support.grad.abs().sum() > 0
