"""Seeded N-way K-shot episode sampling over dataset labels (no I/O)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Sampler

from audiofsl.samplers.specs import EpisodeSpec


def epoch_generator(seed: int, epoch: int) -> torch.Generator:
    """A CPU generator whose state depends on both ``seed`` and ``epoch``.

    The pair is mixed by numpy's ``SeedSequence`` so that nearby (seed, epoch) pairs give
    unrelated streams (unlike ``seed + epoch``, where (0, 1) and (1, 0) would coincide).
    """
    state = np.random.SeedSequence([seed, epoch]).generate_state(1, dtype=np.uint64)[0]
    return torch.Generator().manual_seed(int(state))


class EpisodicBatchSampler(Sampler[list[int]]):
    """Yields episodes as lists of dataset indices in class-major order.

    Each episode draws ``spec.n_way`` distinct classes uniformly, then ``n_shot + n_query``
    distinct clips of each uniformly without replacement (Snell et al. 2017). Episode ``e`` of
    an epoch lists class ``c``'s clips at positions ``c*K .. (c+1)*K - 1`` with
    ``K = n_shot + n_query``, support first. Sampling is one batched draw per episode: random
    keys over a padded [classes, max_clips] index table, the K smallest keys per class.

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
        self.class_ids, counts, inverse = _count_classes(labels)
        _check_classes(self.class_ids, counts, spec)
        self._pool, self._padding = _class_table(inverse, counts)

    def set_epoch(self, epoch: int) -> None:
        """Select the episodes of ``epoch`` (used when no ``epoch_fn`` was given)."""
        if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
            raise ValueError(f"EpisodicBatchSampler.set_epoch: epoch={epoch!r} must be >= 0.")
        self.epoch = epoch

    def current_epoch(self) -> int:
        """The epoch the next iteration will sample."""
        return int(self.epoch_fn()) if self.epoch_fn is not None else self.epoch

    def __len__(self) -> int:
        return self.spec.n_episodes

    def __iter__(self) -> Iterator[list[int]]:
        generator = epoch_generator(self.seed, self.current_epoch())
        for _ in range(self.spec.n_episodes):
            yield self._episode(generator).reshape(-1).tolist()

    def episodes(self, epoch: int | None = None) -> Tensor:
        """All episodes of an epoch at once.

        Args:
            epoch: the epoch to sample (default: :meth:`current_epoch`).

        Returns:
            LongTensor [n_episodes, n_way, n_shot + n_query] of dataset indices.
        """
        epoch = self.current_epoch() if epoch is None else epoch
        generator = epoch_generator(self.seed, epoch)
        return torch.stack([self._episode(generator) for _ in range(self.spec.n_episodes)])

    def _episode(self, generator: torch.Generator) -> Tensor:
        """One episode: LongTensor [n_way, n_shot + n_query] of dataset indices."""
        n_classes, max_clips = self._pool.shape
        classes = torch.randperm(n_classes, generator=generator)[: self.spec.n_way]
        keys = torch.rand((self.spec.n_way, max_clips), generator=generator)
        keys.masked_fill_(self._padding[classes], 2.0)  # padding sorts after every real clip
        columns = keys.topk(self.spec.clips_per_class, dim=1, largest=False).indices
        return self._pool[classes.unsqueeze(1), columns]


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


def _class_table(inverse: Tensor, counts: Tensor) -> tuple[Tensor, Tensor]:
    """Dataset indices grouped by class, padded: pool [C, max_count] and padding mask [C, max]."""
    order = torch.argsort(inverse, stable=True)
    rows = inverse[order]
    starts = torch.cumsum(counts, 0) - counts
    columns = torch.arange(len(order)) - starts[rows]
    pool = torch.zeros((len(counts), int(counts.max())), dtype=torch.long)
    pool[rows, columns] = order
    padding = torch.arange(pool.shape[1]).unsqueeze(0) >= counts.unsqueeze(1)
    return pool, padding
