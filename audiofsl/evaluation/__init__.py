"""Evaluation: seeded episodes over cached embeddings, nearest prototype, mean and 95% CI."""

from audiofsl.evaluation.episodes import EpisodeSettings, sample_episodes
from audiofsl.evaluation.fewshot import (
    EMBEDDING_TRANSFORMS,
    EmbeddingTransform,
    evaluate_embeddings,
)
from audiofsl.evaluation.protocol import EvaluationProtocol
from audiofsl.evaluation.statistics import mean_ci

__all__ = [
    "EMBEDDING_TRANSFORMS",
    "EmbeddingTransform",
    "EpisodeSettings",
    "EvaluationProtocol",
    "evaluate_embeddings",
    "mean_ci",
    "sample_episodes",
]
