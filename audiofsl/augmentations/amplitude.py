"""Amplitude augmentations: gain, polarity inversion, fade in / fade out."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

from audiofsl.augmentations.base import Params, WaveformAugmentation, check_range, uniform


class Gain(WaveformAugmentation):
    """Multiplies each example by a gain drawn uniformly in decibels.

    ``y = x * 10 ** (g / 20)`` with ``g ~ U[min_gain_db, max_gain_db]`` per example, so the
    RMS of an example moves by exactly ``g`` dB. Parameters: ``gain_db`` ``[B]``.

    Args:
        min_gain_db: Lowest gain in dB.
        max_gain_db: Highest gain in dB.
        p: Probability that an example is transformed.
    """

    def __init__(self, min_gain_db: float = -6.0, max_gain_db: float = 6.0, p: float = 0.5):
        super().__init__(p)
        check_range(self, "gain_db", min_gain_db, max_gain_db)
        self.min_gain_db = float(min_gain_db)
        self.max_gain_db = float(max_gain_db)

    def sample_params(self, batch_size: int, length: int, device: torch.device) -> Params:
        return {"gain_db": uniform(batch_size, self.min_gain_db, self.max_gain_db, device)}

    def apply_params(self, audio: Tensor, params: Params) -> Tensor:
        factor = torch.pow(10.0, params["gain_db"].to(audio.dtype) / 20.0)
        return audio * factor[:, None]

    def extra_repr(self) -> str:
        return f"min_gain_db={self.min_gain_db}, max_gain_db={self.max_gain_db}, p={self.p}"


class PolarityInversion(WaveformAugmentation):
    """Multiplies each selected example by -1 (no parameters).

    Args:
        p: Probability that an example is transformed.
    """

    def sample_params(self, batch_size: int, length: int, device: torch.device) -> Params:
        return {}

    def apply_params(self, audio: Tensor, params: Params) -> Tensor:
        return -audio


#: Fade curves ``g(u)`` on ``u in [0, 1]``, rising from ``g(0) = 0`` to ``g(1) = 1``.
FADE_SHAPES = {
    "linear": lambda u: u,
    # fast rise, then flat (the shape of a logarithm): log10(1 + 9u)
    "logarithmic": lambda u: torch.log10(1.0 + 9.0 * u),
    # slow rise, then steep (its mirror image): (10^u - 1) / 9
    "exponential": lambda u: torch.expm1(u * math.log(10.0)) / 9.0,
    "quarter_sine": lambda u: torch.sin(0.5 * math.pi * u),
    "half_sine": lambda u: 0.5 - 0.5 * torch.cos(math.pi * u),
}


class Fade(WaveformAugmentation):
    """Fades each example in at its start and out at its end (Al-Tahan & Mohsenzadeh, 2021).

    The fade-in length is drawn uniformly in ``[0, max_fade_in * T]`` samples and the fade-out
    length in ``[0, max_fade_out * T]``, independently per example; the shape of both fades
    of an example is drawn uniformly from ``shapes``. Sample ``t`` of a fade of length ``L`` is
    scaled by ``g(t / L)`` (fade in) or ``g((T - 1 - t) / L)`` (fade out), so the first and
    last sample are silenced when the fade is at least one sample long; where the two fades
    overlap the smaller gain applies. Curves ``g`` (all
    rising from 0 to 1): ``linear`` ``u``; ``logarithmic`` ``log10(1 + 9u)``; ``exponential``
    ``(10^u - 1) / 9``; ``quarter_sine`` ``sin(pi u / 2)``; ``half_sine``
    ``(1 - cos(pi u)) / 2``. Parameters: ``fade_in``, ``fade_out`` (lengths in samples,
    ``[B]`` long) and ``shape`` (index into ``shapes``, ``[B]`` long).

    Args:
        max_fade_in: Longest fade-in as a fraction of the clip, in ``[0, 1]``.
        max_fade_out: Longest fade-out as a fraction of the clip, in ``[0, 1]``.
        shapes: One shape name or a list of names drawn from per example.
        p: Probability that an example is transformed.
    """

    def __init__(
        self,
        max_fade_in: float = 0.5,
        max_fade_out: float = 0.5,
        shapes: str | Sequence[str] = ("linear", "logarithmic", "exponential"),
        p: float = 0.5,
    ) -> None:
        super().__init__(p)
        for name, value in {"max_fade_in": max_fade_in, "max_fade_out": max_fade_out}.items():
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"Fade {name} must be a fraction in [0, 1], got {value}.")
        shapes = [shapes] if isinstance(shapes, str) else list(shapes)
        unknown = [s for s in shapes if s not in FADE_SHAPES]
        if not shapes or unknown:
            raise ValueError(
                f"Fade shapes={shapes} must be a non-empty list of {sorted(FADE_SHAPES)}."
            )
        self.max_fade_in = float(max_fade_in)
        self.max_fade_out = float(max_fade_out)
        self.shapes = shapes

    def sample_params(self, batch_size: int, length: int, device: torch.device) -> Params:
        fade_in = uniform(batch_size, 0.0, self.max_fade_in * length, device)
        fade_out = uniform(batch_size, 0.0, self.max_fade_out * length, device)
        shape = torch.randint(len(self.shapes), (batch_size,), device=device)
        return {"fade_in": fade_in.long(), "fade_out": fade_out.long(), "shape": shape}

    def apply_params(self, audio: Tensor, params: Params) -> Tensor:
        length = audio.shape[-1]
        t = torch.arange(length, device=audio.device, dtype=audio.dtype)
        fade_in, fade_out = params["fade_in"][:, None], params["fade_out"][:, None]
        ramp_in = torch.where(fade_in > 0, t / fade_in.clamp_min(1), 1.0)
        ramp_out = torch.where(fade_out > 0, (length - 1 - t) / fade_out.clamp_min(1), 1.0)
        ramp = torch.minimum(ramp_in, ramp_out).clamp(0.0, 1.0)  # [N, T]
        shape = params["shape"][:, None]
        envelope = torch.ones_like(ramp)
        for index, name in enumerate(self.shapes):
            envelope = torch.where(shape == index, FADE_SHAPES[name](ramp), envelope)
        return audio * envelope

    def extra_repr(self) -> str:
        return (
            f"max_fade_in={self.max_fade_in}, max_fade_out={self.max_fade_out}, "
            f"shapes={self.shapes}, p={self.p}"
        )
