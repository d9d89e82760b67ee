"""Supervised classification baseline evaluated by few-shot episodes."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from audiofsl.evaluation import PrototypeScorer
from audiofsl.evaluation.evaluator import split_evaluator
from audiofsl.heads import LinearHead
from audiofsl.losses import BCEWithLogitsLoss, CrossEntropyLoss
from audiofsl.losses.composite import as_composite
from audiofsl.methods.base import FewShotMethod

HeadFactory = Callable[..., nn.Module]


class Supervised(FewShotMethod):
    """Cross-entropy pre-training on the training classes, nearest-prototype evaluation.

    The encoder and a linear classifier over all ``n_classes`` training classes are trained on
    ordinary shuffled mini-batches. The classifier is then discarded: novel classes are
    evaluated on the same seeded few-shot episodes as the episodic methods, by the nearest
    class mean of the embeddings after centring on the mean training embedding and L2
    normalisation (SimpleShot CL2N, Wang et al. 2019, arXiv:1911.04623; the ``scorer``). This is
    the "supervised baseline" that episodic methods are compared against (Chen et al., ICLR
    2019, "A Closer Look at Few-shot Classification").

    Args:
        frontend, encoder, augmentation, optimizer, scheduler, evaluation: see
            :class:`FewShotMethod`.
        n_classes: number of training classes (filled in from the data when built from config).
        head: factory ``head(in_dim=..., n_classes=...)`` (default :class:`LinearHead`) or a
            ready module.
        loss: a loss on ``logits``/``labels`` or a composite (default cross-entropy).
        scorer: evaluation scorer (default: nearest prototype on CL2N embeddings).
        test_by: ``"episodes"`` (few-shot tasks on novel classes, the default) or
            ``"classifier"``: the trained classifier on the val/test clips of the training
            classes (cross-validation folds, official splits), its windows' probabilities
            combined by ``clip_combination``; reported as ``<split>/acc`` with a 95% CI over
            clips.
        clip_combination: ``"mean"`` or ``"max"`` of the windows' class probabilities (or
            ``"mean_logits"``).
        multi_label: train on multi-hot targets (``"targets"`` [B, C], from the batch's
            ``"labels"``, or one-hot from ``"label"``) with a loss that consumes them (BCE,
            sigmoid focal); evaluated by per-class sigmoid probabilities over a decision
            threshold. The threshold is tuned on every validation epoch (the value maximising
            macro F1, :func:`~audiofsl.evaluation.metrics.tune_threshold`), stored with the
            model (a buffer) and used at test; 0.5 without a validation split.
        threshold_per_class: tune one threshold per class rather than one for all.
        positive_weights: per-class positive weights [C] for BCE terms of ``loss`` (from the
            training label counts when built from config with ``"auto"``).
    """

    def __init__(
        self,
        frontend: nn.Module,
        encoder: nn.Module,
        n_classes: int,
        head: HeadFactory | nn.Module | None = None,
        loss: nn.Module | None = None,
        scorer: PrototypeScorer | None = None,
        test_by: str = "episodes",
        clip_combination: str = "mean",
        multi_label: bool = False,
        threshold_per_class: bool = False,
        positive_weights: Sequence[float] | None = None,
        **base_kwargs,
    ) -> None:
        super().__init__(frontend, encoder, **base_kwargs)
        if not isinstance(n_classes, int) or n_classes < 2:
            raise ValueError(f"method.n_classes must be an integer >= 2, got {n_classes!r}")
        self.n_classes = n_classes
        if head is None:
            head = LinearHead
        if not isinstance(head, nn.Module):
            head = head(in_dim=encoder.out_dim, n_classes=n_classes)
        self.head = head
        self.loss = as_composite(loss if loss is not None else CrossEntropyLoss())
        self.scorer = scorer if scorer is not None else PrototypeScorer(transform="center_l2")
        self.multi_label = bool(multi_label)
        if self.multi_label:  # the decision threshold(s), tuned on validation, saved
            self.register_buffer("threshold", torch.full((n_classes,), 0.5))
        if self.multi_label and test_by != "classifier":
            raise ValueError("method.multi_label needs testing by the classifier: set "
                             "method.test_by=classifier")  # fmt: skip
        self.evaluator = split_evaluator(
            test_by, self.evaluation, clip_combination=clip_combination,
            threshold_per_class=threshold_per_class,
        )  # fmt: skip
        needs_targets = "targets" in self.loss.consumes
        if needs_targets != self.multi_label:
            raise ValueError(
                f"method.loss consumes {self.loss.consumes}: multi-label training "
                "(method.multi_label=true) needs a loss on targets (loss=bce or loss=focal), "
                "single-label training a loss on labels."
            )
        if positive_weights is not None:
            weights = torch.as_tensor(list(positive_weights), dtype=torch.float32)
            if weights.shape != (n_classes,):
                raise ValueError(
                    f"method.positive_weights has {weights.numel()} values for {n_classes} classes."
                )
            bce = [m for m in self.loss.modules() if isinstance(m, BCEWithLogitsLoss)]
            if not bce:
                raise ValueError("method.positive_weights needs a BCE loss (loss=bce).")
            for module in bce:
                module.pos_weight = weights.clone()

    def training_step(self, batch: dict, batch_idx: int) -> Tensor:
        embeddings = self.embed(batch["features"])
        self.track_train_embeddings(embeddings)
        logits = self.head(embeddings)  # [V*B, n_classes]
        labels = batch["label"].repeat(batch["n_views"])
        outputs = {"logits": logits, "labels": labels, "embeddings": embeddings}
        if self.multi_label:
            targets = batch.get("labels")
            if targets is None:
                targets = F.one_hot(batch["label"].clamp_min(0), self.n_classes).float()
            outputs["targets"] = targets.float().repeat(batch["n_views"], 1)
        loss = self.compute_loss(self.loss, outputs, batch_size=labels.numel())
        if not self.multi_label:
            accuracy = (logits.argmax(-1) == labels).float().mean()
            self.log(
                "train/acc", accuracy, prog_bar=True, batch_size=labels.numel(), sync_dist=True
            )
        return loss

    def training_classifier(self) -> nn.Module:
        """The linear head over the ``n_classes`` training classes."""
        return self.head

    def decision_threshold(self) -> Tensor | None:
        """The tuned multi-label threshold [n_classes], or None for single-label training."""
        return self.threshold if self.multi_label else None

    def representation(self, batch: dict) -> Tensor:
        """Embeddings for episodes, or the classifier's logits [B, n_classes]."""
        embeddings = self.embed(batch["features"])
        return self.head(embeddings) if self.evaluator.by_classifier else embeddings
