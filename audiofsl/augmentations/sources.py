"""Audio clips read once from a folder, for background noise and impulse responses."""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import Tensor

from audiofsl.data.audio_io import AUDIO_EXTENSIONS, load_audio


def find_audio_files(folder: str | os.PathLike, owner: str) -> list[Path]:
    """Audio files anywhere under ``folder``, sorted; hidden files and folders are skipped.

    Args:
        folder: The folder to search.
        owner: Name of the class or setting asking, quoted in errors.

    Raises:
        FileNotFoundError: if ``folder`` is not a folder.
        ValueError: if it holds no file with an extension of ``AUDIO_EXTENSIONS``.
    """
    root = Path(folder)
    if not root.is_dir():
        raise FileNotFoundError(f"{owner}: folder '{root}' does not exist or is not a folder.")
    files = sorted(
        path
        for path in root.rglob("*")
        if path.suffix.lower() in AUDIO_EXTENSIONS
        and path.is_file()
        and not any(part.startswith(".") for part in path.relative_to(root).parts)
    )
    if not files:
        raise ValueError(
            f"{owner}: folder '{root}' holds no audio files ({', '.join(AUDIO_EXTENSIONS)}); "
            "point it at a folder of noise or impulse-response clips."
        )
    return files


def load_clips(folder: str | os.PathLike, sample_rate: int, owner: str) -> list[Tensor]:
    """Decodes every audio file under ``folder`` to mono float32 at ``sample_rate``.

    Files without any sample are left out.

    Args:
        folder: The folder to read.
        sample_rate: Target sample rate in Hz.
        owner: Name of the class or setting asking, quoted in errors.

    Returns:
        One ``[T_i]`` tensor per non-empty file, in sorted path order.

    Raises:
        ValueError: if no file has a sample.
        audiofsl.data.AudioLoadError: if a file cannot be decoded.
    """
    files = find_audio_files(folder, owner)
    clips = [load_audio(path, sample_rate) for path in files]
    clips = [clip for clip in clips if clip.numel() > 0]
    if not clips:
        raise ValueError(f"{owner}: every audio file in '{folder}' is empty.")
    return clips


def pad_stack(clips: list[Tensor]) -> tuple[Tensor, Tensor]:
    """Stacks clips of different lengths, zero-padded at their end.

    Returns:
        ``([N, max T_i] float32 clips, [N] long lengths)``.
    """
    lengths = torch.tensor([clip.numel() for clip in clips], dtype=torch.long)
    padded = torch.zeros(len(clips), int(lengths.max()), dtype=torch.float32)
    for index, clip in enumerate(clips):
        padded[index, : clip.numel()] = clip
    return padded, lengths
