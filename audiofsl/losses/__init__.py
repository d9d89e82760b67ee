"""Losses (each returns a scalar tensor and names its inputs in ``consumes``)."""

from audiofsl.losses.angular import AngularPrototypicalLoss
from audiofsl.losses.classification import UNLABELLED, CrossEntropyLoss, check_logits_labels
from audiofsl.losses.composite import CompositeLoss, LossTerm
from audiofsl.losses.contrastive import ColaLoss, NTXentLoss, SupConLoss
from audiofsl.losses.prototypical import PrototypicalLoss
from audiofsl.losses.prototypical_contrastive import PrototypicalContrastiveLoss
from audiofsl.losses.relation import RelationMSELoss

__all__ = [
    "AngularPrototypicalLoss",
    "ColaLoss",
    "CompositeLoss",
    "CrossEntropyLoss",
    "LossTerm",
    "NTXentLoss",
    "PrototypicalContrastiveLoss",
    "PrototypicalLoss",
    "RelationMSELoss",
    "SupConLoss",
    "UNLABELLED",
    "check_logits_labels",
]
