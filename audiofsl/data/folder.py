"""Finding audio files and their classes: class folders, manifest CSVs, file-name patterns."""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Sequence
from pathlib import Path

from audiofsl.data.audio_io import AUDIO_EXTENSIONS
from audiofsl.data.clips import ClipRecord

_SHOWN = 10  # file names quoted in an error message


def scan_folder(
    root: str | os.PathLike, extensions: Sequence[str] = AUDIO_EXTENSIONS
) -> list[ClipRecord]:
    """Audio files laid out as ``root/<class>/<clip>.<ext>`` (sub-folders of a class allowed).

    Hidden files and folders (names starting with ".") are ignored. The order is deterministic:
    classes sorted by name, clips sorted by their path inside the class folder.

    Args:
        root: folder holding one sub-folder per class.
        extensions: file extensions to keep, matched case-insensitively.

    Returns:
        One record per audio file.

    Raises:
        FileNotFoundError: if ``root`` is not a folder.
        ValueError: if no audio file is found.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"audio folder '{root}' does not exist or is not a folder.")
    suffixes = {("." + e.lower().lstrip(".")) for e in extensions}
    records = []
    class_dirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    for class_dir in class_dirs:
        clips = sorted(
            path.relative_to(class_dir).as_posix()
            for path in class_dir.rglob("*")
            if path.suffix.lower() in suffixes and path.is_file()
        )
        records += [
            ClipRecord(str(class_dir / clip), class_dir.name)
            for clip in clips
            if not any(part.startswith(".") for part in clip.split("/"))
        ]
    if not records:
        raise ValueError(
            f"no audio files with extensions {sorted(suffixes)} in '{root}'; expected the layout "
            "<root>/<class>/<clip>.wav (one sub-folder per class)."
        )
    return records


def read_manifest(csv_path: str | os.PathLike) -> list[ClipRecord]:
    """Records listed by a CSV with a header and columns ``path,label`` (others are ignored).

    Relative paths are resolved from the CSV's folder; rows keep the file's order.

    Args:
        csv_path: the manifest file.

    Returns:
        One record per row.

    Raises:
        FileNotFoundError: if the manifest or a file it lists does not exist.
        ValueError: if a column is missing or a row has an empty path or label.
    """
    csv_path = Path(csv_path)
    if not csv_path.is_file():
        raise FileNotFoundError(f"manifest '{csv_path}' does not exist.")
    with csv_path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        columns = [c.strip() for c in reader.fieldnames or []]
        missing = [c for c in ("path", "label") if c not in columns]
        if missing:
            raise ValueError(
                f"manifest '{csv_path}' lacks the column(s) {missing} (found {columns}); its "
                "first row must be a header with the columns path,label."
            )
        reader.fieldnames = columns
        rows = [(line, row["path"], row["label"]) for line, row in enumerate(reader, start=2)]
    records = []
    for line, path, label in rows:
        path, label = (path or "").strip(), (label or "").strip()
        if not path or not label:
            raise ValueError(f"manifest '{csv_path}' line {line}: the path or label is empty.")
        records.append(ClipRecord(str(csv_path.parent / path), label))
    absent = [r.path for r in records if not os.path.isfile(r.path)]
    if absent:
        raise FileNotFoundError(
            f"manifest '{csv_path}' lists {len(absent)} file(s) that do not exist, e.g. "
            f"{absent[:_SHOWN]}; relative paths are resolved from the manifest's folder."
        )
    return records


def apply_class_pattern(records: Sequence[ClipRecord], pattern: str) -> list[ClipRecord]:
    """Re-derive each record's class from its file name (without extension) by a regex.

    The class is the pattern's first group, or the whole match when it has no group; e.g.
    ``^(\\d+_[a-z]+)_\\d+$`` turns ``3_theo_12.flac`` into class ``3_theo``.

    Args:
        records: the clips.
        pattern: a Python regular expression searched in each file stem.

    Returns:
        The records with their new class names.

    Raises:
        ValueError: if the pattern is invalid or a file name does not match it.
    """
    try:
        regex = re.compile(pattern)
    except re.error as error:
        raise ValueError(f"data.class_pattern={pattern!r} is not a valid regex: {error}") from error
    relabelled, unmatched = [], []
    for record in records:
        match = regex.search(Path(record.path).stem)
        if match is None or not match.group(1 if regex.groups else 0):
            unmatched.append(record.path)
            continue
        relabelled.append(ClipRecord(record.path, match.group(1 if regex.groups else 0)))
    if unmatched:
        raise ValueError(
            f"data.class_pattern={pattern!r} does not match {len(unmatched)} file name(s), e.g. "
            f"{unmatched[:_SHOWN]}; fix the pattern or remove those files."
        )
    return relabelled
