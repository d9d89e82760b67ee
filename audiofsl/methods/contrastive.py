"""Contrastive representation learning: COLA, SimCLR, CLAR and SupCon on one method."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from audiofsl.data.resident import with_resident_audio
from audiofsl.evaluation import PrototypeScorer
from audiofsl.evaluation.evaluator import split_evaluator
from audiofsl.losses.composite import as_composite
from audiofsl.methods.base import FewShotMethod

HeadFactory = Callable[..., nn.Module]


def random_windows(audio: Tensor, window: int, n_windows: int = 2) -> Tensor:
    """``n_windows`` random windows of every clip, cut on the clip's device.

    Args:
        audio: [B, T] waveforms.
        window: window length in samples (a clip shorter than it is looped first).
        n_windows: windows per clip.

    Returns:
        [n_windows * B, window], view-major (row ``v * B + i`` is window ``v`` of clip ``i``),
        each window starting at an independent uniform offset (global RNG).
    """
    batch, length = audio.shape
    if length < window:
        audio = audio.repeat(1, -(-window // length))[:, :window]
        length = window
    starts = torch.randint(0, length - window + 1, (n_windows, batch, 1), device=audio.device)
    positions = starts + torch.arange(window, device=audio.device)  # [V, B, window]
    rows = audio.unsqueeze(0).expand(n_windows, -1, -1)
    return rows.gather(2, positions).reshape(n_windows * batch, window)


class ContrastiveMethod(FewShotMethod):
    """Learns embeddings by contrasting views of clips (self-supervised or semi-supervised).

    Each training clip gives V = 2 views, made in one of two ways:

    - **windows** (``window_seconds`` set): two random windows of the same loaded clip, cut on
      the device so a clip is decoded once per step — COLA (Saeed, Grangier & Zeghidour,
      ICASSP 2021, arXiv:2010.10915), whose other augmentation is none;
    - **augmentations** (default): the augmentation pipeline's ``n_views`` augmented views —
      SimCLR (Chen et al., ICML 2020) and CLAR (Al-Tahan & Mohsenzadeh, AISTATS 2021).

    Both views go through the frontend and the encoder; the ``projection`` head maps the
    embeddings to the space of the contrastive loss. The step outputs the losses consume are
    ``views`` [V, B, P] (projections), ``labels`` [V*B] (view-major; -1 for clips without a
    label), ``embeddings`` [V*B, D] and, with a ``classifier``, ``logits`` [V*B, C]. So COLA is
    :class:`~audiofsl.losses.ColaLoss` on ``views``; SimCLR :class:`~audiofsl.losses.NTXentLoss`;
    SupCon (Khosla et al., NeurIPS 2020) :class:`~audiofsl.losses.SupConLoss` on ``views`` and
    ``labels``; CLAR the composite of NT-Xent and a cross-entropy on the classifier's
    ``logits`` of the labelled clips of both views (unlabelled clips add only the contrastive
    term; the labelled fraction comes from ``data.subset``).

    Evaluation uses the encoder's embeddings (never the projection, as in all these papers): by
    default the seeded few-shot episodes of novel classes with nearest-prototype scoring on
    centred, L2-normalised embeddings; with a classifier, ``test_by="classifier"`` reports the
    classifier on val/test clips of the training classes (folds, official splits), windows
    combined by ``clip_combination``. A linear probe on frozen embeddings and fine-tuning are
    available for any trained encoder from ``python -m audiofsl.eval``.

    Args:
        frontend, encoder, augmentation, optimizer, scheduler, evaluation: see
            :class:`FewShotMethod`.
        projection: module mapping embeddings [N, D] to projections [N, P].
        loss: a loss or :class:`~audiofsl.losses.CompositeLoss` over the step outputs above.
        window_seconds: cut two random windows of this length from each training clip (COLA:
            1.0); None to use the augmentation pipeline's views.
        sample_rate: sample rate of the audio in Hz (needed with ``window_seconds``; default:
            the frontend's ``sample_rate``).
        classifier: optional factory ``classifier(in_dim=..., n_classes=...)`` or module for the
            supervised branch (CLAR).
        n_classes: training classes (filled in from the data when built from config; needed
            with a classifier).
        scorer: evaluation scorer for episodes (default: nearest prototype, CL2N).
        test_by: ``"episodes"`` or ``"classifier"`` (needs a classifier).
        clip_combination: ``"mean"`` or ``"max"`` of the windows' class probabilities.
    """

    def __init__(
        self,
        frontend: nn.Module,
        encoder: nn.Module,
        projection: nn.Module,
        loss: nn.Module,
        window_seconds: float | None = None,
        sample_rate: int | None = None,
        classifier: HeadFactory | nn.Module | None = None,
        n_classes: int | None = None,
        scorer: PrototypeScorer | None = None,
        test_by: str = "episodes",
        clip_combination: str = "mean",
        **base_kwargs,
    ) -> None:
        super().__init__(frontend, encoder, **base_kwargs)
        self.projection = projection
        self.loss = as_composite(loss)
        self.window_samples = None
        if window_seconds is not None:
            rate = sample_rate if sample_rate is not None else getattr(frontend, "sample_rate", 0)
            if not window_seconds > 0 or not rate:
                raise ValueError(
                    f"method.window_seconds={window_seconds} needs a positive value and a sample "
                    "rate (method.sample_rate, or a frontend with sample_rate)."
                )
            if self.augmentation.n_views != 1:
                raise ValueError(
                    "method.window_seconds makes the two views from windows; use an "
                    f"augmentation with n_views=1 (got {self.augmentation.n_views})."
                )
            self.window_samples = max(1, round(window_seconds * rate))
        elif self.augmentation.n_views < 2:
            raise ValueError(
                f"{type(self).__name__} contrasts views: give an augmentation with n_views >= 2 "
                "(e.g. augmentation=clar) or set method.window_seconds (COLA's window pairs)."
            )
        if classifier is not None and not isinstance(classifier, nn.Module):
            if not isinstance(n_classes, int) or n_classes < 2:
                raise ValueError(f"method.n_classes must be an integer >= 2, got {n_classes!r}")
            classifier = classifier(in_dim=encoder.out_dim, n_classes=n_classes)
        self.classifier = classifier
        self.n_classes = n_classes
        missing = {"logits"} & set(self.loss.consumes) if classifier is None else set()
        if missing:
            raise ValueError("method.loss reads the classifier's logits: set method.classifier.")
        self.evaluator = split_evaluator(
            test_by, self.evaluation, classifier is not None, clip_combination=clip_combination
        )
        self.scorer = scorer if scorer is not None else PrototypeScorer(transform="center_l2")

    @property
    def n_views(self) -> int:
        return 2 if self.window_samples is not None else self.augmentation.n_views

    def on_after_batch_transfer(self, batch: dict, dataloader_idx: int) -> dict:
        batch = with_resident_audio(batch)
        if self.window_samples is None or self._trainer is None or not self.trainer.training:
            return super().on_after_batch_transfer(batch, dataloader_idx)
        windows = random_windows(batch["audio"], self.window_samples, n_windows=2)
        batch["features"] = self.augmentation(windows, self.frontend)
        batch["n_views"] = 2
        return batch

    def training_step(self, batch: dict, batch_idx: int) -> Tensor:
        n_views = batch["n_views"]
        embeddings = self.embed(batch["features"])  # [V*B, D]
        self.track_train_embeddings(embeddings)
        projections = self.projection(embeddings)
        labels = batch["label"].repeat(n_views)
        outputs = {
            "views": projections.reshape(n_views, -1, projections.shape[-1]),
            "labels": labels,
            "embeddings": embeddings,
        }
        if self.classifier is not None:
            outputs["logits"] = self.classifier(embeddings)
        return self.compute_loss(self.loss, outputs, batch_size=labels.numel())

    def training_classifier(self) -> nn.Module | None:
        """The supervised branch's classifier (CLAR), or None."""
        return self.classifier

    def representation(self, batch: dict) -> Tensor:
        """Embeddings for episodes, or the classifier's logits [B, C]."""
        embeddings = self.embed(batch["features"])
        return self.classifier(embeddings) if self.evaluator.by_classifier else embeddings
