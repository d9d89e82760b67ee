"""New classes from a few examples: prototypes of support embeddings, nearest-prototype queries.

The rule of the few-shot evaluation (Snell et al., 2017) applied to files outside any dataset:
each new class's prototype is the mean of its support embeddings after the method's scorer
transform (e.g. SimpleShot's centring and L2 normalisation), and a query goes to the nearest
prototype under the scorer's distance.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor

from audiofsl.heads import pairwise_distance

__all__ = ["Enrolment", "QueryAssignment", "readable_owners", "support_files"]


def support_files(
    support: Mapping[str, Sequence[str | os.PathLike] | str | os.PathLike],
) -> tuple[list[str], list[str | os.PathLike], list[int]]:
    """The class names, every support file in order, and each file's class index.

    Args:
        support: ``{class name: audio files}`` (a single path is one file).
    """
    if not support:
        raise ValueError("enrol: support is empty; give {class name: [audio files]}.")
    classes = [str(name) for name in support]
    paths, owner = [], []
    for index, files in enumerate(support.values()):
        files = [files] if isinstance(files, str | os.PathLike) else list(files)
        paths += files
        owner += [index] * len(files)
    return classes, paths, owner


def readable_owners(
    classes: Sequence[str], owner: Sequence[int], kept: Sequence[int],
    failures: Sequence[tuple[str, str]],
) -> Tensor:  # fmt: skip
    """``[N_kept]`` class index of each readable support file (positions ``kept``).

    Raises:
        ValueError: naming a class that has no readable file, with its files' reasons.
    """
    failed = sorted(set(range(len(owner))) - set(kept))  # aligned with failures
    for index, name in enumerate(classes):
        if not any(owner[p] == index for p in kept):
            reasons = [f"{path}: {reason}"
                       for p, (path, reason) in zip(failed, failures, strict=True)
                       if owner[p] == index]  # fmt: skip
            raise ValueError(
                f"enrol: class '{name}' has no readable support file"
                + (f" ({'; '.join(reasons)})" if reasons else " (none given)")
            )
    return torch.tensor([owner[p] for p in kept], dtype=torch.long)


@dataclass(frozen=True)
class QueryAssignment:
    """A query file assigned to the nearest enrolled class.

    Attributes:
        path: the file.
        label: the class of the nearest prototype.
        confidence: its softmax probability over the negative distances to the prototypes.
        distances: the distance to each enrolled class's prototype.
    """

    path: str
    label: str
    confidence: float
    distances: dict[str, float]


@dataclass
class Enrolment:
    """Enrolled classes: their prototypes and how embeddings are compared with them.

    Attributes:
        classes: the class names, in the order given.
        prototypes: ``[K, D]`` each class's mean prepared support embedding.
        center: ``[D]`` the mean the scorer's centring transform subtracts.
        scorer: the method's prototype scorer (its ``prepare`` and ``distance``), or None:
            embeddings as they are, euclidean distance (methods scored otherwise).
        counts: support files per class.
        failures: support files that could not be used, as ``(path, reason)``.
    """

    classes: list[str]
    prototypes: Tensor
    center: Tensor
    scorer: object | None = None
    counts: dict[str, int] = field(default_factory=dict)
    failures: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def from_embeddings(
        cls,
        embeddings: Tensor,
        owner: Tensor,
        classes: Sequence[str],
        scorer: object | None = None,
        train_mean: Tensor | None = None,
    ) -> Enrolment:
        """Prototypes of support embeddings.

        Args:
            embeddings: ``[N, D]`` support embeddings.
            owner: ``[N]`` long class index (into ``classes``) of each; every class needs one.
            classes: the class names.
            scorer: the method's prototype scorer, or None (see
                :meth:`~audiofsl.methods.FewShotMethod.prototype_scorer`).
            train_mean: ``[D]`` the run's mean training embedding for centring transforms
                (None: the mean of ``embeddings``).

        Returns:
            The enrolment (``failures`` empty).
        """
        counts = torch.bincount(owner, minlength=len(classes))
        if len(counts) != len(classes) or not bool((counts > 0).all()):
            raise ValueError("Enrolment: every class needs at least one support embedding.")
        center = embeddings.mean(dim=0) if train_mean is None else train_mean.float()
        enrolment = cls(list(classes), torch.empty(0), center, scorer)
        prepared = enrolment.prepare(embeddings)
        sums = torch.zeros(len(classes), prepared.shape[1]).index_add_(0, owner, prepared)
        enrolment.prototypes = sums / counts[:, None]
        enrolment.counts = {name: int(c) for name, c in zip(classes, counts, strict=True)}
        return enrolment

    @property
    def distance(self) -> str:
        """The scorer's distance (``"euclidean"`` without a prototype scorer)."""
        return "euclidean" if self.scorer is None else self.scorer.distance

    def prepare(self, embeddings: Tensor) -> Tensor:
        """The scorer's transform of ``embeddings`` ``[N, D]`` (centring on :attr:`center`)."""
        return embeddings if self.scorer is None else self.scorer.prepare(embeddings, self.center)

    def assign(self, embeddings: Tensor, paths: Sequence[str]) -> list[QueryAssignment]:
        """The nearest class of each query.

        Args:
            embeddings: ``[Q, D]`` query embeddings.
            paths: the Q query files.

        Returns:
            One :class:`QueryAssignment` per query; the confidence is the softmax over the
            negative distances ``[Q, K]``.
        """
        distances = pairwise_distance(self.prepare(embeddings), self.prototypes, self.distance)
        confidence = (-distances).softmax(dim=-1)
        best = confidence.argmax(dim=-1)
        rows = []
        for row, path in enumerate(paths):
            k = int(best[row])
            values = distances[row].tolist()
            rows.append(QueryAssignment(
                path=str(path),
                label=self.classes[k],
                confidence=float(confidence[row, k]),
                distances=dict(zip(self.classes, values, strict=True)),
            ))  # fmt: skip
        return rows
