"""Scoring rules for few-shot tasks over cached representations: nearest prototype.

A scorer has two steps: ``prepare(representations, train_mean)`` once on every cached
representation of a split (e.g. a SimpleShot transform, which centres on a mean over the split or
the training set), then ``scorer(support, query) -> logits`` on batches of tasks.
:class:`PrototypeScorer` is the rule for embedding methods (ProtoNet, the supervised baseline,
contrastive encoders); RelationNet brings its own.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from audiofsl.heads import DISTANCES, pairwise_distance, prototypes

__all__ = ["EMBEDDING_TRANSFORMS", "EmbeddingTransform", "PrototypeScorer"]

EMBEDDING_TRANSFORMS = ("none", "l2", "center", "center_l2")


class EmbeddingTransform:
    """Feature transforms of SimpleShot (Wang et al., 2019) applied before nearest prototype.

    ``"none"`` leaves embeddings as they are, ``"l2"`` L2-normalises them (UN/L2N), ``"center"``
    subtracts a mean embedding and ``"center_l2"`` subtracts it then L2-normalises (CL2N). The
    mean is that of the training-class embeddings when given (as in SimpleShot), else that of
    the embeddings being transformed.

    Args:
        mode: One of ``"none"``, ``"l2"``, ``"center"``, ``"center_l2"``.
    """

    def __init__(self, mode: str = "none") -> None:
        if mode not in EMBEDDING_TRANSFORMS:
            raise ValueError(
                f"embedding transform mode={mode!r} is not supported; choose one of "
                f"{EMBEDDING_TRANSFORMS}."
            )
        self.mode = mode

    def __repr__(self) -> str:
        return f"EmbeddingTransform(mode={self.mode!r})"

    def __call__(self, embeddings: Tensor, train_mean: Tensor | None = None) -> Tensor:
        """Transforms embeddings.

        Args:
            embeddings: ``[N, D]`` embeddings.
            train_mean: ``[D]`` mean training-class embedding, used by the centring modes;
                ``None`` centres on the mean of ``embeddings``.

        Returns:
            ``[N, D]`` transformed embeddings (same dtype and device).
        """
        if self.mode.startswith("center"):
            if train_mean is None:
                train_mean = embeddings.mean(dim=0)
            elif train_mean.shape != embeddings.shape[-1:]:
                raise ValueError(
                    f"train_mean must have shape [D] = [{embeddings.shape[-1]}], got "
                    f"{tuple(train_mean.shape)}."
                )
            embeddings = embeddings - train_mean.to(embeddings)
        if self.mode.endswith("l2"):
            embeddings = F.normalize(embeddings, dim=-1)
        return embeddings


class PrototypeScorer:
    """Negative distance of each query to each class prototype (Snell et al., 2017).

    Prototypes are mean support embeddings. :meth:`prepare` applies an optional SimpleShot
    transform (Wang et al., 2019) to the cached embeddings, centred on the training mean when
    one is given, else on the mean of the split.

    Args:
        distance: ``"squared_euclidean"``, ``"euclidean"`` or ``"cosine"``.
        transform: ``"none"``, ``"l2"``, ``"center"`` or ``"center_l2"``.
    """

    def __init__(self, distance: str = "squared_euclidean", transform: str = "none") -> None:
        if distance not in DISTANCES:
            raise ValueError(f"scorer distance={distance!r}: choose one of {DISTANCES}.")
        self.distance = distance
        self.transform = EmbeddingTransform(transform)

    def __repr__(self) -> str:
        return f"PrototypeScorer(distance={self.distance!r}, transform={self.transform.mode!r})"

    def prepare(self, embeddings: Tensor, train_mean: Tensor | None = None) -> Tensor:
        """Args: embeddings [N, D] of a split; train_mean [D]. Returns: [N, D] float32."""
        return self.transform(embeddings.float(), train_mean)

    def __call__(self, support: Tensor, query: Tensor) -> Tensor:
        """Logits of a batch of tasks.

        Args:
            support: ``[T, W, S, D]`` prepared support embeddings, class-major.
            query: ``[T, Q, D]`` prepared query embeddings.

        Returns:
            ``[T, Q, W]`` float32 logits.
        """
        return -pairwise_distance(query, prototypes(support), self.distance)
