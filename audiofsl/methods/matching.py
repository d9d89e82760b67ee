"""Matching networks: a query attends over every support example."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from audiofsl.losses import CrossEntropyLoss
from audiofsl.losses.composite import as_composite
from audiofsl.methods.base import FewShotMethod
from audiofsl.samplers.layout import episode_blocks, split_episode


class MatchingScorer:
    """Class scores of a matching network (Vinyals et al., NeurIPS 2016).

    A query's prediction is ``sum_i a(q, x_i) y_i`` with the attention ``a`` a softmax, over
    every support example ``x_i`` of the task, of ``scale * cos(q, x_i)``. The probability of
    class ``c`` is the attention mass on its examples, so its log is
    ``logsumexp_{i in c}(scale * cos) - logsumexp_i(scale * cos)``; the logits returned are the
    first term (the second is shared by all classes), and a softmax over them gives exactly
    the matching network's class distribution.

    Args:
        scale: multiplies the cosine similarities before the softmax. The paper uses none (1);
            embeddings after a ReLU (Conv4's) have cosines in [0, 1], and at scale 1 the
            attention can put at most ``e / (e + W - 1)`` of its mass on one class even when the
            classes are perfectly separated, which stalls training; 10 lifts that cap.
    """

    def __init__(self, scale: float = 10.0) -> None:
        if not scale > 0:
            raise ValueError(f"method.scale must be positive, got {scale}.")
        self.scale = float(scale)

    def __repr__(self) -> str:
        return f"MatchingScorer(scale={self.scale})"

    def prepare(self, embeddings: Tensor, train_mean: Tensor | None = None) -> Tensor:
        """Embeddings [N, D] are scored as they are (cosine similarity normalises them)."""
        return embeddings.float()

    def __call__(self, support: Tensor, query: Tensor) -> Tensor:
        """Args: support [T, W, S, D] (class-major), query [T, Q, D]. Returns: [T, Q, W]."""
        similarity = torch.einsum(
            "tqd,twsd->tqws", F.normalize(query, dim=-1), F.normalize(support, dim=-1)
        )
        return (self.scale * similarity).logsumexp(dim=-1)


class MatchingNet(FewShotMethod):
    """Matching network (Vinyals, Blundell, Lillicrap, Kavukcuoglu & Wierstra, NeurIPS 2016).

    Each training batch is one episode. A query clip is labelled by attention over all the
    support clips of the episode (a softmax of cosine similarities of their embeddings), and
    training minimises the cross-entropy of the resulting class distribution, so that a clip
    is most similar to the clips of its own class. Support and query share the encoder; the
    paper's optional full-context embeddings (an LSTM over the support set) are not included.
    Evaluation scores the seeded tasks with the same attention (:class:`MatchingScorer`).

    The step outputs the losses may consume: ``logits`` [V*E*W*Q, W] (log of the attention mass
    per class, up to a shared constant) and ``labels`` [V*E*W*Q] (E episodes per batch).

    Args:
        frontend, encoder, augmentation, optimizer, scheduler, evaluation: see
            :class:`FewShotMethod`.
        scale: of the cosine similarities (see :class:`MatchingScorer`).
        loss: a loss or composite on ``logits``/``labels`` (default cross-entropy).
    """

    def __init__(
        self,
        frontend: nn.Module,
        encoder: nn.Module,
        scale: float = 10.0,
        loss: nn.Module | None = None,
        **base_kwargs,
    ) -> None:
        super().__init__(frontend, encoder, **base_kwargs)
        self.scorer = MatchingScorer(scale)
        self.loss = as_composite(loss if loss is not None else CrossEntropyLoss())

    def training_step(self, batch: dict, batch_idx: int) -> Tensor:
        n_way, n_shot, n_query = batch["n_way"], batch["n_shot"], batch["n_query"]
        embeddings = self.embed(batch["features"])
        self.track_train_embeddings(embeddings)
        views = episode_blocks(embeddings, batch)
        support, query = split_episode(views, n_way, n_shot, n_query)  # [V*E, W, S|Q, D]
        logits = self.scorer(support, query.flatten(1, 2)).reshape(-1, n_way)  # [V*E*W*Q, W]
        labels = torch.arange(n_way, device=logits.device).repeat_interleave(n_query)
        labels = labels.repeat(views.shape[0])
        loss = self.compute_loss(self.loss, {"logits": logits, "labels": labels},
                                 batch_size=labels.numel())  # fmt: skip
        accuracy = (logits.argmax(-1) == labels).float().mean()
        self.log("train/acc", accuracy, prog_bar=True, batch_size=labels.numel(), sync_dist=True)
        return loss
