"""What ``predict`` and ``enrol`` print and write: per-file tables, summaries, kept output files.

* Output files are never replaced: by default each call writes ``RUN/<kind>/<time>.csv`` and
  ``.json`` (``<kind>``: predictions or enrolment; ``<time>`` as ``2026-11-21_10-00-00``, with
  ``_2``, ``_3`` ... added for calls within one second); ``output_file=`` names the CSV instead.
* Tables fit the terminal: each file is shown relative to the folder that holds all the files
  (named in the caption), and a path too long for its column keeps its start and its file name
  (``violin/long_recordi…/take_03.wav``), so that each file takes one line.
* Long lists are summarised: beyond ``max_rows`` files the table counts the files per class and
  the CSV holds every row.
"""

from __future__ import annotations

import csv
import importlib.util
import json
import logging
import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import count
from pathlib import Path

import numpy as np
from rich import box
from rich.cells import cell_len
from rich.console import Console
from rich.table import Table
from torch import Tensor

from audiofsl.data.audio_io import display_path

__all__ = [
    "FilePrediction",
    "write_embeddings",
    "check_max_rows",
    "kept_output_files",
    "print_file_table",
    "print_label_counts",
    "print_unreadable",
    "print_written",
    "relative_to_common_folder",
    "shorten_middle",
    "unreadable_entries",
    "write_outputs",
]

log = logging.getLogger(__name__)

#: The narrowest file column; below it the other columns wrap instead.
_MIN_FILE_WIDTH = 16
_ELLIPSIS = "…"


# ----------------------------------------------------------------- output files
@dataclass(frozen=True)
class FilePrediction:
    """A classifier's prediction for one file.

    Attributes:
        path: the file.
        top: the ``top_k`` most probable classes ``(name, probability)``, best first.
        labels: the predicted labels: the most probable class, or for a multi-label run every
            class whose probability exceeds the run's threshold (most probable first).
    """

    path: str
    top: list[tuple[str, float]]
    labels: list[str]


def write_embeddings(
    embeddings: Tensor, rows: Sequence[tuple[str, str]], out: Path
) -> dict[str, Path]:
    """Write file embeddings for analysis and for TensorBoard's projector.

    Writes ``embeddings.npy`` (float32 ``[N, D]``), ``metadata.csv`` (``path,label``, the same
    rows) and, when TensorBoard is installed, a projector log in ``out/tensorboard``
    (``tensorboard --logdir out/tensorboard``).

    Args:
        embeddings: ``[N, D]`` one row per file.
        rows: ``(path, label)`` of each file.
        out: output folder (created).

    Returns:
        The written paths by kind (``embeddings``, ``metadata``, ``tensorboard``).
    """
    out.mkdir(parents=True, exist_ok=True)
    written = {"embeddings": out / "embeddings.npy", "metadata": out / "metadata.csv"}
    np.save(written["embeddings"], embeddings.numpy().astype(np.float32))
    with written["metadata"].open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([("path", "label"), *rows])
    if rows and importlib.util.find_spec("tensorboard") is not None:
        from torch.utils.tensorboard import SummaryWriter

        written["tensorboard"] = out / "tensorboard"
        metadata = [[display_path(path), label or "-"] for path, label in rows]
        with SummaryWriter(str(written["tensorboard"])) as writer:
            writer.add_embedding(embeddings, metadata=metadata,
                                 metadata_header=["path", "label"], tag="audio")  # fmt: skip
    return written


def kept_output_files(folder: Path, now: datetime | None = None) -> tuple[Path, Path]:
    """A new ``<folder>/<time>.csv`` and its ``.json``, beside no earlier output.

    ``<time>`` is ``now`` (default: the current time) as ``%Y-%m-%d_%H-%M-%S``, as in the run
    directories; a second call within the same second gets ``<time>_2``, then ``_3`` ...
    """
    stamp = (now or datetime.now()).strftime("%Y-%m-%d_%H-%M-%S")
    for number in count(1):
        name = stamp if number == 1 else f"{stamp}_{number}"
        csv_path = folder / f"{name}.csv"
        json_path = csv_path.with_suffix(".json")
        if not csv_path.exists() and not json_path.exists():
            return csv_path, json_path
    raise AssertionError("unreachable")


def write_outputs(csv_path: Path, rows: list[dict], json_path: Path, content: dict) -> None:
    """``rows`` as CSV (columns: the first row's keys) and ``content`` as JSON."""
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.parent.mkdir(parents=True, exist_ok=True)
    with csv_path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]) if rows else ["path"])
        writer.writeheader()
        writer.writerows(rows)
    json_path.write_text(json.dumps(content, indent=2, ensure_ascii=False) + "\n")


