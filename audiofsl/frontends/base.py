"""Shared behaviour of waveform-to-feature frontends."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from typing import Any

import torch
from torch import Tensor, nn

from audiofsl.frontends.normalization import FeatureNormalization


class Frontend(nn.Module, ABC):
    """Base class: waveform ``[B, T]`` -> features ``[B, C, F, L]``, then normalisation.

    Subclasses implement :meth:`compute_features` (unnormalised features) and set
    ``out_channels`` and ``n_features``. The normalisation is the submodule
    ``self.normalization`` (:class:`FeatureNormalization`).

    Args:
        normalization: ``"none"``, ``"per_example"`` or ``"global"``.
    """

    out_channels: int = 1
    n_features: int

    def __init__(self, normalization: str = "none") -> None:
        super().__init__()
        self.normalization = FeatureNormalization(normalization)

    @property
    def needs_fitting(self) -> bool:
        """True when global normalisation statistics still have to be fitted."""
        return self.normalization.needs_fitting

    @abstractmethod
    def compute_features(self, waveform: Tensor) -> Tensor:
        """Unnormalised features.

        Args:
            waveform: ``[B, T]`` float waveform.

        Returns:
            ``[B, out_channels, n_features, L]`` float32 features.
        """

    def forward(self, waveform: Tensor) -> Tensor:
        """Computes normalised features.

        Args:
            waveform: ``[B, T]`` float waveform on the frontend's device.

        Returns:
            ``[B, out_channels, n_features, L]`` float32 features.
        """
        if waveform.dim() != 2:
            raise ValueError(
                f"{type(self).__name__} expects a waveform batch of shape [B, T], got "
                f"{tuple(waveform.shape)}; add a batch dimension with waveform.unsqueeze(0)."
            )
        return self.normalization(self.compute_features(waveform))

    @torch.no_grad()
    def fit_normalization(self, waveforms: Iterable[Tensor | Mapping]) -> tuple[float, float]:
        """Estimates the global feature mean/std from batches of training waveforms.

        Streams the batches once, accumulating in float64, and stores the result in
        ``self.normalization`` (marked fitted). Works in every normalisation mode.

        Args:
            waveforms: Iterable of ``[B, T]`` tensors, or of batch dicts with an ``"audio"``
                entry (so a DataLoader can be passed directly). Moved to the frontend's device.

        Returns:
            The fitted ``(mean, std)`` as Python floats.
        """
        device = self._device()
        self.normalization.reset_statistics()
        for batch in waveforms:
            audio = batch["audio"] if isinstance(batch, Mapping) else batch
            if audio.dim() == 1:
                audio = audio.unsqueeze(0)
            self.normalization.update(self.compute_features(audio.to(device)))
        if self.normalization.n_seen == 0:
            raise ValueError(
                "fit_normalization received no waveforms; pass a non-empty iterable of "
                "[B, T] training batches (e.g. the training DataLoader)."
            )
        return self.normalization.finalize()

    def _device(self) -> torch.device:
        for tensor in self.buffers():
            return tensor.device
        return torch.device("cpu")


#: Clips drawn (seeded) from the training classes to estimate global feature statistics.
NORMALIZATION_CLIPS = 2000


def fit_normalization_from(frontend: nn.Module, datamodule: Any) -> None:
    """Fit ``frontend``'s global normalisation on ``NORMALIZATION_CLIPS`` seeded training clips
    of ``datamodule`` (its ``statistics_dataloader``) when the frontend still needs it."""
    if getattr(frontend, "needs_fitting", False):
        frontend.fit_normalization(datamodule.statistics_dataloader(NORMALIZATION_CLIPS))
