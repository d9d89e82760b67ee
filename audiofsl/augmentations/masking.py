"""Removing parts of a clip: time masking and splice-out."""

from __future__ import annotations

import torch
from torch import Tensor

from audiofsl.augmentations.base import Params, WaveformAugmentation, rms

MASK_FILLS = ("constant", "noise")


def random_intervals(
    batch_size: int, n_intervals: int, max_width: int, length: int, device: torch.device
) -> Params:
    """Draws ``n_intervals`` intervals per example that lie inside ``[0, length)``.

    Each width is uniform on ``{0, ..., min(max_width, length)}``; each start is uniform among
    the positions where the interval fits.

    Returns:
        ``{"starts": [B, n], "widths": [B, n]}`` long tensors.
    """
    max_width = min(max_width, length)
    shape = (batch_size, n_intervals)
    widths = (torch.rand(shape, device=device) * (max_width + 1)).long().clamp_max(max_width)
    starts = (torch.rand(shape, device=device) * (length - widths + 1)).long()
    return {"starts": starts, "widths": widths}


def interval_mask(starts: Tensor, widths: Tensor, length: int) -> Tensor:
    """Union of intervals ``[start, start + width)`` per row, from a cumulative count.

    Args:
        starts: ``[N, n]`` long starts.
        widths: ``[N, n]`` long widths.
        length: Number of samples ``T``.

    Returns:
        ``[N, T]`` bool mask, True inside at least one interval.
    """
    count = torch.zeros(starts.shape[0], length + 1, dtype=torch.int32, device=starts.device)
    ones = torch.ones_like(starts, dtype=torch.int32)
    count.scatter_add_(1, starts, ones)
    count.scatter_add_(1, (starts + widths).clamp_max(length), -ones)
    return count.cumsum(dim=1)[:, :length] > 0


class TimeMasking(WaveformAugmentation):
    """Replaces ``n_masks`` random segments of each example (Park et al., 2019, on waveforms).

    Each segment's width is uniform on ``{0, ..., floor(max_fraction * T)}`` samples and its
    start uniform where it fits, per example; segments may overlap. ``fill="constant"``
    writes ``fill_value`` into the segments; ``fill="noise"`` writes Gaussian noise with the
    example's RMS. Parameters: ``starts``, ``widths`` (samples, ``[B, n_masks]`` long).

    Args:
        n_masks: Segments per example.
        max_fraction: Longest segment as a fraction of the clip, in ``[0, 1]``.
        fill: ``"constant"`` or ``"noise"``.
        fill_value: Value written by ``fill="constant"``.
        p: Probability that an example is transformed.
    """

    def __init__(
        self,
        n_masks: int = 1,
        max_fraction: float = 0.125,
        fill: str = "constant",
        fill_value: float = 0.0,
        p: float = 0.5,
    ) -> None:
        super().__init__(p)
        if int(n_masks) != n_masks or n_masks < 0:
            raise ValueError(f"TimeMasking n_masks must be a non-negative integer, got {n_masks}.")
        if not 0.0 <= max_fraction <= 1.0:
            raise ValueError(
                f"TimeMasking max_fraction must be a fraction in [0, 1], got {max_fraction}."
            )
        if fill not in MASK_FILLS:
            raise ValueError(f"TimeMasking fill={fill!r} must be one of {MASK_FILLS}.")
        self.n_masks = int(n_masks)
        self.max_fraction = float(max_fraction)
        self.fill = fill
        self.fill_value = float(fill_value)

    def sample_params(self, batch_size: int, length: int, device: torch.device) -> Params:
        max_width = int(self.max_fraction * length)
        return random_intervals(batch_size, self.n_masks, max_width, length, device)

    def apply_params(self, audio: Tensor, params: Params) -> Tensor:
        mask = interval_mask(params["starts"], params["widths"], audio.shape[-1])
        if self.fill == "constant":
            return audio.masked_fill(mask, self.fill_value)
        return torch.where(mask, torch.randn_like(audio) * rms(audio), audio)

    def extra_repr(self) -> str:
        return (
            f"n_masks={self.n_masks}, max_fraction={self.max_fraction}, fill={self.fill!r}, "
            f"p={self.p}"
        )


class SpliceOut(WaveformAugmentation):
    """Cuts ``n_intervals`` random intervals out of each example and joins the rest.

    The waveform version of SpliceOut (Jain et al., 2022): the kept samples move left, in
    order, to close the gaps, and the clip is padded back to ``T`` with zeros at its end, so
    the number of trailing zeros added equals the number of samples removed. Widths are
    uniform on ``{0, ..., max_samples}``, starts uniform where they fit; overlapping intervals
    remove their union. Vectorised: the destination of each kept sample is the running count
    of kept samples before it, and one ``scatter`` moves them. Parameters: ``starts``,
    ``widths`` (samples, ``[B, n_intervals]`` long).

    Args:
        n_intervals: Intervals removed per example.
        max_samples: Widest interval in samples.
        p: Probability that an example is transformed.
    """

    def __init__(self, n_intervals: int = 8, max_samples: int = 400, p: float = 0.5) -> None:
        super().__init__(p)
        for name, value in {"n_intervals": n_intervals, "max_samples": max_samples}.items():
            if int(value) != value or value < 0:
                raise ValueError(f"SpliceOut {name} must be a non-negative integer, got {value}.")
        self.n_intervals = int(n_intervals)
        self.max_samples = int(max_samples)

    def sample_params(self, batch_size: int, length: int, device: torch.device) -> Params:
        return random_intervals(batch_size, self.n_intervals, self.max_samples, length, device)

    def apply_params(self, audio: Tensor, params: Params) -> Tensor:
        length = audio.shape[-1]
        keep = ~interval_mask(params["starts"], params["widths"], length)
        destination = torch.where(keep, keep.long().cumsum(dim=1) - 1, length)  # [N, T]
        out = audio.new_zeros(audio.shape[0], length + 1)  # the last column collects the cuts
        out.scatter_(1, destination, audio)
        return out[:, :length]

    def extra_repr(self) -> str:
        return f"n_intervals={self.n_intervals}, max_samples={self.max_samples}, p={self.p}"
