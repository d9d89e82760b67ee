"""Band-limited resampling on the device, as a module (windowed-sinc, polyphase)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class DeviceResampler(nn.Module):
    """Resamples ``[B, T]`` waveforms from ``orig_freq`` to ``new_freq`` on their device.

    A polyphase windowed-sinc filter (Smith, "Digital Audio Resampling"): with ``g`` the
    greatest common divisor, the ratio ``orig/g : new/g`` is exact, and output sample ``n`` is
    the input convolved with a Kaiser-windowed sinc low-pass centred on ``n * orig / new``. The
    cut-off sits at ``rolloff`` times the lower Nyquist frequency, so downsampling does not
    alias. All ``new/g`` phases are one strided ``conv1d``, with no Python loop over samples;
    the kernels are a (non-persistent) buffer built once. The output has
    ``ceil(T * new / orig)`` samples, the length soxr and librosa give (``fix=True``).

    Args:
        orig_freq: input sample rate in Hz.
        new_freq: output sample rate in Hz (equal rates: the input is returned as it is).
        zeros: zero crossings of the sinc on each side (filter length ``2 * zeros`` periods).
        rolloff: cut-off as a fraction of the lower rate's Nyquist frequency.
        beta: the Kaiser window's shape parameter.
    """

    def __init__(
        self,
        orig_freq: int,
        new_freq: int,
        zeros: int = 16,
        rolloff: float = 0.945,
        beta: float = 14.77,
    ) -> None:
        super().__init__()
        if orig_freq <= 0 or new_freq <= 0:
            raise ValueError(
                f"DeviceResampler: sample rates must be positive, got {orig_freq} -> {new_freq}."
            )
        if not 0.0 < rolloff <= 1.0 or zeros < 1:
            raise ValueError(f"DeviceResampler: rolloff={rolloff} in (0, 1], zeros={zeros} >= 1.")
        gcd = math.gcd(int(orig_freq), int(new_freq))
        self.orig_freq, self.new_freq = int(orig_freq), int(new_freq)
        self.up, self.down = self.new_freq // gcd, self.orig_freq // gcd
        self.zeros, self.rolloff, self.beta = zeros, rolloff, beta
        kernels, self.padding = self._build_kernels()
        self.register_buffer("kernels", kernels.float(), persistent=False)

    def extra_repr(self) -> str:
        return f"{self.orig_freq} Hz -> {self.new_freq} Hz"

    def _build_kernels(self) -> tuple[Tensor, int]:
        """Kernels ``[up, 1, width]`` in float64 and the input padding each side."""
        cutoff = self.rolloff * min(self.up, self.down)  # in units of the common fine grid
        half_width = math.ceil(self.zeros * self.down / cutoff)
        taps = torch.arange(-half_width, half_width + self.down, dtype=torch.float64)
        phases = -torch.arange(self.up, dtype=torch.float64)[:, None] / self.up * self.down
        t = (taps[None, :] + phases) * cutoff / self.down  # in zero crossings of the sinc
        window = torch.special.i0(self.beta * torch.sqrt((1 - (t / self.zeros) ** 2).clamp(min=0)))
        window = window / torch.special.i0(torch.tensor(self.beta, dtype=torch.float64))
        kernels = torch.sinc(t) * window * (cutoff / self.down)
        kernels = torch.where(t.abs() <= self.zeros, kernels, torch.zeros_like(kernels))
        return kernels[:, None, :], half_width

    def forward(self, waveform: Tensor) -> Tensor:
        """Args: waveform ``[B, T]``. Returns: ``[B, ceil(T * new / orig)]`` in its dtype."""
        if self.orig_freq == self.new_freq:
            return waveform
        if waveform.dim() != 2:
            raise ValueError(f"DeviceResampler expects [B, T], got {tuple(waveform.shape)}.")
        dtype = waveform.dtype if waveform.is_floating_point() else torch.float32
        batch, length = waveform.shape
        x = F.pad(waveform.float()[:, None, :], (self.padding, self.padding + self.down))
        kernels = self.kernels.to(waveform.device)
        out = F.conv1d(x, kernels, stride=self.down)  # [B, up, frames]
        out = out.transpose(1, 2).reshape(batch, -1)
        target = math.ceil(length * self.up / self.down)
        return out[:, :target].to(dtype)
