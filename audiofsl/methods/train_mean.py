"""The mean training embedding of an epoch, which centring transforms subtract at evaluation."""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch import Tensor, nn

from audiofsl.distributed import current_world


class EpochMean:
    """Accumulates embeddings ``[B, D]`` over a training epoch (in float64) and writes their
    mean into a method's buffers when asked (the weights change during the epoch, so only the
    epoch's own embeddings count)."""

    def __init__(self, dim: int) -> None:
        self.sum = torch.zeros(dim, dtype=torch.float64)
        self.count = 0

    def reset(self) -> None:
        self.sum = torch.zeros_like(self.sum)
        self.count = 0

    def add(self, embeddings: Tensor) -> None:
        detached = embeddings.detach().to(torch.float64)
        self.sum = self.sum.to(detached.device) + detached.sum(0)
        self.count += detached.shape[0]

    def commit(self, mean: Tensor, fitted: Tensor) -> None:
        """Copy the epoch's mean into ``mean`` [D] and set ``fitted`` (no-op before any).

        Across processes, the mean is over every rank's embeddings (each rank calls this).
        """
        total, count = self.sum.to(mean.device, copy=True), self.count
        if current_world().distributed:
            counts = torch.tensor([float(count)], dtype=torch.float64, device=mean.device)
            dist.all_reduce(total)
            dist.all_reduce(counts)
            count = int(counts.item())
        if count:
            mean.copy_((total / count).to(mean))
            fitted.fill_(True)


class TrainMeanTracking(nn.Module):
    """Mixin of a LightningModule keeping the mean training embedding of the last epoch.

    The module's ``training_step`` passes its embeddings to :meth:`track_train_embeddings`; the
    mean is committed into the buffers ``train_embedding_mean`` [D] and ``train_mean_fitted``
    (so checkpoints keep it) before validation and at the end of each training epoch, and read
    back with :meth:`fitted_train_mean`. Call :meth:`init_train_mean` in ``__init__``.
    """

    def init_train_mean(self, dim: int) -> None:
        self.register_buffer("train_embedding_mean", torch.zeros(dim))
        self.register_buffer("train_mean_fitted", torch.zeros((), dtype=torch.bool))
        self._epoch_mean = EpochMean(dim)

    def track_train_embeddings(self, embeddings: Tensor) -> None:
        """Accumulate the epoch's mean training embedding (for centring at evaluation)."""
        self._epoch_mean.add(embeddings)

    def fitted_train_mean(self) -> Tensor | None:
        """The mean training embedding [D] of the last training epoch, or None before one."""
        return self.train_embedding_mean if bool(self.train_mean_fitted) else None

    def on_train_epoch_start(self) -> None:
        self._epoch_mean.reset()

    def on_validation_epoch_start(self) -> None:
        # Validation (and the checkpoint written after it) runs before on_train_epoch_end.
        self._epoch_mean.commit(self.train_embedding_mean, self.train_mean_fitted)

    def on_train_epoch_end(self) -> None:
        self._epoch_mean.commit(self.train_embedding_mean, self.train_mean_fitted)
