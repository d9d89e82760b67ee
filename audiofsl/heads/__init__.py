"""Heads: prototypes and distances, linear classifier."""

from audiofsl.heads.distances import DISTANCES, pairwise_distance, prototypes
from audiofsl.heads.linear import LinearHead
from audiofsl.heads.prototype import PrototypeHead

__all__ = ["DISTANCES", "LinearHead", "PrototypeHead", "pairwise_distance", "prototypes"]
