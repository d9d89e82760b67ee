"""Index a source once: every file's header read and checked, the result kept as a CSV.

``index_clips`` looks at each record's file (its header, and a few blocks of samples or the whole
file, see ``check``), records frames, sample rate, channels and, for an unusable file, the
reason, and writes ``path,class_name,...`` rows to a human-readable CSV. The next run reuses
every row whose file has the same size and modification time, so a second run on an unchanged
copy of a dataset starts in seconds; changed or new files are checked again.
"""

from __future__ import annotations

import csv
import logging
import os
import struct
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import soundfile as sf
from rich.progress import Progress

from audiofsl.data.audio_io import display_path, seek_preroll
from audiofsl.data.records import ClipRecord, IndexedClip

log = logging.getLogger(__name__)

#: A file whose peak absolute amplitude is at most this (-80 dBFS) counts as silent.
SILENCE_PEAK = 1e-4
CHECKS = ("quick", "full")
_COLUMNS = (
    "path",
    "class_name",
    "labels",
    "fold",
    "split",
    "group",
    "frames",
    "sample_rate",
    "channels",
    "problem",
    "size",
    "mtime_ns",
)
_BLOCKS, _BLOCK_FRAMES = 16, 2048  # samples looked at by the quick check
_LISTED = 50  # files named in the summary


def index_clips(
    records: Sequence[ClipRecord],
    index_path: str | os.PathLike | None = None,
    check: str = "quick",
    num_threads: int = 4,
    progress: bool = True,
) -> list[IndexedClip]:
    """Read and check every record's file, reusing an earlier index where files are unchanged.

    Args:
        records: the source's clips.
        index_path: the CSV to reuse and (re)write; None indexes without a cache.
        check: ``"quick"`` reads the header and 16 blocks of samples spread over the file
            (the last one included), which finds unreadable, empty, zero-channel, truncated and
            (within those blocks) non-finite or silent files; ``"full"`` decodes every file.
        num_threads: files checked in parallel.
        progress: show a progress bar.

    Returns:
        One :class:`IndexedClip` per record, in order (unusable ones carry their ``problem``).
    """
    if check not in CHECKS:
        raise ValueError(f"data.loader.index_check={check!r}: choose one of {CHECKS}.")
    known = _read_index(Path(index_path)) if index_path is not None else {}
    stats = [_stat(record.path) for record in records]
    todo = [i for i, r in enumerate(records) if known.get((r, stats[i])) is None]
    results: dict[int, IndexedClip] = {}
    with Progress(disable=not progress or not todo) as bar:
        task = bar.add_task("Indexing audio files", total=len(todo))
        with ThreadPoolExecutor(max_workers=max(1, num_threads)) as pool:
            checked = pool.map(lambda i: inspect(records[i], check), todo)
            for i, clip in zip(todo, checked, strict=True):
                results[i] = clip
                bar.advance(task)
    clips = [results.get(i) or known[(r, stats[i])] for i, r in enumerate(records)]
    if index_path is not None and (todo or len(known) != len(clips)):
        _write_index(Path(index_path), clips, stats)
    if todo:
        log.info(
            "indexed %d files (%d reused from %s)",
            len(todo),
            len(clips) - len(todo),
            display_path(index_path) if index_path else "nothing",
        )
    return clips


def report_unusable(clips: Sequence[IndexedClip], extra: Sequence[tuple[str, str]] = ()) -> None:
    """One logged summary of the files left out: ``path: reason`` (``extra`` pairs too)."""
    skipped = [(c.record.path, c.problem) for c in clips if c.problem] + list(extra)
    if not skipped:
        return
    lines = [f"  {display_path(path)}: {reason}" for path, reason in skipped[:_LISTED]]
    if len(skipped) > _LISTED:
        lines.append(f"  ... and {len(skipped) - _LISTED} more")
    log.warning(
        "skipped %d of %d audio files that cannot be used:\n%s",
        len(skipped),
        len(clips),
        "\n".join(lines),
    )


def inspect(record: ClipRecord, check: str = "quick") -> IndexedClip:
    """Read one file's header (and samples, see :func:`index_clips`) and say what is wrong."""
    path = os.fsencode(record.path)
    try:
        info = sf.info(path)
    except (sf.SoundFileError, RuntimeError, OSError, ValueError, TypeError) as error:
        return IndexedClip(record, problem=f"unreadable: {_reason(error, path)}")
    clip = IndexedClip(record, int(info.frames), int(info.samplerate), int(info.channels))
    problem = _problem(path, clip, check)
    return IndexedClip(record, clip.frames, clip.sample_rate, clip.channels, problem)


