"""Audio files written on the fly for the data tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf


def _tone(frequency: float, seconds: float, sample_rate: int, amplitude: float = 0.5) -> np.ndarray:
    """A float32 sine wave [T]."""
    t = np.arange(round(seconds * sample_rate)) / sample_rate
    return (amplitude * np.sin(2 * np.pi * frequency * t)).astype(np.float32)


def _write_audio(
    path: Path, wave: np.ndarray, sample_rate: int, subtype: str | None = None
) -> Path:
    """Write ``wave`` ([T] or [T, channels]) with soundfile, creating folders."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, wave, sample_rate, subtype=subtype)
    return path


def _make_class_folder(
    root: Path,
    clips_per_class: dict[str, int],
    sample_rate: int = 8000,
    seconds: float = 0.2,
) -> Path:
    """root/<class>/clip_<i>.wav tones, a distinct pitch per class and clip length per clip."""
    for c, (name, n_clips) in enumerate(sorted(clips_per_class.items())):
        for i in range(n_clips):
            wave = _tone(200 + 50 * c + 5 * i, seconds * (1 + 0.25 * (i % 3)), sample_rate)
            _write_audio(root / name / f"clip_{i:02d}.wav", wave, sample_rate)
    return root


@pytest.fixture
def tone():
    """``tone(frequency, seconds, sample_rate, amplitude=0.5)`` -> float32 sine [T]."""
    return _tone


@pytest.fixture
def write_audio():
    """``write_audio(path, wave, sample_rate, subtype=None)`` -> path."""
    return _write_audio


@pytest.fixture
def make_class_folder():
    """``make_class_folder(root, {class: n_clips}, sample_rate=8000, seconds=0.2)`` -> root."""
    return _make_class_folder
