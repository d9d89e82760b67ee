"""The shared LightningModule every method builds on."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from typing import Any

import lightning as L
import torch
from torch import Tensor, nn

from audiofsl.augmentations import AugmentationPipeline
from audiofsl.evaluation import EpisodeSettings, EvaluationCache, EvaluationProtocol
from audiofsl.evaluation.cache import CachedSplit
from audiofsl.evaluation.classification import classifier_metrics
from audiofsl.losses.composite import CompositeLoss
from audiofsl.methods.interfaces import Classifier, DistanceScorer

OptimizerFactory = Callable[..., torch.optim.Optimizer]
SchedulerFactory = Callable[..., Any]

#: Clips drawn (seeded) from the training classes to estimate global feature statistics.
NORMALIZATION_CLIPS = 2000
#: Base seed of the augmented views of methods that fuse views at evaluation too.
EVAL_VIEW_SEED = 20_251
#: Checkpoint entry holding the training classes' names in label order.
CLASS_NAMES_KEY = "audiofsl_class_names"


class FewShotMethod(L.LightningModule):
    """Base of all methods: features, embeddings, optimisation and few-shot evaluation.

    It owns the device-side part of the data flow: in ``on_after_batch_transfer`` a training
    batch is repeated to ``augmentation.n_views`` views, augmented as waveforms, turned into
    features by the frontend and augmented as spectrograms; evaluation batches only go through
    the frontend. ``batch["features"]`` is then [V*B, C, F, L] (view-major) and
    ``batch["n_views"]`` is V.

    Validation and test represent every window of every clip of the split once
    (:meth:`representation`, an embedding unless a method caches something else), then the
    shared :class:`EvaluationProtocol` draws the seeded episodes, and the method's ``scorer``
    turns cached support and query representations of many tasks into logits
    ``[tasks, queries, n_way]``: every method is measured on the same tasks, scored its own way.

    Subclasses set ``self.scorer`` (a :class:`~audiofsl.methods.interfaces.Scorer`, e.g.
    :class:`audiofsl.evaluation.PrototypeScorer`), implement ``training_step``, and call
    :meth:`track_train_embeddings` with the embeddings of their training batch (for centring
    transforms at evaluation). Methods with a classifier over their training classes override
    :meth:`training_classifier` (and :meth:`decision_threshold` for multi-label ones): inference
    asks these, never the method's attributes.

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

    def __init__(
        self,
        frontend: nn.Module,
        encoder: nn.Module,
        augmentation: AugmentationPipeline | None = None,
        optimizer: OptimizerFactory | None = None,
        scheduler: SchedulerFactory | None = None,
        evaluation: EvaluationProtocol | None = None,
    ) -> None:
        super().__init__()
        self.frontend = frontend
        self.encoder = encoder
        self.augmentation = augmentation if augmentation is not None else AugmentationPipeline()
        self.optimizer_factory = optimizer
        self.scheduler_factory = scheduler
        self.evaluation = evaluation if evaluation is not None else EvaluationProtocol()
        #: The resolved run configuration, stored in every checkpoint when set.
        self.run_config: dict | None = None
        self.register_buffer("train_embedding_mean", torch.zeros(encoder.out_dim))
        self.register_buffer("train_mean_fitted", torch.zeros((), dtype=torch.bool))
        self._train_sum = torch.zeros(encoder.out_dim, dtype=torch.float64)
        self._train_count = 0
        self._eval_cache = EvaluationCache()
        self.scorer = None  # set by subclasses
        #: Whether evaluation sees seeded augmented views too (methods that fuse views).
        self.eval_views = False
        #: "episodes" (few-shot tasks scored by ``scorer``) or "classifier" (methods with a
        #: classifier: ``representation`` returns its logits, accuracy over clips).
        self.test_by = "episodes"
        #: How a classifier's window probabilities are combined per clip ("mean" or "max").
        self.clip_combination = "mean"
        #: The training classes' names in label order: set by the training run from its data,
        #: saved in every checkpoint, read back with it.
        self.class_names: list[str] | None = None
        #: The latest evaluated split: {"split": "val" | "test", "cached": CachedSplit} (the
        #: classifier's logits with test_by="classifier", else the representations before the
        #: scorer's transform), for reports such as plots.
        self.last_evaluation: dict | None = None

    # ----------------------------------------------------------------- data flow
    def on_after_batch_transfer(self, batch: dict, dataloader_idx: int) -> dict:
        audio = batch["audio"]
        if self._trainer is not None and self.trainer.training:
            features = self.augmentation(audio, self.frontend)
            batch["n_views"] = self.augmentation.n_views
        elif self.eval_views:
            features = self._seeded_views(audio, int(batch["index"].min()))
            batch["n_views"] = self.augmentation.n_views
        else:
            features = self.frontend(audio)
            batch["n_views"] = 1
        batch["features"] = features
        return batch

    def _seeded_views(self, audio: Tensor, first_index: int) -> Tensor:
        """Augmented views for evaluation, seeded by the batch's first item: the same views in
        every run, drawn without touching the global random state of training."""
        devices = [audio.device.index or 0] if audio.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(EVAL_VIEW_SEED + first_index)
            return self.augmentation(audio, self.frontend)

    def embed(self, features: Tensor) -> Tensor:
        """Args: features [B, C, F, L]. Returns: embeddings [B, D]."""
        return self.encoder(features)

    def representation(self, batch: dict) -> Tensor:
        """What evaluation caches for each window of an evaluation batch (default: embedding).

        Args:
            batch: with ``"features"`` [V*B, C, F, L] and ``"n_views"`` V.

        Returns:
            [B, *R], the rows the scorer reads.
        """
        return self.embed(batch["features"])

    @torch.no_grad()
    def embed_audio(self, audio: Tensor) -> Tensor:
        """Embed raw waveforms without augmentation (for notebooks and inference).

        Call ``model.eval()`` first so that batch normalisation uses its running statistics.

        Args:
            audio: [B, T] mono waveforms at the frontend's sample rate.

        Returns:
            embeddings [B, D].
        """
        return self.embed(self.frontend(audio.to(self.device)))

    @torch.no_grad()
    def embed_loader(self, loader: Iterable[dict]) -> CachedSplit:
        """Embed every window a sequential loader yields (eval mode, no augmentation).

        For measurements outside the trainer's loops, such as the linear probe.

        Returns:
            The :class:`CachedSplit` of the embeddings [N_windows, D] (the encoder's, never a
            classifier's logits or a projection).
        """
        was_training = self.training
        self.eval()
        cache = EvaluationCache()
        try:
            for batch in loader:
                batch = {k: v.to(self.device) if isinstance(v, Tensor) else v
                         for k, v in batch.items()}  # fmt: skip
                audio = batch["audio"]
                if self.eval_views:  # methods that fuse views embed the fused views
                    batch["features"] = self._seeded_views(audio, int(batch["index"].min()))
                    batch["n_views"] = self.augmentation.n_views
                    cache.add(self.representation(batch), batch)
                else:
                    cache.add(self.embed(self.frontend(audio)), batch)
        finally:
            self.train(was_training)
        return cache.finalize()

    # ----------------------------------------------------------------- what inference asks
    def training_classifier(self) -> Classifier | None:
        """The classifier over the training classes (embeddings [B, D] -> logits
        [B, n_classes]), or None for methods without one (the default)."""
        return None

    def decision_threshold(self) -> Tensor | None:
        """The multi-label decision threshold [n_classes], or None (single-label; the default)."""
        return None

    def fitted_train_mean(self) -> Tensor | None:
        """The mean training embedding [D] of the last training epoch, or None before one."""
        return self.train_embedding_mean if bool(self.train_mean_fitted) else None

    def prototype_scorer(self) -> DistanceScorer | None:
        """The scorer when it scores by distance to class prototypes (so that new classes can
        be enrolled the way episodes are scored), else None (e.g. RelationNet's)."""
        return self.scorer if isinstance(self.scorer, DistanceScorer) else None

    def track_train_embeddings(self, embeddings: Tensor) -> None:
        """Accumulate the epoch's mean training embedding (for centring at evaluation)."""
        detached = embeddings.detach().to(torch.float64)
        self._train_sum = self._train_sum.to(detached.device) + detached.sum(0)
        self._train_count += detached.shape[0]

    def on_train_epoch_start(self) -> None:
        self._train_sum = torch.zeros_like(self._train_sum)
        self._train_count = 0

    def on_validation_epoch_start(self) -> None:
        # Validation (and the checkpoint written after it) runs before on_train_epoch_end.
        self._commit_train_mean()

    def on_train_epoch_end(self) -> None:
        self._commit_train_mean()

    def _commit_train_mean(self) -> None:
        """Store this epoch's mean training embedding (its weights change during the epoch)."""
        if self._train_count:
            mean = self._train_sum / self._train_count
            self.train_embedding_mean.copy_(mean.to(self.train_embedding_mean))
            self.train_mean_fitted.fill_(True)

    # ----------------------------------------------------------------- fitting
    def on_fit_start(self) -> None:
        if getattr(self.frontend, "needs_fitting", False):
            loader = self.trainer.datamodule.statistics_dataloader(NORMALIZATION_CLIPS)
            self.frontend.fit_normalization(loader)

    def configure_optimizers(self) -> Any:
        # Frozen parameters (a fine-tuning schedule's) join the optimiser when unfrozen.
        parameters = [p for p in self.parameters() if p.requires_grad]
        if self.optimizer_factory is None:
            optimizer = torch.optim.Adam(parameters, lr=1e-3)
        else:
            optimizer = self.optimizer_factory(parameters)
        if self.scheduler_factory is None:
            return optimizer
        scheduler = self.scheduler_factory(optimizer)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler}}

    def compute_loss(self, loss: CompositeLoss, outputs: dict, batch_size: int) -> Tensor:
        """Apply ``loss`` to the step's ``outputs``; log ``train/loss`` and every term."""
        terms = loss(outputs)
        for name, value in terms.items():
            if name != "loss" and len(terms) == 2:
                continue  # a single term is the total
            key = "train/loss" if name == "loss" else f"train/loss_{name}"
            self.log(key, value, prog_bar=name == "loss", batch_size=batch_size)
        return terms["loss"]

    # ----------------------------------------------------------------- evaluation
    def validation_step(self, batch: dict, batch_idx: int) -> None:
        self._eval_cache.add(self.representation(batch), batch)

    def test_step(self, batch: dict, batch_idx: int) -> None:
        self._eval_cache.add(self.representation(batch), batch)

    def predict_step(self, batch: dict, batch_idx: int) -> dict[str, Tensor]:
        return {"embedding": self.embed(batch["features"]), "label": batch["label"]}

    def on_validation_epoch_end(self) -> None:
        if not self.trainer.sanity_checking:
            self.log_evaluation("val", [self.evaluation.val])
        self._eval_cache.clear()

    def on_test_epoch_end(self) -> None:
        self.log_evaluation("test", self.evaluation.test_settings())
        self._eval_cache.clear()

    def log_evaluation(self, split: str, settings: list[EpisodeSettings]) -> None:
        """Score the cached split on its seeded episodes (or, with ``test_by="classifier"``,
        the classifier's clip accuracy); log ``<split>/acc`` and the CI."""
        if self.test_by == "classifier":
            cached = self._eval_cache.finalize()
            self.last_evaluation = {"split": split, "cached": cached}
            for name, value in self.classifier_metrics(split, cached).items():
                self.log(f"{split}/{name}", value, prog_bar=name == "acc")
            return
        if self.scorer is None:
            raise TypeError(f"{type(self).__name__} sets no scorer; it cannot be evaluated.")
        cached = self._eval_cache.finalize()
        self.last_evaluation = {"split": split, "cached": dataclasses.replace(cached)}
        train_mean = self.fitted_train_mean()
        cached.representations = self.scorer.prepare(cached.representations, train_mean)
        for index, setting in enumerate(settings):
            result = self.evaluation.evaluate(cached, setting, self.scorer)
            prefixes = [split] if index == 0 else []
            if split == "test":
                prefixes.append(f"{split}/{setting.tag}")
            for prefix in prefixes:
                self.log(f"{prefix}/acc", result["acc"], prog_bar=prefix == split)
                self.log(f"{prefix}/acc_ci95", result["acc_ci95"])

    def classifier_metrics(self, split: str, cached: CachedSplit) -> dict[str, float]:
        """The classifier's metrics on a cached split (see :func:`classifier_metrics`)."""
        return classifier_metrics(cached, self.clip_combination)

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        if self.run_config is not None:
            checkpoint["audiofsl_config"] = self.run_config
        if self.class_names is not None:  # the label order, for inference on new files
            checkpoint[CLASS_NAMES_KEY] = list(self.class_names)

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        self.class_names = checkpoint.get(CLASS_NAMES_KEY, self.class_names)
