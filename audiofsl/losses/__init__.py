"""Losses (each returns a scalar tensor and names its inputs in ``consumes``)."""

from audiofsl.losses.angular import AngularPrototypicalLoss
from audiofsl.losses.classification import UNLABELLED, CrossEntropyLoss, check_logits_labels
from audiofsl.losses.composite import CompositeLoss, LossTerm
from audiofsl.losses.contrastive import ColaLoss, NTXentLoss, SupConLoss
from audiofsl.losses.multilabel import (
    ArcFaceLoss,
    BCEWithLogitsLoss,
    SigmoidFocalLoss,
    check_logits_targets,
)
from audiofsl.losses.prototypical import PrototypicalLoss
from audiofsl.losses.prototypical_contrastive import PrototypicalContrastiveLoss
from audiofsl.losses.relation import RelationMSELoss

__all__ = [
    "AngularPrototypicalLoss",
    "ArcFaceLoss",
    "BCEWithLogitsLoss",
    "ColaLoss",
    "CompositeLoss",
    "CrossEntropyLoss",
    "LossTerm",
    "NTXentLoss",
    "PrototypicalContrastiveLoss",
    "PrototypicalLoss",
    "RelationMSELoss",
    "SigmoidFocalLoss",
    "SupConLoss",
    "UNLABELLED",
    "check_logits_labels",
    "check_logits_targets",
]
