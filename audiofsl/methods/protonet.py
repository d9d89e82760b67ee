"""Prototypical networks trained episodically."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from audiofsl.heads import PrototypeHead
from audiofsl.losses import PrototypicalLoss
from audiofsl.methods.base import FewShotMethod
from audiofsl.samplers.layout import split_episode


class ProtoNet(FewShotMethod):
    """Prototypical network (Snell, Swersky & Zemel, NeurIPS 2017).

    Each training batch is one episode: the support clips of a class are averaged into a
    prototype, and every query clip is classified by a softmax over its negative distances to
    the prototypes. Training minimises the cross-entropy of the query labels, so the encoder
    learns an embedding in which clips cluster around their class mean. The episode shape
    (n_way, n_shot, n_query) comes from the training sampler and may differ from the
    evaluation episodes. With several augmented views, each view is its own episode.

    Args:
        frontend, encoder, augmentation, optimizer, scheduler, evaluation: see
            :class:`FewShotMethod`.
        head: prototype head (default squared euclidean distance).
        loss: loss on the head's logits (default :class:`PrototypicalLoss`).
    """

    def __init__(
        self,
        frontend: nn.Module,
        encoder: nn.Module,
        head: nn.Module | None = None,
        loss: nn.Module | None = None,
        **base_kwargs,
    ) -> None:
        super().__init__(frontend, encoder, **base_kwargs)
        self.head = head if head is not None else PrototypeHead()
        self.loss = loss if loss is not None else PrototypicalLoss()

    def training_step(self, batch: dict, batch_idx: int) -> Tensor:
        n_way, n_shot, n_query = batch["n_way"], batch["n_shot"], batch["n_query"]
        n_views = batch["n_views"]
        embeddings = self.embed(batch["features"])
        self.track_train_embeddings(embeddings)
        views = embeddings.reshape(n_views, -1, embeddings.shape[-1])
        support, query = split_episode(views, n_way, n_shot, n_query)
        logits = self.head(support, query).reshape(-1, n_way)  # [V * n_way * n_query, n_way]
        labels = torch.arange(n_way, device=logits.device).repeat_interleave(n_query)
        labels = labels.repeat(n_views)
        loss = self.log_loss(self.loss(logits, labels), batch_size=labels.numel())
        accuracy = (logits.argmax(-1) == labels).float().mean()
        self.log("train/acc", accuracy, prog_bar=True, batch_size=labels.numel())
        return loss