def print_written(console: Console, summary: str, csv_path: Path, json_path: Path) -> None:
    """One line: what was done and the files written (paths never broken across lines)."""
    _print_line(
        console, f"{summary}; written: {display_path(csv_path)} and {display_path(json_path)}"
    )


def unreadable_entries(failures: Sequence[tuple[str, str]]) -> list[dict]:
    """``[{"path", "reason"}]`` of the files that could not be used."""
    return [{"path": display_path(path), "reason": reason} for path, reason in failures]


def print_unreadable(console: Console, failures: Sequence[tuple[str, str]], what: str) -> None:
    """List the files that could not be used (not an error: the others were processed)."""
    if not failures:
        return
    console.print(f"[yellow]{what} that could not be used ({len(failures)}):[/yellow]")
    for path, reason in failures:
        console.print(f"  {display_path(path)}: {reason}", markup=False, highlight=False)


# ----------------------------------------------------------------- tables
def check_max_rows(max_rows) -> int | None:
    """``max_rows`` as given (None: every row), or a ValueError naming the setting."""
    if max_rows is None:
        return None
    if isinstance(max_rows, int) and not isinstance(max_rows, bool) and max_rows >= 0:
        return max_rows
    raise ValueError(
        f"max_rows={max_rows!r}: give the number of files listed before the table summarises "
        "them (e.g. max_rows=20), or max_rows=null to list every file."
    )


def relative_to_common_folder(paths: Sequence[str | os.PathLike]) -> tuple[str, list[str]]:
    """The folder holding every path, and each path relative to it (printable)."""
    absolute = [os.path.abspath(path) for path in paths]
    if not absolute:
        return "", []
    common = os.path.commonpath([os.path.dirname(path) for path in absolute])
    return display_path(common), [display_path(os.path.relpath(p, common)) for p in absolute]


def shorten_middle(text: str, width: int) -> str:
    """``text`` cut to ``width`` characters in the middle, keeping its start and file name.

    ``a/b/c/name.wav`` becomes ``a/b…/name.wav``; a file name too long for ``width`` is shown
    alone, with its start and its end (``long_na…me.wav``).
    """
    if width < 1:
        raise ValueError(f"shorten_middle: width={width} must be at least 1.")
    if cell_len(text) <= width:
        return text
    head, separator, name = text.rpartition(os.sep)
    if separator and len(name) + 2 <= width:  # room for "…/", the name, and what fits of the start
        return head[: width - len(name) - 2] + _ELLIPSIS + os.sep + name
    if len(name) <= width:
        return name
    tail = width // 2
    return name[: width - 1 - tail] + _ELLIPSIS + (name[-tail:] if tail else "")


def print_file_table(
    console: Console,
    heading: str,
    headers: Sequence[str],
    rows: Sequence[tuple[str, Sequence[str]]],
) -> None:
    """``heading``, then a table of one line per file that fits the console's width, then the
    folder the files are shown relative to.

    Args:
        console: where to print; its width sizes the file column.
        heading: a line above the table (e.g. the checkpoint).
        headers: the headers of the columns after the file column.
        rows: ``(path, cells)`` per file, ``cells`` one string per header.
    """
    folder, relative = relative_to_common_folder([path for path, _ in rows])
    others = [
        max([cell_len(header), *(cell_len(cells[i]) for _, cells in rows)])
        for i, header in enumerate(headers)
    ]
    # Between columns: one separator and a space either side (none at the outer edges).
    file_width = max(_MIN_FILE_WIDTH, console.width - sum(others) - 3 * len(others))
    table = _plain_table()
    table.add_column("file", no_wrap=True, max_width=file_width)
    for header in headers:
        table.add_column(header)
    for shown, (_, cells) in zip(relative, rows, strict=True):
        table.add_row(shorten_middle(shown, file_width), *cells)
    _print_line(console, heading)
    console.print(table)
    if folder:
        _print_line(console, f"files under {folder}")


def print_label_counts(
    console: Console, heading: str, labels: Sequence[Sequence[str]], max_rows: int
) -> None:
    """``heading``, then the number of files per class, most frequent first: the summary of a
    list longer than ``max_rows``."""
    counts = Counter(label for file_labels in labels for label in (file_labels or ["(none)"]))
    table = _plain_table()
    table.add_column("class")
    table.add_column("files", justify="right")
    for label, files in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
        table.add_row(label, str(files))
    _print_line(console, heading)
    console.print(table)
    _print_line(
        console,
        f"{len(labels)} files, more than max_rows={max_rows}: files per class shown, every file "
        "is in the CSV (max_rows=null lists them all)",
    )


def _plain_table() -> Table:
    """A table without outer borders or edge padding: more room for the cells."""
    return Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)


def _print_line(console: Console, text: str) -> None:
    """``text`` as is: no markup, no highlighting, no line breaks inserted in paths."""
    console.print(text, soft_wrap=True, markup=False, highlight=False)
