"""Rearranging samples in time: time inversion and time shift."""

from __future__ import annotations

import torch
from torch import Tensor

from audiofsl.augmentations.base import Params, WaveformAugmentation, check_range, uniform

SHIFT_UNITS = ("fraction", "seconds", "samples")
SHIFT_MODES = ("roll", "zero")


class TimeInversion(WaveformAugmentation):
    """Reverses each selected example in time (no parameters).

    Args:
        p: Probability that an example is transformed.
    """

    def sample_params(self, batch_size: int, length: int, device: torch.device) -> Params:
        return {}

    def apply_params(self, audio: Tensor, params: Params) -> Tensor:
        return audio.flip(-1)


class Shift(WaveformAugmentation):
    """Shifts each example in time by its own offset.

    The offset is drawn uniformly in ``[min_shift, max_shift]`` (in ``unit``) and rounded to
    whole samples ``s``; a positive offset delays the sound. ``mode="roll"`` wraps the samples
    pushed past one end around to the other (``y[t] = x[(t - s) mod T]``); ``mode="zero"``
    drops them and fills the vacated part with zeros. Vectorised: each output row is a window
    of the row extended by a copy of itself (roll) or by zeros (zero), and one indexing of the
    ``unfold`` view of all windows picks every row's window at once. Parameters: ``shift``
    (samples, ``[B]`` long).

    Args:
        min_shift: Smallest offset (negative: earlier).
        max_shift: Largest offset.
        unit: ``"fraction"`` (of the clip length), ``"seconds"`` or ``"samples"``.
        mode: ``"roll"`` or ``"zero"``.
        sample_rate: Sample rate in Hz; needed when ``unit="seconds"``.
        p: Probability that an example is transformed.
    """

    def __init__(
        self,
        min_shift: float = -0.5,
        max_shift: float = 0.5,
        unit: str = "fraction",
        mode: str = "roll",
        sample_rate: int | None = None,
        p: float = 0.5,
    ) -> None:
        super().__init__(p)
        check_range(self, "shift", min_shift, max_shift)
        if unit not in SHIFT_UNITS:
            raise ValueError(f"Shift unit={unit!r} must be one of {SHIFT_UNITS}.")
        if mode not in SHIFT_MODES:
            raise ValueError(f"Shift mode={mode!r} must be one of {SHIFT_MODES}.")
        if unit == "seconds" and (sample_rate is None or sample_rate <= 0):
            raise ValueError(
                f"Shift unit='seconds' needs a positive sample_rate, got {sample_rate!r}."
            )
        self.min_shift = float(min_shift)
        self.max_shift = float(max_shift)
        self.unit = unit
        self.mode = mode
        self.sample_rate = sample_rate

    def sample_params(self, batch_size: int, length: int, device: torch.device) -> Params:
        scale = {"fraction": length, "seconds": self.sample_rate, "samples": 1}[self.unit]
        shift = uniform(batch_size, self.min_shift * scale, self.max_shift * scale, device)
        return {"shift": shift.round().long()}

    def apply_params(self, audio: Tensor, params: Params) -> Tensor:
        length = audio.shape[-1]
        shift = params["shift"]
        if self.mode == "roll":  # y[t] = [x, x][t + T - (s mod T)]
            extended, start = torch.cat([audio, audio], dim=1), length - shift.remainder(length)
        else:  # y[t] = [0, x, 0][t + T - s]
            extended = torch.nn.functional.pad(audio, (length, length))
            start = length - shift.clamp(-length, length)
        rows = torch.arange(audio.shape[0], device=audio.device)
        return extended.unfold(1, length, 1)[rows, start]  # [N, T] windows

    def extra_repr(self) -> str:
        return (
            f"min_shift={self.min_shift}, max_shift={self.max_shift}, unit={self.unit!r}, "
            f"mode={self.mode!r}, p={self.p}"
        )
