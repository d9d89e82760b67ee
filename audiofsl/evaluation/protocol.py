"""The evaluation protocol a method is measured with: which episodes, scored how."""

from __future__ import annotations

from dataclasses import dataclass, field

from torch import Tensor

from audiofsl.evaluation.episodes import EpisodeSettings
from audiofsl.evaluation.fewshot import EMBEDDING_TRANSFORMS, evaluate_embeddings
from audiofsl.evaluation.statistics import mean_ci
from audiofsl.heads import DISTANCES


@dataclass
class EvaluationProtocol:
    """Validation and test episode settings plus the nearest-prototype scoring rule.

    The same protocol (and so the same seeded tasks) is used for every method: episodic
    methods and the supervised baseline alike are scored by the nearest class mean of their
    embeddings.

    Attributes:
        val: episodes drawn from the validation classes at each validation epoch.
        test: one or more settings for the test classes; the first is reported as
            ``test/acc``, every one as ``test/<tag>/acc``.
        distance: distance between queries and prototypes.
        transform: SimpleShot embedding transform applied before scoring.
    """

    val: EpisodeSettings = field(default_factory=lambda: EpisodeSettings(n_tasks=500))
    test: list[EpisodeSettings] | EpisodeSettings = field(
        default_factory=lambda: [EpisodeSettings(n_tasks=10_000, seed=1)]
    )
    distance: str = "squared_euclidean"
    transform: str = "none"

    def __post_init__(self) -> None:
        if self.distance not in DISTANCES:
            raise ValueError(f"evaluation.distance={self.distance!r}: choose one of {DISTANCES}")
        if self.transform not in EMBEDDING_TRANSFORMS:
            raise ValueError(
                f"evaluation.transform={self.transform!r}: choose one of {EMBEDDING_TRANSFORMS}"
            )
        if not self.test_settings():
            raise ValueError("evaluation.test needs at least one episode setting")

    def test_settings(self) -> list[EpisodeSettings]:
        """The test settings as a list."""
        return [self.test] if isinstance(self.test, EpisodeSettings) else list(self.test)

    def evaluate(
        self,
        embeddings: Tensor,
        labels: Tensor,
        settings: EpisodeSettings,
        train_mean: Tensor | None = None,
    ) -> dict[str, float]:
        """Mean accuracy and 95% CI half-width over the seeded tasks of ``settings``.

        Args:
            embeddings: [N, D] embeddings of every clip of the split.
            labels: [N] their class labels.
            settings: which episodes to draw.
            train_mean: [D] mean training embedding, for the centring transforms.
        """
        accuracy = evaluate_embeddings(
            embeddings,
            labels,
            settings.n_way,
            settings.n_shot,
            settings.n_query,
            settings.n_tasks,
            settings.seed,
            distance=self.distance,
            transform=self.transform,
            train_mean=train_mean,
        )
        mean, ci95 = mean_ci(accuracy)
        return {"acc": mean, "acc_ci95": ci95}
