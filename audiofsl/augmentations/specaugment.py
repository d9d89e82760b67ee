"""SpecAugment time warping, frequency and time masking (Park et al., 2019)."""

from __future__ import annotations

import torch
from torch import Tensor, nn


def random_band_mask(
    batch_size: int, size: int, max_width: int, n_masks: int, device: torch.device
) -> Tensor:
    """Union of ``n_masks`` random bands per example along one axis.

    Each band has a width drawn uniformly from ``{0, ..., min(max_width, size)}`` and a start
    drawn uniformly among the positions where it fits, independently per example and band.

    Args:
        batch_size: Number of examples ``B``.
        size: Length of the masked axis ``N``.
        max_width: Largest band width.
        n_masks: Number of bands per example.
        device: Device of the returned mask.

    Returns:
        ``[B, N]`` bool mask, True inside a band.
    """
    max_width = min(max_width, size)
    widths = torch.randint(0, max_width + 1, (batch_size, n_masks, 1), device=device)
    starts = (torch.rand(batch_size, n_masks, 1, device=device) * (size - widths + 1)).long()
    positions = torch.arange(size, device=device)
    inside = (positions >= starts) & (positions < starts + widths)
    return inside.any(dim=1)


def time_warp(features: Tensor, center: Tensor, distance: Tensor) -> Tensor:
    """Warps features along time, piecewise linearly, one warp per example.

    Frame ``c`` of example ``i`` moves to ``c + w`` (``c = center[i]``, ``w = distance[i]``):
    the frames ``[0, c]`` are stretched or squeezed onto ``[0, c + w]`` and the frames
    ``[c, L - 1]`` onto ``[c + w, L - 1]``, with linear interpolation between frames (the
    time warp of Park et al., 2019, as a piecewise-linear map of the time axis alone). The
    first and last frames stay in place; ``w = 0`` returns the example unchanged.

    Args:
        features: ``[B, C, F, L]`` features.
        center: ``[B]`` warp centres, in ``(0, L - 1)``.
        distance: ``[B]`` warp distances, with ``0 < c + w < L - 1``.

    Returns:
        ``[B, C, F, L]`` warped features, same dtype.
    """
    batch_size, channels, n_freq, n_time = features.shape
    end = float(n_time - 1)
    c, w = center.float()[:, None], distance.float()[:, None]
    j = torch.arange(n_time, device=features.device, dtype=torch.float32)
    left = j * (c / (c + w))
    right = c + (j - c - w) * ((end - c) / (end - c - w))
    source = torch.where(j < c + w, left, right).clamp(0.0, end)
    source = torch.where(w == 0, j, source)  # [B, L]
    first = source.floor().long().clamp_max(n_time - 2)
    weight = (source - first).to(features.dtype)
    index = first[:, None, None, :].expand(batch_size, channels, n_freq, n_time)
    low, high = features.gather(3, index), features.gather(3, index + 1)
    return torch.lerp(low, high, weight[:, None, None, :].expand_as(low))


