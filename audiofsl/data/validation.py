"""Checks run once at set-up: unusable audio files and classes too small for their episodes."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial

import torch
from torch import Tensor

from audiofsl.data.audio_io import AudioLoadError, display_path, load_audio
from audiofsl.data.clips import ClipRecord

log = logging.getLogger(__name__)

#: A clip whose peak absolute amplitude is at most this (-80 dBFS) counts as silent.
SILENCE_PEAK = 1e-4
_LISTED = 50  # files named in the warning; the rest are counted


def inspect_clip(
    path: str, sample_rate: int, keep: bool = False, min_seconds: float = 0.0
) -> tuple[Tensor | None, str]:
    """Decode one file and say what, if anything, makes it unusable.

    Args:
        path: the audio file.
        sample_rate: target sample rate in Hz.
        keep: return the decoded clip of a usable file (else None, to save memory).
        min_seconds: shorter clips are unusable ("too short").

    Returns:
        (float32 [T] clip or None, problem) where problem is "" for a usable file.
    """
    try:
        wave = load_audio(path, sample_rate)
    except AudioLoadError as error:
        return None, f"unreadable: {error.reason}"
    if wave.numel() == 0:
        return None, "empty (no samples)"
    if wave.numel() < min_seconds * sample_rate:
        seconds = wave.numel() / sample_rate
        return None, f"too short ({seconds:.3f} s < data.min_clip_seconds={min_seconds:g})"
    if not bool(torch.isfinite(wave).all()):
        return None, "non-finite samples (NaN or inf)"
    peak = float(wave.abs().max())
    if peak <= SILENCE_PEAK:
        return None, f"silent (peak amplitude {peak:.2g})"
    return (wave if keep else None), ""


def validate_records(
    records: Sequence[ClipRecord],
    sample_rate: int,
    keep_audio: bool = False,
    num_threads: int = 1,
    min_seconds: float = 0.0,
) -> tuple[list[ClipRecord], list[Tensor] | None]:
    """Decode every file once and leave out the unusable ones, with one logged summary.

    A file is unusable when it cannot be decoded, has no samples, is shorter than
    ``min_seconds``, holds NaN/inf, or is silent (peak <= :data:`SILENCE_PEAK`). The summary
    (a warning of this module's logger, so it reaches the run's log file) lists the files and
    their reasons.

    Args:
        records: the clips to check.
        sample_rate: target sample rate in Hz.
        keep_audio: also return the decoded clips of the usable files (to fill a cache).
        num_threads: files decoded in parallel.
        min_seconds: minimum clip duration in seconds.

    Returns:
        The usable records (in order) and, with ``keep_audio``, their float32 [T_i] clips.
    """
    check = partial(inspect_clip, sample_rate=sample_rate, keep=keep_audio, min_seconds=min_seconds)
    paths = [record.path for record in records]
    if num_threads > 1:
        with ThreadPoolExecutor(max_workers=num_threads) as pool:
            results = list(pool.map(check, paths))
    else:
        results = [check(path) for path in paths]
    kept = [r for r, (_, problem) in zip(records, results, strict=True) if not problem]
    skipped = [
        (r.path, problem) for r, (_, problem) in zip(records, results, strict=True) if problem
    ]
    if skipped:
        lines = [f"  {display_path(path)}: {problem}" for path, problem in skipped[:_LISTED]]
        if len(skipped) > _LISTED:
            lines.append(f"  ... and {len(skipped) - _LISTED} more")
        log.warning(
            "skipped %d of %d audio files that cannot be used:\n%s",
            len(skipped),
            len(records),
            "\n".join(lines),
        )
    audio = [wave for wave, problem in results if not problem] if keep_audio else None
    return kept, audio


def class_counts(records: Sequence[ClipRecord]) -> Counter:
    """Clips per class name."""
    return Counter(record.class_name for record in records)


def drop_small_classes(
    records: Sequence[ClipRecord],
    audio: Sequence[Tensor] | None,
    min_clips: int,
    split: str,
    setting: str,
) -> tuple[list[ClipRecord], list[Tensor] | None]:
    """Leave out the classes with fewer than ``min_clips`` clips, logging which.

    Args:
        records: the clips of one split.
        audio: optional decoded clips aligned with ``records``.
        min_clips: clips a class needs.
        split: split name, for the message.
        setting: the setting that fixes ``min_clips``, for the message.

    Returns:
        The remaining records and their clips (None when ``audio`` is None).
    """
    counts = Counter(record.class_name for record in records)
    small = sorted(name for name, count in counts.items() if count < min_clips)
    if not small:
        return list(records), None if audio is None else list(audio)
    log.warning(
        "%s split: dropped %d class(es) with fewer than %d clips (%s): %s",
        split,
        len(small),
        min_clips,
        setting,
        ", ".join(f"{name} ({counts[name]})" for name in small),
    )
    dropped = set(small)
    keep = [i for i, record in enumerate(records) if record.class_name not in dropped]
    return [records[i] for i in keep], None if audio is None else [audio[i] for i in keep]
