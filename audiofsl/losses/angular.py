"""Angular prototypical loss, APL (Wang et al., 2017; Sgouropoulos et al., 2025)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from audiofsl.heads.distances import prototypes
from audiofsl.losses.episodic import check_episodes, project


class AngularPrototypicalLoss(nn.Module):
    """Angular loss over prototypes and queries, on triplets mined by angle.

    The angular loss (Wang et al., ICCV 2017, "Deep Metric Learning with Angular Loss",
    N-pair form) of an anchor ``a`` and positive ``p`` of class ``y`` is::

        log(1 + sum_{n: y_n != y} exp(4 tan^2(alpha) (a + p)^T n - 2 (1 + tan^2(alpha)) a^T p))

    on L2-normalised embeddings. Sgouropoulos et al. (2025, MLSP, arXiv:2509.10074) add it
    to prototypical training over the episode's prototypes and queries. Both the loss and the
    miner are pytorch-metric-learning's ``losses.AngularLoss(alpha)`` and
    ``miners.AngularMiner(angle)``: the miner keeps the triplets ``(a, p, n)`` whose angle
    ``atan(|a - p| / (2 |n - (a + p) / 2|))`` exceeds ``angle``, and the loss is the mean over
    the kept triplets of the term above for their ``(a, p)`` (the sum runs over *all*
    references of another class; the mined negative only selects and weights the pair).
    ``angle=0`` keeps every triplet (the library's distance adds 1e-6, so every angle is
    positive); an angle no triplet exceeds gives a zero loss.

    What is mined, as in the authors' public code:

    - ``prototypes_as_anchors=True``: anchors are the prototypes (labelled with their class),
      positives and negatives are queries (the library's ``ref_emb``).
    - ``prototypes_as_anchors=False``: prototypes and queries are pooled into one labelled
      set, and any member can be anchor, positive or negative.

    ``reference_mining=True`` (only with prototypes as anchors) reproduces a detail of the
    public code: there the mined triplets are not passed to the loss; instead the anchors'
    and the references' copies (one prototype copy per mined triplet; the positive copies
    followed by the negative copies) form two new sets on which the loss takes all pairs.

    Prototypes and queries go through the optional ``projection`` (in one call) and are
    always L2-normalised: the library normalises anchors and positives but not the references
    in the sum, and its miner works on the raw embeddings. Computed in float32 with autocast
    disabled. The episodes are scored one library call each and averaged: offsetting the
    labels to share one call would make other episodes' embeddings negatives of each anchor,
    changing the loss.

    Args:
        alpha: Angle bound ``alpha`` of the loss, in degrees (library default 40).
        angle: Mining threshold, in degrees (library default 20).
        prototypes_as_anchors: Anchors are the prototypes (see above).
        projection: Module applied to prototypes and queries before normalisation, e.g.
            :class:`~audiofsl.heads.ProjectionHead`; ``None`` only normalises.
        reference_mining: Reproduce the public code's two-step prototypes-as-anchors loss.
    """

    consumes: tuple[str, ...] = ("support", "query")

    def __init__(
        self,
        alpha: float = 40.0,
        angle: float = 20.0,
        prototypes_as_anchors: bool = True,
        projection: nn.Module | None = None,
        reference_mining: bool = False,
    ) -> None:
        super().__init__()
        try:
            from pytorch_metric_learning import losses, miners
        except ImportError as error:  # pragma: no cover - a declared dependency
            raise ImportError(
                "AngularPrototypicalLoss needs pytorch-metric-learning: "
                "pip install pytorch-metric-learning"
            ) from error
        if not 0.0 < alpha < 90.0:
            raise ValueError(
                f"AngularPrototypicalLoss alpha must be in (0, 90) degrees, got {alpha}."
            )
        if not 0.0 <= angle < 90.0:
            raise ValueError(
                f"AngularPrototypicalLoss angle must be in [0, 90) degrees, got {angle}."
            )
        if reference_mining and not prototypes_as_anchors:
            raise ValueError(
                "AngularPrototypicalLoss reference_mining=True applies only with "
                "prototypes_as_anchors=True."
            )
        self.alpha = float(alpha)
        self.angle = float(angle)
        self.prototypes_as_anchors = prototypes_as_anchors
        self.reference_mining = reference_mining
        self.projection = projection
        self.loss_fn = losses.AngularLoss(alpha=self.alpha)
        self.miner = miners.AngularMiner(angle=self.angle)

    def forward(self, support: Tensor, query: Tensor) -> Tensor:
        """Scalar loss.

        Args:
            support: ``[E, W, S, D]`` support embeddings, class-major (``E`` episodes).
            query: ``[E, W, Q, D]`` query embeddings, class-major.

        Returns:
            Scalar float32 loss, the mean over episodes.
        """
        check_episodes(support, query, type(self).__name__)
        n_way, n_query = query.shape[1:3]
        joint = torch.cat([prototypes(support), query.flatten(1, 2)], dim=1)
        joint = project(joint, self.projection)  # [E, W + W * Q, D'], unit norm
        protos, queries = joint[:, :n_way], joint[:, n_way:]
        proto_labels = torch.arange(n_way, device=query.device)
        query_labels = proto_labels.repeat_interleave(n_query)
        with torch.autocast(device_type=query.device.type, enabled=False):
            episodes = [
                self.episode_loss(p, proto_labels, q, query_labels)
                for p, q in zip(protos, queries, strict=True)
            ]
        return torch.stack(episodes).mean()

    def episode_loss(
        self, protos: Tensor, proto_labels: Tensor, queries: Tensor, query_labels: Tensor
    ) -> Tensor:
        """Loss of one episode on normalised embeddings.

        Args:
            protos: ``[W, D]`` prototypes.
            proto_labels: ``[W]`` their classes.
            queries: ``[N, D]`` queries.
            query_labels: ``[N]`` their classes.

        Returns:
            Scalar loss.
        """
        if not self.prototypes_as_anchors:
            embeddings = torch.cat([protos, queries])
            labels = torch.cat([proto_labels, query_labels])
            return self.loss_fn(embeddings, labels, self.miner(embeddings, labels))
        triplets = self.miner(protos, proto_labels, queries, query_labels)
        if not self.reference_mining:
            return self.loss_fn(protos, proto_labels, triplets, queries, query_labels)
        anchors, positives, negatives = triplets
        references = torch.cat([positives, negatives])
        return self.loss_fn(
            protos[anchors],
            proto_labels[anchors],
            ref_emb=queries[references],
            ref_labels=query_labels[references],
        )

    def extra_repr(self) -> str:
        return (
            f"alpha={self.alpha}, angle={self.angle}, "
            f"prototypes_as_anchors={self.prototypes_as_anchors}, "
            f"reference_mining={self.reference_mining}"
        )
