"""Shared behaviour of the batched waveform augmentations: parameters, probability, dtype."""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable

import torch
from torch import Tensor, nn

Params = dict[str, Tensor]


class WaveformAugmentation(nn.Module, ABC):
    """Base class: a random transform of a waveform batch ``[B, T] -> [B, T]``.

    A call draws one set of parameters per example (:meth:`sample_params`, tensors whose first
    dimension is ``B``), selects each example with probability ``p`` and applies the transform
    to the selected rows only (:meth:`apply_params`); the other rows are returned unchanged. The
    drawn parameters and the ``"applied"`` mask (``[B]`` bool) are kept in ``last_params``.

    All randomness comes from torch's global RNG on the input's device, so
    ``torch.manual_seed`` (or ``lightning.seed_everything``) makes a call repeat; the number
    of random draws does not depend on the batch size. The maths runs in float32 (float64
    inputs stay float64) with autocast disabled, and the result is cast back to the input's
    dtype. Shape, dtype and device are kept. Selecting the rows costs one host-device
    synchronisation per call on a GPU.

    Subclasses implement :meth:`sample_params` and :meth:`apply_params`; tests and callers
    that need chosen parameters call :meth:`apply_params` directly. (The name leaves
    ``nn.Module.apply(fn)``, the recursive visit used for weight initialisation, intact.)

    Args:
        p: Probability that an example is transformed.
    """

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        check_probability(self, p)
        self.p = float(p)
        #: Parameters of the last call (``[B, ...]`` tensors) and its ``"applied"`` mask.
        self.last_params: Params | None = None

    @abstractmethod
    def sample_params(self, batch_size: int, length: int, device: torch.device) -> Params:
        """Draws the parameters of every example.

        Args:
            batch_size: Number of examples ``B``.
            length: Number of samples ``T`` per example.
            device: Device of the returned tensors.

        Returns:
            Named ``[B, ...]`` tensors.
        """

    @abstractmethod
    def apply_params(self, audio: Tensor, params: Params) -> Tensor:
        """Transforms every row with its parameters (no probability involved).

        Args:
            audio: ``[N, T]`` float32 or float64 waveforms.
            params: Named ``[N, ...]`` tensors, as returned by :meth:`sample_params`.

        Returns:
            ``[N, T]`` transformed waveforms, same dtype.
        """

    def forward(self, audio: Tensor) -> Tensor:
        """Transforms each example with probability ``p``, with its own parameters.

        Args:
            audio: ``[B, T]`` waveforms.

        Returns:
            ``[B, T]`` waveforms, same dtype and device.
        """
        check_waveform(self, audio)
        batch_size, length = audio.shape
        applied = torch.rand(batch_size, device=audio.device) < self.p
        params = self.sample_params(batch_size, length, audio.device)
        self.last_params = {**params, "applied": applied}
        if self.p == 0.0 or batch_size == 0:
            return audio
        return apply_to_rows(
            audio, applied, lambda rows, index: self.apply_params(rows, take(params, index))
        )

    def extra_repr(self) -> str:
        return f"p={self.p}"


def apply_to_rows(
    audio: Tensor, applied: Tensor, function: Callable[[Tensor, Tensor | None], Tensor]
) -> Tensor:
    """Runs ``function`` on the selected rows in the working precision, leaves the others.

    Args:
        audio: ``[B, ...]`` batch.
        applied: ``[B]`` bool mask of the rows to transform.
        function: ``(rows [N, ...], index [N] or None) -> [N, ...]``; ``index`` is None when
            every row is selected.

    Returns:
        ``[B, ...]`` batch, same dtype as ``audio``.
    """
    work_dtype = torch.promote_types(audio.dtype, torch.float32)
    with torch.autocast(device_type=audio.device.type, enabled=False):
        work = audio.to(work_dtype)
        if bool(applied.all()):
            return function(work, None).to(audio.dtype)
        index = applied.nonzero().squeeze(1)
        if index.numel() == 0:
            return audio
        out = work.clone()
        out[index] = function(work[index], index).to(work_dtype)
        return out.to(audio.dtype)


def take(params: Params, index: Tensor | None) -> Params:
    """The parameters of the rows ``index`` (all of them when ``index`` is None)."""
    if index is None:
        return params
    return {name: value[index] for name, value in params.items()}


def uniform(batch_size: int, low: float, high: float, device: torch.device) -> Tensor:
    """``[B]`` float32 values drawn uniformly from ``[low, high]``."""
    return low + (high - low) * torch.rand(batch_size, device=device)


def log_uniform(batch_size: int, low: float, high: float, device: torch.device) -> Tensor:
    """``[B]`` float32 values whose logarithm is uniform on ``[log low, log high]``."""
    return torch.exp(uniform(batch_size, math.log(low), math.log(high), device))


def rms(audio: Tensor) -> Tensor:
    """Root mean square of each row: ``[B, T] -> [B, 1]``."""
    return torch.linalg.vector_norm(audio, dim=-1, keepdim=True) / math.sqrt(audio.shape[-1])


def check_waveform(owner: nn.Module, audio: Tensor) -> None:
    """Raises a ValueError unless ``audio`` is a floating ``[B, T]`` batch."""
    if audio.dim() != 2:
        raise ValueError(
            f"{type(owner).__name__} expects waveforms of shape [B, T], got "
            f"{tuple(audio.shape)}; add a batch dimension with audio.unsqueeze(0)."
        )
    if not audio.is_floating_point():
        raise ValueError(f"{type(owner).__name__} expects floating-point audio, got {audio.dtype}.")


def check_probability(owner: object, p: float) -> None:
    """Raises a ValueError naming ``owner`` unless ``0 <= p <= 1``."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{type(owner).__name__} p must be a probability in [0, 1], got {p}.")


def check_range(owner: object, name: str, low: float, high: float, positive: bool = False) -> None:
    """Raises a ValueError naming the settings ``min_<name>``/``max_<name>`` of ``owner``."""
    cls = type(owner).__name__
    if low > high:
        raise ValueError(f"{cls} min_{name}={low} must not exceed max_{name}={high}.")
    if positive and low <= 0:
        raise ValueError(f"{cls} min_{name} must be positive, got {low}.")
