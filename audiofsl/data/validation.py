"""Classes too small for their episodes (files are checked when a source is indexed)."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence

from torch import Tensor

from audiofsl.data.records import ClipRecord

log = logging.getLogger(__name__)

#: A clip whose peak absolute amplitude is at most this (-80 dBFS) counts as silent.
SILENCE_PEAK = 1e-4
_LISTED = 50  # files named in the warning; the rest are counted


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
