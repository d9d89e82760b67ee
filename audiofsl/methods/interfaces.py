"""The small typed interfaces the parts of a method meet, as :class:`typing.Protocol`.

Code that uses a trained method (inference, enrolment, evaluation, plots) asks these interfaces
instead of probing attributes: any class with the members below satisfies them, no subclassing
needed, and ``isinstance`` works on the ones marked runtime-checkable.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from torch import Tensor


@runtime_checkable
class Encoder(Protocol):
    """Features ``[B, C, F, L]`` -> embeddings ``[B, out_dim]``."""

    out_dim: int

    def __call__(self, features: Tensor) -> Tensor: ...


@runtime_checkable
class Scorer(Protocol):
    """Scores few-shot tasks over cached representations.

    ``prepare`` runs once over a split's representations ``[N, *R]`` (``train_mean`` ``[D]`` or
    None); ``__call__`` turns support ``[T, W, S, *R]`` and query ``[T, Q, *R]`` into logits
    ``[T, Q, W]``.
    """

    def prepare(self, representations: Tensor, train_mean: Tensor | None = None) -> Tensor: ...

    def __call__(self, support: Tensor, query: Tensor) -> Tensor: ...


@runtime_checkable
class DistanceScorer(Scorer, Protocol):
    """A scorer by distance to class prototypes (``distance``: ``"euclidean"``,
    ``"squared_euclidean"`` or ``"cosine"``), which enrolment of new classes can reuse."""

    distance: str


@runtime_checkable
class StepLoss(Protocol):
    """A training loss over a step's named outputs; ``consumes`` names the outputs it reads."""

    consumes: frozenset[str] | set[str] | tuple[str, ...]

    def __call__(self, outputs: dict[str, Tensor]) -> Tensor | dict[str, Tensor]: ...


@runtime_checkable
class Classifier(Protocol):
    """Embeddings ``[B, D]`` -> logits ``[B, n_classes]`` over a method's training classes
    (e.g. :class:`~audiofsl.heads.LinearHead`)."""

    n_classes: int

    def __call__(self, embeddings: Tensor) -> Tensor: ...


@runtime_checkable
class EvaluatedMethod(Protocol):
    """What an evaluator asks of the method it measures (see
    :mod:`audiofsl.evaluation.evaluator`): its scorer of few-shot tasks, the mean training
    embedding for centring, and a multi-label decision threshold."""

    scorer: Scorer | None

    def fitted_train_mean(self) -> Tensor | None: ...

    def decision_threshold(self) -> Tensor | None: ...
