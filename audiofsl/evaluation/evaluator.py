"""Evaluators: what validation and test measure once every window of a split is represented.

A method hands its evaluator one representation per window of each evaluation batch
(:meth:`SplitEvaluator.add`); at the end of the split the evaluator measures them:

- :class:`EpisodicEvaluator` draws the protocol's seeded few-shot tasks and scores them with the
  method's :class:`~audiofsl.methods.interfaces.Scorer`, the same tasks for every method;
- :class:`ClassifierEvaluator` reads the representations as a classifier's logits over the
  training classes and reports clip accuracy (windows combined per clip), or multi-label
  metrics at a decision threshold tuned on validation.

Either keeps the latest measured split (:attr:`SplitEvaluator.last`) for reports such as plots.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from audiofsl.evaluation.cache import CachedSplit, EvaluationCache, GatherFn
from audiofsl.evaluation.classification import (
    CLIP_COMBINATIONS,
    classifier_metrics,
    clip_probabilities,
)
from audiofsl.evaluation.metrics import tune_threshold
from audiofsl.evaluation.protocol import EvaluationProtocol

if TYPE_CHECKING:
    from audiofsl.methods.interfaces import EvaluatedMethod

#: How a run is tested: ``"episodes"`` (few-shot tasks) or ``"classifier"`` (its classifier).
TEST_BY = ("episodes", "classifier")


@dataclass
class EvaluatedSplit:
    """The latest measured split.

    Attributes:
        split: ``"val"`` or ``"test"``.
        cached: the windows' representations ``[N_windows, *R]`` before the scorer's
            transform (episodes), or the classifier's logits ``[N_windows, C]``.
    """

    split: str
    cached: CachedSplit


class SplitEvaluator(ABC):
    """Collects a split's window representations and measures them (see subclasses).

    Args:
        protocol: the validation and test episode settings (also what the data module builds
            evaluation sets for).
        views: whether evaluation sees the augmentation's seeded views of every window, for
            methods that fuse views (their ``representation`` reads ``n_views`` views).
    """

    #: Whether the representations are a classifier's logits.
    by_classifier = False

    def __init__(self, protocol: EvaluationProtocol | None = None, views: bool = False) -> None:
        self.protocol = protocol if protocol is not None else EvaluationProtocol()
        self.views = bool(views)
        self.cache = EvaluationCache()
        self.last: EvaluatedSplit | None = None

    def add(self, representations: Tensor, batch: dict) -> None:
        """Cache ``representations`` [B, *R] of the batch's windows."""
        self.cache.add(representations, batch)

    def clear(self) -> None:
        self.cache.clear()

    def measure(
        self,
        split: str,
        method: EvaluatedMethod,
        gather: GatherFn | None = None,
        epoch: int = 0,
    ) -> dict[str, Tensor | float]:
        """Measure the split cached so far (see :meth:`score`); across processes, ``gather``
        joins every rank's windows first, and every rank measures the whole split alike."""
        return self.score(split, self.cache.finalize(gather), method, epoch)

    @abstractmethod
    def score(
        self, split: str, cached: CachedSplit, method: EvaluatedMethod, epoch: int = 0
    ) -> dict[str, Tensor | float]:
        """Measure ``cached`` (the windows' representations of ``split``) for ``method`` at
        training epoch ``epoch``; keep it as :attr:`last`. Returns metrics by their logged key
        (``<split>/acc`` first)."""


