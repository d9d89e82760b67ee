"""Relation networks: a learned comparison of feature maps."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from audiofsl.heads import RelationModule
from audiofsl.losses import RelationMSELoss
from audiofsl.losses.composite import as_composite
from audiofsl.methods.base import FewShotMethod
from audiofsl.samplers.layout import episode_blocks, split_episode


class RelationScorer:
    """Scores cached feature maps with a method's relation module (see :class:`RelationNet`).

    Args:
        relation: the trained relation module.
        shot_reduction: how the support maps of a class are pooled, ``"mean"`` or ``"sum"``.
    """

    #: It builds a feature-map pair for every query and class (sizes evaluation chunks).
    pairs_classes = True

    def __init__(self, relation: RelationModule, shot_reduction: str = "mean") -> None:
        self.relation = relation
        self.shot_reduction = shot_reduction

    def prepare(self, maps: Tensor, train_mean: Tensor | None = None) -> Tensor:
        """Feature maps are scored as they are."""
        return maps

    def __call__(self, support: Tensor, query: Tensor) -> Tensor:
        """Args: support [T, W, S, C, H, W'], query [T, Q, C, H, W']. Returns: [T, Q, W]."""
        protos = self.relation.feature_prototypes(support, self.shot_reduction)
        return self.relation.score(protos, query, logits=True)


class RelationNet(FewShotMethod):
    """Relation network (Sung et al., CVPR 2018, "Learning to Compare").

    Instead of a fixed distance, a small network learns to compare: the encoder's feature map
    of a query is concatenated with the pooled feature map of each class's support clips, and
    the relation module turns each pair into a relation score in (0, 1). Training regresses the
    scores onto 1 for the query's class and 0 otherwise (mean squared error, as in the paper),
    or uses cross-entropy on the pre-sigmoid outputs (``loss=CrossEntropyLoss()``). Works on the
    conv feature maps of Conv4 and CRNN (``encoder.forward_features``); evaluation caches those
    maps and scores tasks with the trained module.

    The step outputs the losses may consume: ``logits`` [V*E*W*Q, W] (pre-sigmoid), ``scores``
    (their sigmoid) and ``labels`` [V*E*W*Q] (E episodes per batch).

    Args:
        frontend, encoder, augmentation, optimizer, scheduler, evaluation: see
            :class:`FewShotMethod`; the encoder must offer ``forward_features``.
        relation: the relation module (its ``in_channels`` are the feature map's channels).
        loss: a loss or composite (default :class:`~audiofsl.losses.RelationMSELoss`).
        shot_reduction: support maps of a class pooled by ``"mean"`` or ``"sum"`` (the paper).
    """

    def __init__(
        self,
        frontend: nn.Module,
        encoder: nn.Module,
        relation: RelationModule,
        loss: nn.Module | None = None,
        shot_reduction: str = "mean",
        **base_kwargs,
    ) -> None:
        if not hasattr(encoder, "forward_features"):
            raise TypeError(f"RelationNet needs an encoder with forward_features, not {encoder}.")
        super().__init__(frontend, encoder, **base_kwargs)
        self.relation = relation
        self.loss = as_composite(loss if loss is not None else RelationMSELoss())
        self.scorer = RelationScorer(relation, shot_reduction)

    def representation(self, batch: dict) -> Tensor:
        """Conv feature maps [B, C', F', L'] of the batch's features [B, C, F, L]."""
        return self.encoder.forward_features(batch["features"])

    def training_step(self, batch: dict, batch_idx: int) -> Tensor:
        n_way, n_shot, n_query = batch["n_way"], batch["n_shot"], batch["n_query"]
        maps = self.representation(batch)
        views = episode_blocks(maps, batch)  # [V*E, W*(S+Q), C, H, W']
        support, query = split_episode(views, n_way, n_shot, n_query, feature_dims=3)
        logits = self.scorer(support, query.flatten(1, 2)).reshape(-1, n_way)  # [V*E*W*Q, W]
        labels = torch.arange(n_way, device=logits.device).repeat_interleave(n_query)
        labels = labels.repeat(views.shape[0])
        outputs = {"logits": logits, "scores": torch.sigmoid(logits), "labels": labels}
        loss = self.compute_loss(self.loss, outputs, batch_size=labels.numel())
        accuracy = (logits.argmax(-1) == labels).float().mean()
        self.log("train/acc", accuracy, prog_bar=True, batch_size=labels.numel(), sync_dist=True)
        return loss
