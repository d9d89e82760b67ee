"""Heads: prototypes and distances, linear classifier, relation module, projection MLP,
attention over views, pairwise similarities."""

from audiofsl.heads.distances import DISTANCES, pairwise_distance, prototypes
from audiofsl.heads.linear import LinearHead
from audiofsl.heads.projection import ProjectionHead
from audiofsl.heads.prototype import PrototypeHead
from audiofsl.heads.relation import RelationModule
from audiofsl.heads.similarity import BilinearSimilarity, CosineSimilarity
from audiofsl.heads.view_attention import ViewAttention, from_view_major

__all__ = [
    "DISTANCES",
    "BilinearSimilarity",
    "CosineSimilarity",
    "LinearHead",
    "ProjectionHead",
    "PrototypeHead",
    "RelationModule",
    "ViewAttention",
    "from_view_major",
    "pairwise_distance",
    "prototypes",
]
