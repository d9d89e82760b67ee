"""Supervised classification baseline evaluated by few-shot episodes."""

from __future__ import annotations

from collections.abc import Callable

from torch import Tensor, nn

from audiofsl.evaluation import PrototypeScorer
from audiofsl.evaluation.classification import CLIP_COMBINATIONS
from audiofsl.heads import LinearHead
from audiofsl.losses import CrossEntropyLoss
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
        clip_combination: ``"mean"`` or ``"max"`` of the windows' class probabilities.
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
        if test_by not in ("episodes", "classifier"):
            raise ValueError(f"method.test_by={test_by!r}: choose episodes or classifier.")
        if clip_combination not in CLIP_COMBINATIONS:
            raise ValueError(f"method.clip_combination: choose one of {CLIP_COMBINATIONS}.")
        self.test_by = test_by
        self.clip_combination = clip_combination

    def training_step(self, batch: dict, batch_idx: int) -> Tensor:
        embeddings = self.embed(batch["features"])
        self.track_train_embeddings(embeddings)
        logits = self.head(embeddings)  # [V*B, n_classes]
        labels = batch["label"].repeat(batch["n_views"])
        outputs = {"logits": logits, "labels": labels, "embeddings": embeddings}
        loss = self.compute_loss(self.loss, outputs, batch_size=labels.numel())
        accuracy = (logits.argmax(-1) == labels).float().mean()
        self.log("train/acc", accuracy, prog_bar=True, batch_size=labels.numel())
        return loss

    def representation(self, batch: dict) -> Tensor:
        """Embeddings for episodes, or the classifier's logits [B, n_classes]."""
        embeddings = self.embed(batch["features"])
        return self.head(embeddings) if self.test_by == "classifier" else embeddings
