"""Prototypical networks trained episodically."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from audiofsl.evaluation import PrototypeScorer
from audiofsl.heads import PrototypeHead
from audiofsl.losses import PrototypicalLoss
from audiofsl.losses.composite import as_composite
from audiofsl.methods.base import FewShotMethod
from audiofsl.samplers.layout import episode_blocks, split_episode


class ProtoNet(FewShotMethod):
    """Prototypical network (Snell, Swersky & Zemel, NeurIPS 2017).

    Each training batch is one episode: the support clips of a class are averaged into a
    prototype, and every query clip is classified by a softmax over its negative distances to
    the prototypes. Training minimises the cross-entropy of the query labels, so the encoder
    learns an embedding in which clips cluster around their class mean. With several augmented
    views, each view is its own episode (the views enrich the episode); a batch of E episodes
    (``sampler.episodes_per_batch``) averages the loss over them. Extra loss terms that
    read the episode's embeddings, such as the prototypical contrastive loss (CPL) or the
    angular prototypical loss (APL), are added through a composite ``loss``.

    The step outputs the losses may consume: ``logits`` [V*E*W*Q, W] and ``labels`` [V*E*W*Q]
    (query rows class-major within each view and episode), ``support`` [V*E, W, S, D] and
    ``query`` [V*E, W, Q, D].

    Args:
        frontend, encoder, augmentation, optimizer, scheduler, evaluation: see
            :class:`FewShotMethod`.
        head: prototype head for training (default squared euclidean distance).
        loss: a loss or :class:`~audiofsl.losses.CompositeLoss` (default prototypical).
        scorer: evaluation scorer (default: nearest prototype with the head's distance).
    """

    def __init__(
        self,
        frontend: nn.Module,
        encoder: nn.Module,
        head: nn.Module | None = None,
        loss: nn.Module | None = None,
        scorer: PrototypeScorer | None = None,
        **base_kwargs,
    ) -> None:
        super().__init__(frontend, encoder, **base_kwargs)
        self.head = head if head is not None else PrototypeHead()
        self.loss = as_composite(loss if loss is not None else PrototypicalLoss())
        self.scorer = scorer if scorer is not None else PrototypeScorer(self.head.distance)

    def episode_embeddings(self, batch: dict) -> Tensor:
        """Embeddings of each episode's clips per view: [V*E, W*(S+Q), D]."""
        embeddings = self.embed(batch["features"])
        self.track_train_embeddings(embeddings)
        return episode_blocks(embeddings, batch)

    def training_step(self, batch: dict, batch_idx: int) -> Tensor:
        n_way, n_shot, n_query = batch["n_way"], batch["n_shot"], batch["n_query"]
        views = self.episode_embeddings(batch)
        support, query = split_episode(views, n_way, n_shot, n_query)
        logits = self.head(support, query).reshape(-1, n_way)  # [V * E * W * Q, W]
        labels = torch.arange(n_way, device=logits.device).repeat_interleave(n_query)
        labels = labels.repeat(views.shape[0])
        outputs = {"logits": logits, "labels": labels, "support": support, "query": query}
        loss = self.compute_loss(self.loss, outputs, batch_size=labels.numel())
        accuracy = (logits.argmax(-1) == labels).float().mean()
        self.log("train/acc", accuracy, prog_bar=True, batch_size=labels.numel(), sync_dist=True)
        return loss