def _problem(path: bytes, clip: IndexedClip, check: str) -> str:
    if clip.channels == 0:
        return "no channels"
    if clip.frames == 0:
        return "empty (no samples)"
    missing = _wav_missing_frames(path, clip)
    if missing:
        return f"truncated (the header announces {missing} more frames than the file holds)"
    try:
        samples = _read_samples(path, clip.frames, check)
    except (sf.SoundFileError, RuntimeError, OSError, ValueError) as error:
        return f"unreadable: {_reason(error, path)}"
    if not np.isfinite(samples).all():
        return "non-finite samples (NaN or inf)"
    peak = float(np.abs(samples).max()) if samples.size else 0.0
    if peak <= SILENCE_PEAK:
        return f"silent (peak amplitude {peak:.2g})"
    return ""


def _read_samples(path: bytes, frames: int, check: str) -> np.ndarray:
    if check == "full" or frames <= _BLOCKS * _BLOCK_FRAMES:
        return sf.read(path, dtype="float32", always_2d=True)[0]
    starts = np.linspace(0, frames - _BLOCK_FRAMES, _BLOCKS).astype(int)
    preroll = seek_preroll(path)
    with sf.SoundFile(path) as handle:
        blocks = []
        for start in starts:
            skip = min(int(start), preroll)
            handle.seek(int(start) - skip)
            blocks.append(handle.read(_BLOCK_FRAMES + skip, dtype="float32", always_2d=True)[skip:])
    return np.concatenate(blocks)


def _reason(error: Exception, path: bytes) -> str:
    """The error's message, the file named readably (libsndfile quotes the bytes path)."""
    return display_path(str(error).replace(repr(path), f"'{display_path(path)}'"))


def _wav_missing_frames(path: bytes, clip: IndexedClip) -> int:
    """Frames a WAV header announces beyond those present (libsndfile hides truncation)."""
    if not path.lower().endswith(b".wav"):
        return 0
    try:
        with open(path, "rb") as handle:
            header = handle.read(4096)
    except OSError:
        return 0
    if header[:4] != b"RIFF" or header[8:12] != b"WAVE":
        return 0
    position, block_align, data_bytes = 12, 0, None
    while position + 8 <= len(header):
        chunk, size = (
            header[position : position + 4],
            struct.unpack("<I", header[position + 4 : position + 8])[0],
        )
        if chunk == b"fmt " and position + 22 <= len(header):
            block_align = struct.unpack("<H", header[position + 20 : position + 22])[0]
        if chunk == b"data":
            data_bytes = size
            break
        position += 8 + size + (size % 2)
    if not block_align or data_bytes is None or data_bytes == 0xFFFFFFFF:
        return 0
    return max(0, data_bytes // block_align - clip.frames)


def _stat(path: str) -> tuple[int, int]:
    try:
        status = os.stat(os.fsencode(path))
    except OSError:
        return (-1, -1)
    return (status.st_size, status.st_mtime_ns)


def _record_of(row: dict[str, str]) -> ClipRecord:
    labels = tuple(filter(None, row["labels"].split("|")))
    fold = int(row["fold"]) if row["fold"] else None
    return ClipRecord(
        row["path"], row["class_name"], fold, row["split"] or None, row["group"] or None, labels
    )


def _read_index(path: Path) -> dict[tuple[ClipRecord, tuple[int, int]], IndexedClip]:
    if not path.is_file():
        return {}
    known = {}
    try:
        with path.open(newline="", encoding="utf-8", errors="surrogateescape") as handle:
            for row in csv.DictReader(handle):
                record = _record_of(row)
                clip = IndexedClip(
                    record,
                    int(row["frames"]),
                    int(row["sample_rate"]),
                    int(row["channels"]),
                    row["problem"],
                )
                known[(record, (int(row["size"]), int(row["mtime_ns"])))] = clip
    except (KeyError, ValueError, csv.Error) as error:
        log.warning("ignoring the unreadable index %s (%s); indexing again", path, error)
        return {}
    return known


def _write_index(path: Path, clips: Sequence[IndexedClip], stats: Sequence[tuple]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(
        "w",
        newline="",
        dir=path.parent,
        suffix=".partial",
        delete=False,
        encoding="utf-8",
        errors="surrogateescape",
    ) as handle:
        writer = csv.writer(handle)
        writer.writerow(_COLUMNS)
        for clip, (size, mtime) in zip(clips, stats, strict=True):
            r = clip.record
            writer.writerow(
                [
                    r.path,
                    r.class_name,
                    "|".join(r.labels),
                    "" if r.fold is None else r.fold,
                    r.split or "",
                    r.group or "",
                    clip.frames,
                    clip.sample_rate,
                    clip.channels,
                    clip.problem,
                    size,
                    mtime,
                ]
            )
    os.replace(handle.name, path)
