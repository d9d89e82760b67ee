"""The shared LightningModule every method builds on."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import lightning as L
import torch
from torch import Tensor, nn

from audiofsl.augmentations import AugmentationPipeline
from audiofsl.augmentations.views import evaluation_features, training_features
from audiofsl.data.resident import with_resident_audio
from audiofsl.distributed import current_world, gather_rows
from audiofsl.evaluation import EvaluationProtocol
from audiofsl.evaluation.evaluator import EpisodicEvaluator, SplitEvaluator
from audiofsl.frontends.base import fit_normalization_from
from audiofsl.losses.composite import CompositeLoss, logged_terms
from audiofsl.methods.interfaces import Classifier, DistanceScorer, Scorer
from audiofsl.methods.optim import optimizer_configuration
from audiofsl.methods.train_mean import TrainMeanTracking

#: Checkpoint entry holding the training classes' names in label order.
CLASS_NAMES_KEY = "audiofsl_class_names"


class FewShotMethod(TrainMeanTracking, L.LightningModule):
    """Base of all methods: features, embeddings and optimisation; an evaluator measures.

    Batches get ``features`` [V*B, C, F, L] (view-major) and ``n_views`` V on the device
    (:mod:`audiofsl.augmentations.views`). Validation and test hand :meth:`representation` of
    every window to ``self.evaluator`` (:mod:`audiofsl.evaluation.evaluator`: seeded episodes
    scored by ``self.scorer``, or a classifier's clip accuracy). Subclasses set ``scorer``,
    implement ``training_step``, pass its embeddings to :meth:`track_train_embeddings` (for
    centring at evaluation) and override what inference asks when they have a classifier.

    Args:
        frontend: waveform [B, T] -> features [B, C, F, L].
        encoder: features -> embedding [B, D]; must expose ``out_dim``.
        augmentation: training-only augmentation pipeline (default: none, one view).
        optimizer: partial optimiser taking the parameters (default Adam, lr 1e-3).
        scheduler: optional partial LR scheduler taking the optimiser; stepped each epoch.
        evaluation: episode settings for validation and test (default 5-way 5-shot).
    """

    #: Training classes of the method's classifier (None: no classifier).
    n_classes: int | None = None
    #: What training steps embed with instead of ``encoder`` (the compiled encoder of
    #: :class:`audiofsl.runs.compilation.CompiledTraining`); evaluation always uses ``encoder``.
    training_encoder: Callable[[Tensor], Tensor] | None = None

    def __init__(
        self,
        frontend: nn.Module,
        encoder: nn.Module,
        augmentation: AugmentationPipeline | None = None,
        optimizer: Callable[..., torch.optim.Optimizer] | None = None,
        scheduler: Callable[..., Any] | None = None,
        evaluation: EvaluationProtocol | None = None,
    ) -> None:
        super().__init__()
        self.frontend, self.encoder = frontend, encoder
        self.augmentation = augmentation if augmentation is not None else AugmentationPipeline()
        self.optimizer_factory, self.scheduler_factory = optimizer, scheduler
        self.evaluator: SplitEvaluator = EpisodicEvaluator(evaluation)
        self.scorer: Scorer | None = None
        #: The resolved run configuration and the training classes' names in label order, set
        #: by the training run and stored in every checkpoint.
        self.run_config: dict | None = None
        self.class_names: list[str] | None = None
        self.init_train_mean(encoder.out_dim)

    @property
    def evaluation(self) -> EvaluationProtocol:
        """The validation and test episode settings (the evaluator's)."""
        return self.evaluator.protocol

    def on_after_batch_transfer(self, batch: dict, dataloader_idx: int) -> dict:
        batch = with_resident_audio(batch)
        if self._trainer is not None and self.trainer.training:
            return training_features(batch, self.frontend, self.augmentation)
        return self.evaluation_features(batch)

    def evaluation_features(self, batch: dict) -> dict:
        """Add ``features`` and ``n_views`` to an evaluation batch (views if the evaluator asks)."""
        return evaluation_features(batch, self.frontend, self.augmentation, self.evaluator.views)

    def embed(self, features: Tensor) -> Tensor:
        """Args: features [B, C, F, L]. Returns: embeddings [B, D]."""
        if self.training and self.training_encoder is not None:
            return self.training_encoder(features)
        return self.encoder(features)

    def representation(self, batch: dict) -> Tensor:
        """What the evaluator caches per window: rows [B, *R] (default: the embedding)."""
        return self.embed(batch["features"])

    @torch.no_grad()
    def embed_audio(self, audio: Tensor) -> Tensor:
        """Embeddings [B, D] of waveforms [B, T] at the frontend's rate, not augmented (call
        ``model.eval()`` first so that batch normalisation uses its running statistics)."""
        return self.embed(self.frontend(audio.to(self.device)))

    def training_classifier(self) -> Classifier | None:
        """The classifier over the training classes, or None (no classifier; the default)."""
        return None

    def decision_threshold(self) -> Tensor | None:
        """The multi-label decision threshold [n_classes], or None (single-label; the default)."""
        return None

    def prototype_scorer(self) -> DistanceScorer | None:
        """The scorer if it scores by distance to prototypes (enrolment reuses it), else None."""
        return self.scorer if isinstance(self.scorer, DistanceScorer) else None

    def on_fit_start(self) -> None:
        fit_normalization_from(self.frontend, self.trainer.datamodule)

    def configure_optimizers(self) -> Any:
        # Frozen parameters (a fine-tuning schedule's) join the optimiser when unfrozen.
        parameters = [p for p in self.parameters() if p.requires_grad]
        if not parameters:
            raise ValueError(
                f"{type(self).__name__} has nothing to train: its encoder is frozen "
                "(encoder.freeze=true) and nothing on top of it has parameters. Give the encoder "
                "an adapter (encoder.adapter.out_dim=256), fine-tune it (encoder.freeze=false), "
                "or measure it as it is: python -m audiofsl.eval encoder=NAME +experiment=..."
            )
        return optimizer_configuration(parameters, self.optimizer_factory, self.scheduler_factory)

    def compute_loss(self, loss: CompositeLoss, outputs: dict, batch_size: int) -> Tensor:
        """Apply ``loss`` to the step's ``outputs``; log ``train/loss`` and every term."""
        terms = loss(outputs)
        for key, value in logged_terms(terms).items():
            self.log(key, value, prog_bar=key == "train/loss", batch_size=batch_size,
                     sync_dist=True)  # fmt: skip
        return terms["loss"]

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        self.evaluator.add(self.representation(batch), batch)

    def test_step(self, batch: dict, batch_idx: int) -> None:
        self.evaluator.add(self.representation(batch), batch)

    def on_validation_epoch_end(self) -> None:
        self.log_evaluation("val", measure=not self.trainer.sanity_checking)

    def on_test_epoch_end(self) -> None:
        self.log_evaluation("test")

    def log_evaluation(self, split: str, measure: bool = True) -> None:
        """Log what the evaluator measures on the cached split (``<split>/acc`` on the bar)."""
        # across processes every rank gathers all windows and measures the same tasks
        gather = gather_rows if current_world().distributed else None
        epoch = self.current_epoch
        metrics = self.evaluator.measure(split, self, gather, epoch) if measure else {}
        self.evaluator.clear()
        for key, value in metrics.items():
            self.log(key, value, prog_bar=key == f"{split}/acc", sync_dist=True)

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        if self.run_config is not None:
            checkpoint["audiofsl_config"] = self.run_config
        if self.class_names is not None:  # the label order, for inference on new files
            checkpoint[CLASS_NAMES_KEY] = list(self.class_names)

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        self.class_names = checkpoint.get(CLASS_NAMES_KEY, self.class_names)
