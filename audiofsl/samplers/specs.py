"""Plain settings objects describing how training batches are drawn."""

from __future__ import annotations

from dataclasses import dataclass


def _require_int(owner: str, name: str, value: object, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{owner}.{name}={value!r} must be an integer >= {minimum}.")


@dataclass(frozen=True)
class EpisodeShape:
    """The shape of an N-way K-shot episode: ``n_way`` classes, ``n_shot`` support and
    ``n_query`` query clips of each (Vinyals et al. 2016; Snell et al. 2017).

    The one episode-shape type: the training sampler (:class:`EpisodeSpec`), the evaluation
    episodes (:class:`~audiofsl.evaluation.EpisodeSettings`) and the feasibility checks of the
    data (:class:`~audiofsl.data.feasibility.EpisodeNeed`) extend it with what each adds, and
    validate their values where they are built.
    """

    n_way: int = 5
    n_shot: int = 5
    n_query: int = 5

    @property
    def clips_per_class(self) -> int:
        """Clips drawn from each class of an episode: ``n_shot + n_query``."""
        return self.n_shot + self.n_query

    @property
    def batch_size(self) -> int:
        """Rows of one episodic batch: ``n_way * (n_shot + n_query)``."""
        return self.n_way * self.clips_per_class

    @property
    def shape(self) -> EpisodeShape:
        """The bare shape (without what a subclass adds)."""
        return EpisodeShape(self.n_way, self.n_shot, self.n_query)


@dataclass(frozen=True)
class EpisodeSpec(EpisodeShape):
    """Training episodes: their shape and how many episodes make an epoch.

    An episode draws ``n_way`` classes and ``n_shot + n_query`` distinct clips of each
    (Vinyals et al. 2016, "Matching Networks for One Shot Learning"; Snell et al. 2017).
    The defaults (5-way 5-shot) follow the MetaAudio benchmark (Heggan et al. 2022).

    Args:
        n_way: Classes per episode (>= 2).
        n_shot: Support clips per class (>= 1).
        n_query: Query clips per class (>= 1).
        n_episodes: Episodes per training epoch (>= 1).
        episodes_per_batch: Episodes per optimiser step, ``E`` (>= 1, dividing ``n_episodes``):
            one forward over their ``E * n_way * (n_shot + n_query)`` clips, the losses
            averaged over the episodes (MetaAudio's meta-batch of tasks). An epoch's episodes
            are the same for every ``E``, grouped ``E`` at a time.
    """

    n_way: int = 5
    n_shot: int = 5
    n_query: int = 5
    n_episodes: int = 100
    episodes_per_batch: int = 1

    def __post_init__(self) -> None:
        if isinstance(self.n_way, int) and not isinstance(self.n_way, bool) and self.n_way < 2:
            raise ValueError(
                f"EpisodeSpec.n_way={self.n_way} must be an integer >= 2: an episode tells "
                "classes apart. With fewer than four classes, train a classifier on every class "
                "(held-out clips of each) with +experiment=synthetic_supervised in place of the "
                "sampler settings, or enrol the classes from example clips with python -m "
                "audiofsl.enrol (see the README's inference section)."
            )
        _require_int("EpisodeSpec", "n_way", self.n_way, 2)
        _require_int("EpisodeSpec", "n_shot", self.n_shot, 1)
        _require_int("EpisodeSpec", "n_query", self.n_query, 1)
        _require_int("EpisodeSpec", "n_episodes", self.n_episodes, 1)
        _require_int("EpisodeSpec", "episodes_per_batch", self.episodes_per_batch, 1)
        if self.n_episodes % self.episodes_per_batch:
            per_batch = self.episodes_per_batch
            suggestion = max(per_batch, self.n_episodes // per_batch * per_batch)
            raise ValueError(
                f"sampler.episodes_per_batch={self.episodes_per_batch} must divide "
                f"sampler.n_episodes={self.n_episodes} (every step takes as many episodes); "
                f"e.g. sampler.n_episodes={suggestion}."
            )

    @property
    def n_batches(self) -> int:
        """Optimiser steps per epoch: ``n_episodes / episodes_per_batch``."""
        return self.n_episodes // self.episodes_per_batch


@dataclass
class MiniBatchSpec:
    """Ordinary shuffled mini-batches over the training clips.

    Args:
        batch_size: Clips per batch (>= 1).
        drop_last: Drop the last incomplete batch of an epoch.
    """

    batch_size: int = 64
    drop_last: bool = True

    def __post_init__(self) -> None:
        _require_int("MiniBatchSpec", "batch_size", self.batch_size, 1)
        if not isinstance(self.drop_last, bool):
            raise ValueError(f"MiniBatchSpec.drop_last={self.drop_last!r} must be True or False.")
