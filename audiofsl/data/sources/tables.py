"""Reading datasets' metadata tables and folders, with errors that name the file at fault."""

from __future__ import annotations

import csv
import logging
import os
from collections.abc import Sequence
from pathlib import Path

from audiofsl.data.audio_io import display_path
from audiofsl.data.records import ClipRecord

log = logging.getLogger(__name__)

_SHOWN = 5  # file names quoted in a message


def required_root(root: str | os.PathLike | None, what: str) -> Path:
    """``data.root`` as a path; a clear error when it is not set.

    Args:
        root: the setting's value.
        what: what it must point at, for the message.
    """
    if root is None or str(root) == "":
        raise ValueError(f"data.root is not set; set it to {what}.")
    return Path(root)


def dataset_folder(root: Path, name: str, marker: str) -> Path:
    """The dataset's folder: ``root`` itself when it holds ``marker``, else ``root/name``.

    Raises:
        FileNotFoundError: if neither holds ``marker``; the message names ``data.root``.
    """
    if not root.is_dir():
        raise FileNotFoundError(f"data.root: folder '{display_path(root)}' does not exist.")
    for folder in (root, root / name):
        if (folder / marker).is_file():
            return folder
    raise FileNotFoundError(
        f"data.root: no {marker} in '{display_path(root)}' nor in '{display_path(root / name)}'; "
        f"set data.root to the {name} folder as distributed (or the folder that holds it)."
    )


def read_csv_table(path: Path, required: Sequence[str]) -> list[dict[str, str]]:
    """The rows of a metadata CSV with a header, checked to have the ``required`` columns.

    A UTF-8 byte-order mark and spaces around the column names and values are accepted.

    Raises:
        FileNotFoundError: if the file does not exist.
        ValueError: if a required column is missing (the message lists the file's columns).
    """
    if not path.is_file():
        raise FileNotFoundError(f"metadata file '{display_path(path)}' does not exist.")
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        header = [name.strip() for name in next(reader, [])]
        missing = [name for name in required if name not in header]
        if missing:
            raise ValueError(
                f"metadata file '{display_path(path)}' lacks the columns {missing} (it has "
                f"{header[:20]}); is it the dataset's original file?"
            )
        width = len(header)
        return [  # short rows read as empty cells; values stripped
            {
                name: value.strip()
                for name, value in zip(header, [*row, *[""] * (width - len(row))], strict=False)
            }
            for row in reader
            if any(cell.strip() for cell in row)
        ]


def _padded(row: list[str], width: int) -> list[str]:
    return [*row[:width], *[""] * (width - len(row))]


def integer(row: dict[str, str], column: str, path: Path) -> int:
    """``row[column]`` as an integer; a clear error naming the file otherwise."""
    value = (row.get(column) or "").strip()
    try:
        return int(value)
    except ValueError:
        raise ValueError(
            f"metadata file '{display_path(path)}': column {column} holds {value!r}, not an "
            f"integer (row {dict(list(row.items())[:4])})."
        ) from None


def drop_missing(records: list[ClipRecord], listing: Path) -> list[ClipRecord]:
    """The records whose file exists; the others are left out with one warning.

    Each folder is listed once (not one ``stat`` per file), which keeps large copies on network
    file systems fast.

    Raises:
        FileNotFoundError: if no listed file exists (``data.root`` is wrong).
    """
    present: dict[str, set[str]] = {}
    kept, missing = [], []
    for record in records:
        folder, name = os.path.split(record.path)
        if folder not in present:
            present[folder] = set(os.listdir(folder)) if os.path.isdir(folder) else set()
        (kept if name in present[folder] else missing).append(record)
    if missing and not kept:
        raise FileNotFoundError(
            f"none of the {len(records)} files listed in '{display_path(listing)}' exists, e.g. "
            f"'{display_path(missing[0].path)}'; check data.root."
        )
    if missing:
        log.warning(
            "%d of the %d clips listed in %s have no audio file and are left out: %s%s",
            len(missing),
            len(records),
            display_path(listing),
            [display_path(os.path.basename(r.path)) for r in missing[:_SHOWN]],
            " ..." if len(missing) > _SHOWN else "",
        )
    return kept
