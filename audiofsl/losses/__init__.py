"""Losses (each returns a scalar tensor)."""

from audiofsl.losses.classification import CrossEntropyLoss, check_logits_labels
from audiofsl.losses.prototypical import PrototypicalLoss

__all__ = ["CrossEntropyLoss", "PrototypicalLoss", "check_logits_labels"]
