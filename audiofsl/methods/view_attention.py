"""Prototypical networks on augmented views fused by self-attention."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from audiofsl.evaluation.evaluator import EpisodicEvaluator
from audiofsl.heads import ViewAttention
from audiofsl.methods.protonet import ProtoNet
from audiofsl.samplers.layout import split_episode


class ViewAttentionProtoNet(ProtoNet):
    """ProtoNet whose clip embedding fuses V augmented views with self-attention.

    From "Prototypical contrastive learning for improved few-shot audio classification" (MLSP
    2025, arXiv:2509.10074): each clip is seen as V views (the augmentation pipeline's
    ``n_views``; typically the original and V-1 SpecAugment views), each view is embedded, one
    transformer layer attends across the views of a clip, and the attended views are
    concatenated into a ``V*D`` embedding from which prototypes are built. Evaluation uses V
    seeded views of every window (the same in every run). A contrastive term (CPL or APL) in
    the composite ``loss`` reads ``query`` embeddings fused from the views in a shuffled order
    (the first view stays first, the others are permuted), as the reference does, against
    prototypes of the unshuffled fusion.

    The step outputs: ``logits`` [E*W*Q, W], ``labels`` [E*W*Q], ``support`` [E, W, S, V*D]
    and ``query`` [E, W, Q, V*D] (shuffled-view fusion), for E episodes per batch.

    Args:
        frontend, encoder, augmentation, head, loss, scorer, optimizer, scheduler,
            evaluation: see :class:`ProtoNet`; ``augmentation.n_views`` must equal
            ``attention.n_views``.
        attention: the view fusion (``attention.dim`` = ``encoder.out_dim``).
    """

    def __init__(
        self, frontend: nn.Module, encoder: nn.Module, attention: ViewAttention, **kwargs
    ) -> None:
        super().__init__(frontend, encoder, **kwargs)
        if self.augmentation.n_views != attention.n_views or attention.dim != encoder.out_dim:
            raise ValueError(
                f"augmentation.n_views={self.augmentation.n_views} and encoder.out_dim="
                f"{encoder.out_dim} must equal the attention's n_views={attention.n_views} and "
                f"dim={attention.dim}."
            )
        self.attention = attention
        self.evaluator = EpisodicEvaluator(self.evaluation, views=True)

    def representation(self, batch: dict) -> Tensor:
        """Fused embeddings [B, V*D] of the batch's V views (view-major features)."""
        return self.attention(self.embed(batch["features"]))

    def training_step(self, batch: dict, batch_idx: int) -> Tensor:
        n_way, n_shot, n_query = batch["n_way"], batch["n_shot"], batch["n_query"]
        embeddings = self.embed(batch["features"])  # [V*B, D], view-major
        n_views, n_episodes = batch["n_views"], batch.get("episodes_per_batch", 1)
        views = embeddings.reshape(n_views, -1, embeddings.shape[-1])
        fused = self.attention(embeddings)  # [B, V*D]
        support, query = split_episode(fused.reshape(n_episodes, -1, fused.shape[-1]),
                                       n_way, n_shot, n_query)  # fmt: skip
        order = torch.cat([torch.zeros(1, dtype=torch.long), 1 + torch.randperm(n_views - 1)])
        shuffled = self.attention(views[order.to(views.device)].flatten(0, 1))
        _, shuffled_query = split_episode(shuffled.reshape(n_episodes, -1, shuffled.shape[-1]),
                                          n_way, n_shot, n_query)  # fmt: skip
        logits = self.head(support, query).reshape(-1, n_way)  # [E*W*Q, W]
        labels = torch.arange(n_way, device=logits.device).repeat_interleave(n_query)
        labels = labels.repeat(n_episodes)
        outputs = {"logits": logits, "labels": labels, "support": support, "query": shuffled_query}
        loss = self.compute_loss(self.loss, outputs, batch_size=labels.numel())
        accuracy = (logits.argmax(-1) == labels).float().mean()
        self.log("train/acc", accuracy, prog_bar=True, batch_size=labels.numel(), sync_dist=True)
        return loss
