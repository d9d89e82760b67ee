"""A batch's features on the device: augmented training views, or evaluation features."""

from __future__ import annotations

from torch import nn

from audiofsl.augmentations.pipeline import AugmentationPipeline

#: Base seed of the augmented views of methods that fuse views at evaluation too.
EVAL_VIEW_SEED = 20_251


def training_features(batch: dict, frontend: nn.Module, augmentation: AugmentationPipeline) -> dict:
    """Add ``features`` [V*B, C, F, L] (``augmentation.n_views`` augmented views, view-major)
    and ``n_views`` V to a training batch with ``audio`` [B, T]."""
    batch["features"] = augmentation(batch["audio"], frontend)
    batch["n_views"] = augmentation.n_views
    return batch


def evaluation_features(
    batch: dict, frontend: nn.Module, augmentation: AugmentationPipeline, views: bool
) -> dict:
    """Add ``features`` and ``n_views`` to an evaluation batch with ``audio`` [B, T] and
    ``index``: with ``views``, the augmentation's views seeded by the batch's first item (the
    same in every run, the training random state untouched); else the frontend's features, one
    view."""
    if views:
        seed = EVAL_VIEW_SEED + int(batch["index"].min())
        batch["features"] = augmentation.seeded(batch["audio"], frontend, seed)
        batch["n_views"] = augmentation.n_views
    else:
        batch["features"], batch["n_views"] = frontend(batch["audio"]), 1
    return batch
