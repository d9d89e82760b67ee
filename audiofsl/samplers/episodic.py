"""Seeded N-way K-shot episode sampling over dataset labels (no I/O)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Sampler

from audiofsl.samplers.drawing import ClassTable, draw_episodes
from audiofsl.samplers.specs import EpisodeSpec


def epoch_generator(seed: int, epoch: int) -> torch.Generator:
    """A CPU generator whose state depends on both ``seed`` and ``epoch``.

    The pair is mixed by numpy's ``SeedSequence`` so that nearby (seed, epoch) pairs give
    unrelated streams (unlike ``seed + epoch``, where (0, 1) and (1, 0) would coincide).
    """
    state = np.random.SeedSequence([seed, epoch]).generate_state(1, dtype=np.uint64)[0]
    return torch.Generator().manual_seed(int(state))


class EpisodicBatchSampler(Sampler[list[int]]):
    """Yields episodes as lists of dataset indices in class-major order, ``E`` at a time.

    Each episode draws ``spec.n_way`` distinct classes uniformly, then ``n_shot + n_query``
    distinct clips of each uniformly without replacement (Snell et al. 2017). Episode ``e`` of
    an epoch lists class ``c``'s clips at positions ``c*K .. (c+1)*K - 1`` with
    ``K = n_shot + n_query``, support first. An epoch's episodes are one batched draw by the
    algorithm evaluation uses too (:func:`audiofsl.samplers.drawing.draw_episodes`). With
    ``spec.episodes_per_batch`` E > 1, a batch lists E consecutive episodes of that draw, one
    after another: the same episodes as with E = 1, in ``n_episodes / E`` batches.

    The randomness of an epoch comes from a generator seeded by ``(seed, epoch)``: the same
    pair always gives the same episodes, whatever happened before. The epoch is read at the
    start of each iteration from ``epoch_fn`` when given (a data module passes the trainer's
    current epoch, which also makes resumed runs replay the right episodes), else from the
    last :meth:`set_epoch` call (0 by default).

    Args:
        labels: [N] integer class of every dataset item (any non-negative ids).
        spec: episode shape and ``n_episodes`` per epoch.
        seed: non-negative sampler seed.
        epoch_fn: optional callable returning the current epoch.

    Raises:
        ValueError: if fewer than ``n_way`` classes have ``n_shot + n_query`` clips, or if any
            class has fewer clips than that (drop such classes before sampling).
    """

    def __init__(
        self,
        labels: Sequence[int] | Tensor,
        spec: EpisodeSpec,
        seed: int = 0,
        epoch_fn: Callable[[], int] | None = None,
    ) -> None:
        if not isinstance(spec, EpisodeSpec):
            raise TypeError(f"EpisodicBatchSampler: spec must be an EpisodeSpec, got {spec!r}.")
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ValueError(f"EpisodicBatchSampler: seed={seed!r} must be an integer >= 0.")
        self.spec = spec
        self.seed = seed
        self.epoch_fn = epoch_fn
        self.epoch = 0
        self.class_ids, counts, _ = _count_classes(labels)
        _check_classes(self.class_ids, counts, spec)
        self._table = ClassTable.from_labels(torch.as_tensor(labels))

    def set_epoch(self, epoch: int) -> None:
        """Select the episodes of ``epoch`` (used when no ``epoch_fn`` was given)."""
        if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
            raise ValueError(f"EpisodicBatchSampler.set_epoch: epoch={epoch!r} must be >= 0.")
        self.epoch = epoch

    def current_epoch(self) -> int:
        """The epoch the next iteration will sample."""
        return int(self.epoch_fn()) if self.epoch_fn is not None else self.epoch

    def __len__(self) -> int:
        return self.spec.n_batches

    def __iter__(self) -> Iterator[list[int]]:
        for batch in self.episodes().reshape(self.spec.n_batches, -1):
            yield batch.tolist()

    def episodes(self, epoch: int | None = None) -> Tensor:
        """All episodes of an epoch at once.

        Args:
            epoch: the epoch to sample (default: :meth:`current_epoch`).

        Returns:
            LongTensor [n_episodes, n_way, n_shot + n_query] of dataset indices.
        """
        epoch = self.current_epoch() if epoch is None else epoch
        generator = epoch_generator(self.seed, epoch)
        spec = self.spec
        return draw_episodes(
            self._table, spec.n_episodes, spec.n_way, spec.clips_per_class, generator
        )


def _count_classes(labels: Sequence[int] | Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Distinct class ids [C], clips per class [C] and each item's class position [N]."""
    labels = torch.as_tensor(labels)
    if labels.dim() != 1 or labels.numel() == 0:
        raise ValueError(
            f"EpisodicBatchSampler: labels must be a non-empty 1-D sequence of class ids, "
            f"got shape {tuple(labels.shape)}."
        )
    if labels.dtype.is_floating_point or labels.dtype.is_complex or labels.dtype == torch.bool:
        raise ValueError(f"EpisodicBatchSampler: labels must be integers, got {labels.dtype}.")
    class_ids, inverse, counts = torch.unique(labels, return_inverse=True, return_counts=True)
    return class_ids, counts, inverse


def _check_classes(class_ids: Tensor, counts: Tensor, spec: EpisodeSpec) -> None:
    need = spec.clips_per_class
    eligible = int((counts >= need).sum())
    if eligible < spec.n_way:
        raise ValueError(
            f"EpisodicBatchSampler: n_way={spec.n_way} but only {eligible} of {len(counts)} "
            f"classes have at least n_shot + n_query = {need} clips; lower n_way, n_shot or "
            "n_query, or add classes."
        )
    small = torch.nonzero(counts < need).flatten()
    if len(small) > 0:
        first = int(small[0])
        raise ValueError(
            f"EpisodicBatchSampler: class {int(class_ids[first])} has {int(counts[first])} clips "
            f"but an episode needs n_shot + n_query = {need} ({len(small)} such classes); drop "
            "classes with too few clips before sampling."
        )