class SpecAugment(nn.Module):
    """Time warping, frequency and time masking of SpecAugment (Park et al., 2019), batched.

    With ``time_warp = W > 0`` each augmented example is first warped along time
    (:func:`time_warp`): a centre ``c`` uniform in ``[W, L - 1 - W]`` moves by ``w`` uniform
    in ``[-W, W]`` frames (W is reduced to fit short spectrograms). Every example gets its own
    ``n_freq_masks`` frequency bands of width ``f ~ U{0, ..., freq_mask_param}`` and
    ``n_time_masks`` time bands of width ``t ~ U{0, ..., time_mask_param}`` at uniformly
    random positions; the bands are set to ``mask_value`` (0 suits standardised features,
    whose mean is 0). Each example is augmented (warped and masked) with probability ``p``.
    The same warp and bands apply to all channels of an example.
    Applied whenever called: the caller decides when (training only). Uses the global torch
    RNG on the input's device, so ``torch.manual_seed`` makes it reproducible.

    Args:
        freq_mask_param: Largest frequency band width ``F`` (in bins).
        time_mask_param: Largest time band width ``T`` (in frames).
        n_freq_masks: Frequency bands per example.
        n_time_masks: Time bands per example.
        p: Probability that an example is augmented at all.
        mask_value: Value written inside the bands.
        time_warp: Largest warp distance ``W`` in frames (0: no warping).
    """

    def __init__(
        self,
        freq_mask_param: int = 16,
        time_mask_param: int = 16,
        n_freq_masks: int = 1,
        n_time_masks: int = 1,
        p: float = 1.0,
        mask_value: float = 0.0,
        time_warp: int = 0,
    ) -> None:
        super().__init__()
        for name, value in {
            "freq_mask_param": freq_mask_param,
            "time_mask_param": time_mask_param,
            "n_freq_masks": n_freq_masks,
            "n_time_masks": n_time_masks,
            "time_warp": time_warp,
        }.items():
            if int(value) != value or value < 0:
                raise ValueError(f"SpecAugment {name} must be a non-negative integer, got {value}.")
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"SpecAugment p must be a probability in [0, 1], got {p}.")
        self.freq_mask_param = int(freq_mask_param)
        self.time_mask_param = int(time_mask_param)
        self.n_freq_masks = int(n_freq_masks)
        self.n_time_masks = int(n_time_masks)
        self.p = float(p)
        self.mask_value = float(mask_value)
        self.time_warp = int(time_warp)

    def masks(
        self,
        batch_size: int,
        n_freq: int,
        n_time: int,
        device: torch.device,
        applied: Tensor | None = None,
    ) -> Tensor:
        """Draws the masks for one batch.

        Args:
            batch_size: Number of examples ``B``.
            n_freq: Number of frequency bins ``F``.
            n_time: Number of frames ``L``.
            device: Device of the returned mask.
            applied: ``[B]`` bool mask of the augmented examples (default: drawn with ``p``).

        Returns:
            ``[B, 1, F, L]`` bool mask, True where the features are replaced.
        """
        freq = random_band_mask(batch_size, n_freq, self.freq_mask_param, self.n_freq_masks, device)
        time = random_band_mask(batch_size, n_time, self.time_mask_param, self.n_time_masks, device)
        mask = freq[:, :, None] | time[:, None, :]
        if applied is None and self.p < 1.0:
            applied = torch.rand(batch_size, device=device) < self.p
        if applied is not None:
            mask = mask & applied[:, None, None]
        return mask.unsqueeze(1)

    def warp(self, features: Tensor, applied: Tensor | None = None) -> Tensor:
        """Time-warps each augmented example by its own random distance.

        Args:
            features: ``[B, C, F, L]`` features.
            applied: ``[B]`` bool mask of the examples to warp (default: all).

        Returns:
            ``[B, C, F, L]`` warped features (unchanged when ``L`` is too short to warp).
        """
        batch_size, n_time, device = features.shape[0], features.shape[-1], features.device
        width = min(self.time_warp, (n_time - 2) // 2)
        if width < 1:
            return features
        center = width + torch.rand(batch_size, device=device) * (n_time - 1 - 2 * width)
        distance = (2 * torch.rand(batch_size, device=device) - 1) * width
        if applied is not None:
            distance = distance * applied
        return time_warp(features, center, distance)

    def forward(self, features: Tensor) -> Tensor:
        """Masks random frequency and time bands.

        Args:
            features: ``[B, C, F, L]`` features.

        Returns:
            ``[B, C, F, L]`` masked copy, same dtype and device.
        """
        if features.dim() != 4:
            raise ValueError(
                f"SpecAugment expects features of shape [B, C, F, L], got {tuple(features.shape)}."
            )
        if self.p == 0.0:
            return features
        batch_size, _, n_freq, n_time = features.shape
        applied = None
        if self.time_warp > 0:  # (without warping, the draws are those of earlier versions)
            if self.p < 1.0:
                applied = torch.rand(batch_size, device=features.device) < self.p
            features = self.warp(features, applied)
        mask = self.masks(batch_size, n_freq, n_time, features.device, applied)
        return features.masked_fill(mask, self.mask_value)

    def extra_repr(self) -> str:
        return (
            f"freq_mask_param={self.freq_mask_param}, time_mask_param={self.time_mask_param}, "
            f"n_freq_masks={self.n_freq_masks}, n_time_masks={self.n_time_masks}, p={self.p}, "
            f"mask_value={self.mask_value}, time_warp={self.time_warp}"
        )
