"""Fixtures of the augmentation tests: devices, sound folders, test signals."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from aug_signals import SAMPLE_RATE, write_wav


@pytest.fixture(params=["cpu", pytest.param("cuda", marks=pytest.mark.gpu)])
def device(request: pytest.FixtureRequest) -> torch.device:
    """Every device test runs on the CPU, and on CUDA where it exists."""
    return torch.device(request.param)


@pytest.fixture
def noise_folder(tmp_path: Path) -> Path:
    """Three noise clips of 0.25, 0.5 and 1.5 s (one in a sub-folder, one hidden file)."""
    generator = torch.Generator().manual_seed(0)
    folder = tmp_path / "noise"
    for name, seconds in [("a.wav", 0.25), ("b.flac", 0.5), ("sub/c.wav", 1.5)]:
        write_wav(folder / name, 0.1 * torch.randn(int(seconds * SAMPLE_RATE), generator=generator))
    write_wav(folder / ".hidden.wav", torch.ones(100))
    (folder / "notes.txt").write_text("not audio")
    return folder


@pytest.fixture
def ir_folder(tmp_path: Path) -> Path:
    """Two impulse responses: a delayed unit impulse and a short decaying echo."""
    folder = tmp_path / "ir"
    delayed = torch.zeros(400)
    delayed[100] = 1.0
    echo = torch.zeros(800)
    echo[0], echo[320], echo[640] = 1.0, 0.5, 0.25
    write_wav(folder / "delayed.wav", delayed)
    write_wav(folder / "echo.wav", echo)
    return folder
