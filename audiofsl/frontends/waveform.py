"""Raw-waveform frontend (for encoders that learn from samples, e.g. a 1-D ResNet)."""

from __future__ import annotations

import torch
from torch import Tensor

from audiofsl.frontends.base import Frontend


class Waveform(Frontend):
    """The waveform itself as a one-bin "feature map", ``[B, T] -> [B, 1, 1, T]``.

    Keeps the frontend contract (``[B, C, F, L]`` with ``C = F = 1``, ``L = T``) so that a
    raw-signal encoder such as :class:`audiofsl.encoders.ResNet1D18` (CLAR's 1-D model,
    Al-Tahan & Mohsenzadeh, AISTATS 2021) plugs into any method. Returned in float32, also
    under autocast.

    Args:
        sample_rate: Sample rate of the input waveform in Hz (recorded, not used).
        normalization: ``"none"``, ``"per_example"`` (each clip to zero mean and unit
            variance) or ``"global"``.
    """

    def __init__(self, sample_rate: int = 16000, normalization: str = "none") -> None:
        super().__init__(normalization)
        if sample_rate <= 0:
            raise ValueError(f"sample_rate must be positive, got {sample_rate}.")
        self.sample_rate = sample_rate
        self.out_channels = 1
        self.n_features = 1

    def compute_features(self, waveform: Tensor) -> Tensor:
        """The waveform as features.

        Args:
            waveform: ``[B, T]`` float waveform.

        Returns:
            ``[B, 1, 1, T]`` float32 copy of the waveform (never a view of the input, so
            in-place feature augmentations leave the caller's audio alone).
        """
        return waveform.to(torch.float32, copy=True)[:, None, None, :]
