"""Prototype-anchored contrastive loss, CPL (Gao et al., 2021; Sgouropoulos et al., 2025)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from audiofsl.heads.distances import prototypes
from audiofsl.losses.episodic import check_episodes, project


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

    Computed in float32 with autocast disabled (after the projection). Vectorised over
    episodes, classes and queries. Prototypes and queries go through the projection in one
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
        others = torch.arange(n_way - 1, device=device).expand(n_way, -1)
        others = others + (others >= torch.arange(n_way, device=device)[:, None])  # [W, W - 1]
        negatives = (picks + (others * n_query)[:, None, :, None]).flatten(-2)
        itself = torch.arange(n_way * n_query, device=device).view(1, n_way, n_query, 1)
        return torch.cat([negatives, itself.expand(n_episodes, -1, -1, -1)], dim=-1)

    def forward(self, support: Tensor, query: Tensor) -> Tensor:
        """Scalar loss.

        Args:
            support: ``[E, W, S, D]`` support embeddings, class-major (``E`` episodes,
                e.g. one per augmented view).
            query: ``[E, W, Q, D]`` query embeddings, class-major.

        Returns:
            Scalar float32 loss, the mean over queries and episodes.
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
            Scalar float32 loss.
        """
        check_episodes(support, query, type(self).__name__)
        n_way, n_query = query.shape[1:3]
        if candidates.dim() != 4 or candidates.shape[:3] != query.shape[:3]:
            raise ValueError(
                "PrototypicalContrastiveLoss candidates must have shape [n_episodes, n_way, "
                f"n_query, K] matching query {tuple(query.shape)}, got {tuple(candidates.shape)}."
            )
        # prototypes and queries share one projection call (and its batch statistics, if any)
        joint = torch.cat([prototypes(support), query.flatten(1, 2)], dim=1)
        joint = project(joint, self.projection)  # [E, W + W * Q, D'], unit norm
        with torch.autocast(device_type=query.device.type, enabled=False):
            protos, queries = joint[:, :n_way] / self.temperature, joint[:, n_way:]
            logits = protos @ queries.transpose(1, 2)  # [E, W, W * Q]: cos(p_w, z_n) / T
            logits = logits.unsqueeze(2).expand(-1, -1, n_query, -1).gather(-1, candidates)
            # logsumexp, not cross_entropy: log_softmax's threaded CPU kernel stalls on busy hosts
            loss = (logits.logsumexp(dim=-1) - logits[..., -1]).mean()
            return loss / (n_way * n_query) if self.reference_scaling else loss

    def extra_repr(self) -> str:
        return (
            f"n_candidates={self.n_candidates}, temperature={self.temperature}, "
            f"reference_scaling={self.reference_scaling}"
        )