class EpisodicEvaluator(SplitEvaluator):
    """Seeded few-shot tasks over the cached representations, scored by the method's scorer.

    Validation measures ``protocol.val_settings(epoch)``; test measures every setting of
    ``protocol.test_settings()`` (the first also as plain ``test/acc``, each under
    ``test/<tag>/``).
    """

    def score(
        self, split: str, cached: CachedSplit, method: EvaluatedMethod, epoch: int = 0
    ) -> dict[str, Tensor | float]:
        scorer = method.scorer
        if scorer is None:
            raise TypeError(f"{type(method).__name__} sets no scorer; it cannot be evaluated.")
        self.last = EvaluatedSplit(split, cached)
        prepared = scorer.prepare(cached.representations, method.fitted_train_mean())
        cached = dataclasses.replace(cached, representations=prepared)
        if split == "val":
            settings = [self.protocol.val_settings(epoch)]
        else:
            settings = self.protocol.test_settings()
        metrics: dict[str, Tensor | float] = {}
        for index, setting in enumerate(settings):
            result = self.protocol.evaluate(cached, setting, scorer)
            prefixes = [split] if index == 0 else []
            if split == "test":
                prefixes.append(f"{split}/{setting.tag}")
            for prefix in prefixes:
                metrics[f"{prefix}/acc"] = result["acc"]
                metrics[f"{prefix}/acc_ci95"] = result["acc_ci95"]
        return metrics


class ClassifierEvaluator(SplitEvaluator):
    """A classifier's logits over the training classes, measured per clip.

    Args:
        protocol, views: see :class:`SplitEvaluator`.
        clip_combination: how a clip's window probabilities combine (``"mean"``, ``"max"`` or
            ``"mean_logits"``, see :func:`~audiofsl.evaluation.classification.clip_probabilities`).
        threshold_per_class: multi-label: tune one threshold per class instead of one for all.

    A method is multi-label when its ``decision_threshold()`` is a tensor ``[C]`` (its buffer,
    so that checkpoints keep it): that threshold is tuned in place on every validation (macro
    F1, :func:`~audiofsl.evaluation.metrics.tune_threshold`) and applied to the sigmoid
    probabilities.
    """

    by_classifier = True

    def __init__(
        self,
        protocol: EvaluationProtocol | None = None,
        views: bool = False,
        clip_combination: str = "mean",
        threshold_per_class: bool = False,
    ) -> None:
        super().__init__(protocol, views)
        if clip_combination not in CLIP_COMBINATIONS:
            raise ValueError(f"method.clip_combination: choose one of {CLIP_COMBINATIONS}.")
        self.clip_combination = clip_combination
        self.threshold_per_class = bool(threshold_per_class)

    def score(
        self, split: str, cached: CachedSplit, method: EvaluatedMethod, epoch: int = 0
    ) -> dict[str, Tensor | float]:
        self.last = EvaluatedSplit(split, cached)
        threshold = method.decision_threshold()
        if threshold is not None:
            if split == "val":
                self._tune_threshold(cached, threshold)
            threshold = threshold if self.threshold_per_class else float(threshold[0])
        metrics = classifier_metrics(cached, self.clip_combination, threshold)
        return {f"{split}/{name}": value for name, value in metrics.items()}

    def _tune_threshold(self, cached: CachedSplit, threshold: Tensor) -> None:
        """Set the method's ``threshold`` [C] in place to the macro-F1 best on ``cached``."""
        probabilities = clip_probabilities(cached, self.clip_combination, multi_label=True)
        tuned = tune_threshold(
            probabilities, cached.clip_targets, per_class=self.threshold_per_class
        )
        threshold.copy_(torch.as_tensor(tuned).to(threshold).expand_as(threshold))


def split_evaluator(
    test_by: str,
    protocol: EvaluationProtocol | None = None,
    has_classifier: bool = True,
    clip_combination: str = "mean",
    threshold_per_class: bool = False,
) -> SplitEvaluator:
    """The evaluator a method's ``test_by`` setting asks for.

    Raises:
        ValueError: naming ``method.test_by`` when it is unknown, or ``classifier`` for a
            method without one.
    """
    if test_by not in TEST_BY or (test_by == "classifier" and not has_classifier):
        choices = "episodes, or classifier with a classifier" if not has_classifier else (
            "episodes or classifier")  # fmt: skip
        raise ValueError(f"method.test_by={test_by!r}: choose {choices}.")
    if clip_combination not in CLIP_COMBINATIONS:
        raise ValueError(f"method.clip_combination: choose one of {CLIP_COMBINATIONS}.")
    if test_by == "classifier":
        return ClassifierEvaluator(
            protocol, clip_combination=clip_combination, threshold_per_class=threshold_per_class
        )
    return EpisodicEvaluator(protocol)
