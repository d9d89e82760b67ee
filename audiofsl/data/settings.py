"""Loader settings shared by every data source (one object, not repeated per source)."""

from __future__ import annotations

from dataclasses import dataclass

from audiofsl.data.index import CHECKS
from audiofsl.data.resident import RESIDENT_DTYPES, RESIDENT_MODES


@dataclass
class LoaderSettings:
    """How clips are indexed, decoded, cached, windowed and batched, whatever the source.

    Attributes:
        sample_rate: sample rate of the loaded audio in Hz (files are resampled).
        clip_seconds: the window: training draws one seeded random window of this length per
            clip; short clips are loop-padded, never stretched.
        eval_hop_seconds: evaluate every window of each val/test clip, windows this far
            apart (the last one loop-padded); None: one window, the clip's start.
        num_workers: DataLoader worker processes (and threads indexing files).
        eval_batch_size: windows per evaluation batch.
        cache_mb: decoded audio is kept in RAM when the whole split fits in this budget;
            otherwise workers stream, decoding only the window they need (0: always stream).
        min_clip_seconds: shorter clips are reported and left out (they would be looped many
            times into a window).
        index_dir: where indexes of sources are kept (None: index at every run).
        index_check: ``"quick"`` (headers and sampled blocks) or ``"full"`` (decode every
            file) when indexing.
        resident: hold the training split's decoded audio on the training device and cut each
            batch's windows there (:mod:`audiofsl.data.resident`): ``"auto"`` on a CUDA device
            when it fits ``resident_fraction`` of its memory, ``"always"`` (the CPU included),
            ``"never"``. The batches are the streamed path's (same episodes, same crops).
        resident_dtype: ``"int16"`` (2 bytes a sample), ``"bfloat16"`` or ``"float32"``
            (exactly the streamed audio).
        resident_fraction: the share of the device's memory a resident split may take.
    """

    sample_rate: int = 16000
    clip_seconds: float = 1.0
    eval_hop_seconds: float | None = None
    num_workers: int = 0
    eval_batch_size: int = 64
    cache_mb: float = 1024.0
    min_clip_seconds: float = 0.1
    index_dir: str | None = None
    index_check: str = "quick"
    resident: str = "auto"
    resident_dtype: str = "int16"
    resident_fraction: float = 0.25

    def __post_init__(self) -> None:
        for name, low in (("sample_rate", 1), ("num_workers", 0), ("eval_batch_size", 1)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"data.loader.{name}={value!r} must be an integer >= {low}.")
        if not self.clip_seconds > 0 or round(self.clip_seconds * self.sample_rate) < 1:
            raise ValueError(
                f"data.loader.clip_seconds={self.clip_seconds!r} must give at least one sample."
            )
        hop = self.eval_hop_seconds
        if hop is not None and not 0 < hop <= self.clip_seconds:
            raise ValueError(
                f"data.loader.eval_hop_seconds={hop!r} must lie in (0, data.loader.clip_seconds="
                f"{self.clip_seconds}] (or be null for one window per clip)."
            )
        if not self.min_clip_seconds >= 0 or not self.cache_mb >= 0:
            raise ValueError("data.loader.min_clip_seconds and cache_mb must be >= 0.")
        if self.resident not in RESIDENT_MODES:
            raise ValueError(f"data.loader.resident={self.resident!r}: one of {RESIDENT_MODES}.")
        if self.resident_dtype not in RESIDENT_DTYPES:
            raise ValueError(
                f"data.loader.resident_dtype={self.resident_dtype!r}: one of "
                f"{list(RESIDENT_DTYPES)}."
            )
        if not 0 < self.resident_fraction <= 1:
            raise ValueError(
                f"data.loader.resident_fraction={self.resident_fraction!r} must lie in (0, 1]."
            )
        if self.index_check not in CHECKS:
            raise ValueError(f"data.loader.index_check={self.index_check!r}: one of {CHECKS}.")

    @property
    def clip_samples(self) -> int:
        """Samples per window: ``round(clip_seconds * sample_rate)``."""
        return round(self.clip_seconds * self.sample_rate)

    @property
    def hop_samples(self) -> int | None:
        if self.eval_hop_seconds is None:
            return None
        return max(1, round(self.eval_hop_seconds * self.sample_rate))
