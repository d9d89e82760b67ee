"""Test signals and measurements shared by the augmentation tests."""

from __future__ import annotations

import math
from pathlib import Path

import soundfile as sf
import torch

SAMPLE_RATE = 16000


def write_wav(path: Path, wave: torch.Tensor, sample_rate: int = SAMPLE_RATE) -> Path:
    """Writes a mono clip (float samples in wav files, so values are kept exactly)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    subtype = "FLOAT" if path.suffix == ".wav" else None
    sf.write(path, wave.numpy(), sample_rate, subtype=subtype)
    return path


def sine(freq: float, n: int = SAMPLE_RATE, batch: int = 1, amplitude: float = 0.5):
    t = torch.arange(n) / SAMPLE_RATE
    return (amplitude * torch.sin(2 * math.pi * freq * t)).repeat(batch, 1)


def peak_frequency(x: torch.Tensor, sample_rate: int = SAMPLE_RATE) -> torch.Tensor:
    """Frequency (Hz) of the largest FFT peak of each row (Hann window, 4x zero padding)."""
    n = x.shape[-1]
    spectrum = torch.fft.rfft(x * torch.hann_window(n, periodic=False, device=x.device), n=4 * n)
    freqs = torch.fft.rfftfreq(4 * n, 1.0 / sample_rate).to(x.device)
    return freqs[spectrum.abs().argmax(dim=-1)]


def db(power_ratio: torch.Tensor) -> torch.Tensor:
    return 10 * torch.log10(power_ratio)
