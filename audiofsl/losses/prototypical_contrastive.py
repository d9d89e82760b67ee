"""Prototype-anchored contrastive loss, CPL (Gao et al., 2021; Sgouropoulos et al., 2025)."""

from __future__ import annotations

from functools import lru_cache

import torch
from torch import Tensor, nn

from audiofsl.heads.distances import prototypes
from audiofsl.losses.episodic import check_episodes, project

_NORM_EPS = 1e-12  # as F.normalize


class PrototypicalContrastiveLoss(nn.Module):
    """Contrastive prototype loss: each class prototype must pick out its own query.

    With the class-``y`` prototype ``p_y`` as anchor, query ``z_i`` of class ``y`` is the
    positive among a candidate set made of ``z_i`` itself and ``M`` queries drawn at random
    from every other class::

        L = -1/N sum_i log( exp(cos(p_y, z_i) / T) / sum_{s in C_i} exp(cos(p_y, s) / T) )

    (Gao et al., 2021, "Contrastive Prototype Learning with Augmented Embeddings for
    Few-Shot Learning", arXiv:2101.09499; used for audio by Sgouropoulos et al., 2025,
    "Prototypical Contrastive Learning for Improved Few-Shot Audio Classification", MLSP,
    arXiv:2509.10074). Prototypes are support means; prototypes and queries go through the
    optional ``projection`` and are then L2-normalised, so the dot product is the cosine.

    Candidate drawing follows the authors' public code: for every query and every other class
    an independent draw of ``M`` distinct queries of that class (without replacement); the
    query's own class contributes only the query itself. The draw uses torch's global RNG on
    the embeddings' device; :meth:`draw_candidates` exposes it.

    Scaling: the loss is the mean over queries (and over episodes). The public code divides
    that mean once more by the number of queries in the episode; ``reference_scaling=True``
    reproduces it, i.e. multiplies each episode's loss by ``1 / (n_way * n_query)``.

    Computed in float32 (float64 for float64 inputs) with autocast disabled, after the
    projection. Vectorised over episodes, classes and queries; the backward is closed-form
    (see :class:`_CandidateCrossEntropy`). Prototypes and queries go through the projection in one
    call, so a batch-norm projection normalises them with shared statistics (the public
    code's projection has none).

    Args:
        n_candidates: ``M``, queries drawn from each other class per query; at most
            ``n_query``.
        temperature: ``T > 0`` dividing the cosine similarities.
        projection: Module applied to prototypes and queries before normalisation, e.g.
            :class:`~audiofsl.heads.ProjectionHead`; ``None`` only normalises. Its parameters
            are trained through this loss.
        reference_scaling: Divide each episode's loss by ``n_way * n_query`` as the public
            code does.
    """

    consumes: tuple[str, ...] = ("support", "query")

    def __init__(
        self,
        n_candidates: int = 3,
        temperature: float = 1.0,
        projection: nn.Module | None = None,
        reference_scaling: bool = False,
    ) -> None:
        super().__init__()
        if n_candidates < 1:
            raise ValueError(
                f"PrototypicalContrastiveLoss n_candidates must be >= 1, got {n_candidates}."
            )
        if temperature <= 0:
            raise ValueError(
                f"PrototypicalContrastiveLoss temperature must be positive, got {temperature}."
            )
        self.n_candidates = int(n_candidates)
        self.temperature = float(temperature)
        self.projection = projection
        self.reference_scaling = reference_scaling

    def draw_candidates(
        self, n_episodes: int, n_way: int, n_query: int, device: torch.device | str = "cpu"
    ) -> Tensor:
        """Draws the candidate set of every query.

        Args:
            n_episodes: ``E``.
            n_way: ``W``.
            n_query: ``Q``; must be at least ``n_candidates``.
            device: Device of the draw and of the result.

        Returns:
            ``[E, W, Q, (W - 1) * M + 1]`` long indices into an episode's class-major
            flattened queries (class ``c``, query ``j`` is row ``c * Q + j``). Entry
            ``[e, w, q]`` lists ``M`` distinct queries of each class other than ``w``, classes
            in increasing order, then the query itself (row ``w * Q + q``, the target).
        """
        m = self.n_candidates
        if m > n_query:
            raise ValueError(
                f"PrototypicalContrastiveLoss n_candidates={m} exceeds n_query={n_query}: "
                "candidates are drawn without replacement from each class's queries; lower "
                "n_candidates or raise sampler.n_query."
            )
        # Random keys + top-k per (query, other class): a uniform draw without replacement.
        keys = torch.rand(n_episodes, n_way, n_query, n_way - 1, n_query, device=device)
        picks = keys.topk(m, dim=-1).indices  # [E, W, Q, W - 1, M]
        offsets, itself = _candidate_layout(n_way, n_query, torch.device(device))
        negatives = (picks + offsets).flatten(-2)
        return torch.cat([negatives, itself.expand(n_episodes, -1, -1, -1)], dim=-1)

    def forward(self, support: Tensor, query: Tensor) -> Tensor:
        """Scalar loss.

        Args:
            support: ``[E, W, S, D]`` support embeddings, class-major (``E`` episodes,
                e.g. one per augmented view).
            query: ``[E, W, Q, D]`` query embeddings, class-major.

        Returns:
            Scalar float32 loss (float64 for float64 inputs), the mean over queries and
            episodes.
        """
        check_episodes(support, query, type(self).__name__)
        n_episodes, n_way, n_query = query.shape[:3]
        candidates = self.draw_candidates(n_episodes, n_way, n_query, query.device)
        return self.loss_from_candidates(support, query, candidates)

    def loss_from_candidates(self, support: Tensor, query: Tensor, candidates: Tensor) -> Tensor:
        """The loss for given candidate sets (layout of :meth:`draw_candidates`).

        Args:
            support: ``[E, W, S, D]`` support embeddings, class-major.
            query: ``[E, W, Q, D]`` query embeddings, class-major.
            candidates: ``[E, W, Q, K]`` long indices into each episode's ``W * Q``
                class-major queries; the last column is the target (the query itself).

        Returns:
            Scalar float32 loss (float64 for float64 inputs).
        """
        check_episodes(support, query, type(self).__name__)
        n_way, n_query = query.shape[1:3]
        if candidates.dim() != 4 or candidates.shape[:3] != query.shape[:3]:
            raise ValueError(
                "PrototypicalContrastiveLoss candidates must have shape [n_episodes, n_way, "
                f"n_query, K] matching query {tuple(query.shape)}, got {tuple(candidates.shape)}."
            )
        protos = prototypes(support)
        if self.projection is not None:
            # prototypes and queries share one projection call (and its batch statistics)
            joint = torch.cat([protos, query.flatten(1, 2)], dim=1)
            joint = project(joint, self.projection, normalize=False)
            protos, queries = joint[:, :n_way], joint[:, n_way:]
        else:
            queries = query.flatten(1, 2)
        dtype = torch.promote_types(queries.dtype, torch.float32)
        with torch.autocast(device_type=query.device.type, enabled=False):
            loss = _CandidateCrossEntropy.apply(
                protos.to(dtype), queries.to(dtype), candidates, self.temperature
            )
        return loss / (n_way * n_query) if self.reference_scaling else loss

    def extra_repr(self) -> str:
        return (
            f"n_candidates={self.n_candidates}, temperature={self.temperature}, "
            f"reference_scaling={self.reference_scaling}"
        )


