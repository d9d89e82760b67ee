"""Evaluation: seeded episodes over cached representations, scorers, windows, mean and 95% CI."""

from audiofsl.evaluation.cache import CachedSplit, EvaluationCache
from audiofsl.evaluation.episodes import EpisodeSettings, sample_episodes
from audiofsl.evaluation.fewshot import evaluate_embeddings
from audiofsl.evaluation.protocol import EvaluationProtocol
from audiofsl.evaluation.scorers import EMBEDDING_TRANSFORMS, EmbeddingTransform, PrototypeScorer
from audiofsl.evaluation.statistics import mean_ci
from audiofsl.evaluation.tasks import WindowRules, evaluate_tasks
from audiofsl.evaluation.windows import (
    TIE_RULES,
    WINDOW_COMBINATIONS,
    combine_window_logits,
    mean_over_windows,
    pick_windows,
    window_table,
)

__all__ = [
    "EMBEDDING_TRANSFORMS",
    "TIE_RULES",
    "WINDOW_COMBINATIONS",
    "CachedSplit",
    "EmbeddingTransform",
    "EpisodeSettings",
    "EvaluationCache",
    "EvaluationProtocol",
    "PrototypeScorer",
    "WindowRules",
    "combine_window_logits",
    "evaluate_embeddings",
    "evaluate_tasks",
    "mean_ci",
    "mean_over_windows",
    "pick_windows",
    "sample_episodes",
    "window_table",
]
