"""The evaluation protocol every method is measured with: which episodes, windows combined how."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from audiofsl.evaluation.cache import CachedSplit
from audiofsl.evaluation.episodes import EpisodeSettings
from audiofsl.evaluation.statistics import mean_ci
from audiofsl.evaluation.tasks import Scorer, WindowRules, evaluate_tasks

#: How validation tasks are drawn over epochs (:attr:`EvaluationProtocol.val_tasks`).
VAL_TASKS = ("fixed", "per_epoch")


@dataclass
class EvaluationProtocol:
    """Validation and test episode settings, and how windows of long clips are combined.

    The same protocol (and so the same seeded tasks) is used for every method; how a batch of
    tasks is scored comes from the method (its scorer), what is measured and reported does not.

    Attributes:
        val: episodes drawn from the validation classes at each validation epoch.
        test: one or more settings for the test classes; the first is reported as
            ``test/acc``, every one as ``test/<tag>/acc``.
        query_windows: ``"vote"``, ``"mean"`` or ``"mean_embedding"`` (see :class:`WindowRules`).
        tie_rule: ``"first"``, ``"min_label"`` or ``"max_posterior"``.
        support_windows: ``"mean"`` or ``"random"``.
        task_chunk: tasks scored per batched step, at most.
        val_tasks: ``"fixed"``: every validation epoch scores the same tasks (``val.seed``), so
            epochs are compared on equal tasks; ``"per_epoch"``: epoch ``e`` draws new tasks
            from seed ``val.seed + e``, as MetaAudio's and the prototypical contrastive learning
            reference's loops draw fresh validation tasks every epoch (still reproducible).
    """

    val: EpisodeSettings = field(default_factory=lambda: EpisodeSettings(n_tasks=500))
    test: list[EpisodeSettings] | EpisodeSettings = field(
        default_factory=lambda: [EpisodeSettings(n_tasks=10_000, seed=1)]
    )
    query_windows: str = "vote"
    tie_rule: str = "first"
    support_windows: str = "mean"
    task_chunk: int = 1000
    val_tasks: str = "fixed"

    def __post_init__(self) -> None:
        self.rules = WindowRules(self.query_windows, self.tie_rule, self.support_windows)
        if not self.test_settings():
            raise ValueError("evaluation.test needs at least one episode setting")
        if self.val_tasks not in VAL_TASKS:
            raise ValueError(
                f"evaluation.val_tasks={self.val_tasks!r}: choose one of {', '.join(VAL_TASKS)}."
            )

    def val_settings(self, epoch: int = 0) -> EpisodeSettings:
        """The validation episodes of ``epoch`` (0-based; see ``val_tasks``)."""
        if self.val_tasks == "fixed":
            return self.val
        return dataclasses.replace(self.val, seed=self.val.seed + int(epoch))

    def test_settings(self) -> list[EpisodeSettings]:
        """The test settings as a list."""
        return [self.test] if isinstance(self.test, EpisodeSettings) else list(self.test)

    def evaluate(
        self, split: CachedSplit, settings: EpisodeSettings, scorer: Scorer
    ) -> dict[str, float]:
        """Mean accuracy and 95% CI half-width over the seeded tasks of ``settings``.

        Args:
            split: every window of the split, represented and prepared by the method.
            settings: which episodes to draw.
            scorer: the method's ``scorer(support, query) -> logits``.
        """
        accuracy = evaluate_tasks(split, settings, scorer, self.rules, self.task_chunk)
        mean, ci95 = mean_ci(accuracy)
        return {"acc": mean, "acc_ci95": ci95}
