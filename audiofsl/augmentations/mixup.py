"""Mixup within a batch (Zhang et al., 2018)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from audiofsl.augmentations.base import Params, check_probability


class Mixup(nn.Module):
    """Mixes each example with a partner from the same batch (Zhang et al., 2018).

    ``y_i = lam_i x_i + (1 - lam_i) x_{perm(i)}`` with ``lam_i ~ Beta(alpha, alpha)`` per
    example and ``perm`` one random permutation of the batch; an example not selected (with
    probability ``1 - p``) keeps ``lam_i = 1``. Works on any ``[B, ...]`` batch (waveforms
    or spectrograms). ``forward`` returns the mixed batch and stores ``last_params``
    (``lam`` ``[B]``, ``permutation`` ``[B]`` long, ``applied`` ``[B]`` bool), so a
    supervised method can mix its targets the same way with :meth:`mix_labels`; :meth:`mix`
    does both in one call. In a multi-view pipeline the partner may be another view of the
    same clip.

    Args:
        alpha: Concentration of the Beta distribution (small: ``lam`` near 0 or 1).
        p: Probability that an example is mixed.
    """

    def __init__(self, alpha: float = 0.4, p: float = 1.0) -> None:
        super().__init__()
        if alpha <= 0:
            raise ValueError(f"Mixup alpha must be positive, got {alpha}.")
        check_probability(self, p)
        self.alpha = float(alpha)
        self.p = float(p)
        self.last_params: Params | None = None

    def sample_params(self, batch_size: int, device: torch.device) -> Params:
        """Draws ``lam`` ``[B]``, ``permutation`` ``[B]`` and the ``applied`` mask ``[B]``."""
        applied = torch.rand(batch_size, device=device) < self.p
        concentration = torch.full((batch_size,), self.alpha, device=device)
        lam = torch.distributions.Beta(concentration, concentration).sample()
        permutation = torch.randperm(batch_size, device=device)
        lam = torch.where(applied, lam, torch.ones_like(lam))
        return {"lam": lam, "permutation": permutation, "applied": applied}

    @staticmethod
    def apply_params(x: Tensor, params: Params) -> Tensor:
        """Mixes ``x`` ``[B, ...]`` (audio, features or float targets) with given parameters."""
        with torch.autocast(device_type=x.device.type, enabled=False):
            work = x.to(torch.promote_types(x.dtype, torch.float32))
            lam = params["lam"].to(work.dtype).view(-1, *([1] * (x.dim() - 1)))
            mixed = lam * work + (1.0 - lam) * work[params["permutation"]]
        return mixed.to(x.dtype)

    def forward(self, x: Tensor) -> Tensor:
        """Mixes the batch with new parameters.

        Args:
            x: ``[B, ...]`` floating batch.

        Returns:
            ``[B, ...]`` mixed batch, same dtype and device.
        """
        self.last_params = self.sample_params(x.shape[0], x.device)
        return self.apply_params(x, self.last_params)

    def mix_labels(self, labels: Tensor) -> Tensor:
        """Mixes targets with the parameters of the last call.

        Args:
            labels: ``[B, C]`` float targets (one-hot or soft; use
                ``torch.nn.functional.one_hot(labels, C).float()`` for class indices).

        Returns:
            ``[B, C]`` mixed targets.
        """
        if self.last_params is None:
            raise RuntimeError("Mixup.mix_labels needs a forward call first.")
        _check_labels(labels)
        return self.apply_params(labels, self.last_params)

    def mix(self, x: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
        """Mixes a batch and its targets with the same new parameters.

        Args:
            x: ``[B, ...]`` floating batch.
            labels: ``[B, C]`` float targets.

        Returns:
            ``([B, ...] mixed batch, [B, C] mixed targets)``.
        """
        _check_labels(labels)
        mixed = self(x)
        return mixed, self.mix_labels(labels)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}, p={self.p}"


def _check_labels(labels: Tensor) -> None:
    if not labels.is_floating_point() or labels.dim() != 2:
        raise ValueError(
            f"Mixup mixes float targets of shape [B, C], got {labels.dtype} "
            f"{tuple(labels.shape)}; one-hot encode class indices first "
            "(torch.nn.functional.one_hot(labels, n_classes).float())."
        )