@lru_cache(maxsize=32)
def _candidate_layout(n_way: int, n_query: int, device: torch.device) -> tuple[Tensor, Tensor]:
    """Index constants of :meth:`PrototypicalContrastiveLoss.draw_candidates` (read-only).

    Returns:
        ``[W, 1, W - 1, 1]`` row offsets of the other classes (class ``c`` starts at row
        ``c * Q``), and ``[1, W, Q, 1]`` the row of every query itself.
    """
    with torch.inference_mode(False), torch.no_grad():
        others = torch.arange(n_way - 1, device=device).expand(n_way, -1)
        others = others + (others >= torch.arange(n_way, device=device)[:, None])
        itself = torch.arange(n_way * n_query, device=device).view(1, n_way, n_query, 1)
        return (others * n_query)[:, None, :, None], itself


class _CandidateCrossEntropy(torch.autograd.Function):
    """CPL's cross-entropy over candidate cosines, with a closed-form backward.

    Written by hand because at episode sizes the loss is a few dozen tiny kernels and
    autograd's generic backward of them (slices, expand + gather, logsumexp, normalisation)
    cost more than the arithmetic: the closed form below halves the number of backward
    kernels and makes forward + backward about 1.5x faster on CPU (``benchmarks/losses.py``).
    ``tests/losses/test_prototypical_contrastive.py`` checks its gradients against autograd
    of a loop reference.

    Forward (``u`` the L2-normalised rows, ``K`` candidates per query, last one the target)::

        G[e, w, q, k] = u_p[e, w] . u_z[e, c[e, w, q, k]] / T
        loss = mean_{e, w, q} ( logsumexp_k G[e, w, q, k] - G[e, w, q, K - 1] )

    Backward: ``dG = (softmax_k G - onehot_last) / (E W Q)``, scattered back onto the
    ``[E, W, N]`` similarity matrix, through the matmul, and through the normalisation
    ``dx = (du - u (u . du)) / |x|``.
    """

    @staticmethod
    def forward(ctx, protos: Tensor, queries: Tensor, candidates: Tensor, temperature: float):
        """protos ``[E, W, D]``, queries ``[E, N, D]`` (not normalised), candidates
        ``[E, W, Q, K]`` rows of ``queries``; returns the scalar loss."""
        n_episodes, n_way, n_query, n_cand = candidates.shape
        proto_norm = protos.norm(dim=-1, keepdim=True).clamp_min_(_NORM_EPS)
        query_norm = queries.norm(dim=-1, keepdim=True).clamp_min_(_NORM_EPS)
        unit_protos, unit_queries = protos / proto_norm, queries / query_norm
        # [E, W, N]: cos(p_w, z_n) / T
        similarity = torch.bmm(unit_protos / temperature, unit_queries.transpose(1, 2))
        flat_candidates = candidates.reshape(n_episodes, n_way, n_query * n_cand)
        logits = similarity.gather(-1, flat_candidates).view(candidates.shape)
        # logsumexp by hand: its softmax is the backward's, and torch.logsumexp's inf
        # handling costs more than the arithmetic at these sizes
        shift = logits.amax(dim=-1, keepdim=True)
        softmax = (logits - shift).exp_()
        total = softmax.sum(dim=-1, keepdim=True)
        softmax /= total
        ctx.save_for_backward(
            unit_protos, unit_queries, proto_norm, query_norm, softmax, flat_candidates
        )
        ctx.temperature = temperature
        per_query = total.log_().add_(shift).sub_(logits[..., -1:])
        return per_query.sum() / per_query.numel()

    @staticmethod
    def backward(ctx, grad: Tensor):
        unit_protos, unit_queries, proto_norm, query_norm, softmax, flat = ctx.saved_tensors
        n_episodes, n_way, n_query, n_cand = softmax.shape
        with torch.autocast(device_type=softmax.device.type, enabled=False):
            d_logits = softmax.clone()
            d_logits[..., -1] -= 1
            # the 1/T of the logits folded in: d_similarity is the gradient of u_p . u_z
            d_logits *= grad / (n_episodes * n_way * n_query * ctx.temperature)
            d_similarity = softmax.new_zeros(n_episodes, n_way, unit_queries.shape[1])
            d_similarity.scatter_add_(-1, flat, d_logits.view(n_episodes, n_way, -1))
            d_unit_protos = torch.bmm(d_similarity, unit_queries)
            d_unit_queries = torch.bmm(d_similarity.transpose(1, 2), unit_protos)
            d_protos = _through_normalisation(d_unit_protos, unit_protos, proto_norm)
            d_queries = _through_normalisation(d_unit_queries, unit_queries, query_norm)
        return d_protos, d_queries, None, None


def _through_normalisation(d_unit: Tensor, unit: Tensor, norm: Tensor) -> Tensor:
    """Gradient of ``x / max(|x|, eps)`` given the gradient ``d_unit`` of its output ``unit``;
    rows whose norm was clamped are scaled only, as the clamp makes the norm constant."""
    radial = (unit * d_unit).sum(dim=-1, keepdim=True)
    return (d_unit - unit * radial.masked_fill_(norm <= _NORM_EPS, 0)) / norm
