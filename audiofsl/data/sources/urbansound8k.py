"""UrbanSound8K (Salamon, Jacoby & Bello 2014): 8,732 urban sound clips in 10 predefined folds.

Also the small readers of metadata tables that the supervised sources share (ESC-50's folds,
FMA): finding the dataset's folder under ``data.root``, reading a CSV with required columns, and
leaving out listed clips whose file is missing.
"""

from __future__ import annotations

import csv
import logging
import os
from collections.abc import Sequence
from pathlib import Path

from audiofsl.data.audio_io import display_path
from audiofsl.data.base import AudioDataModule
from audiofsl.data.records import ClipRecord
from audiofsl.data.splits import FoldSplit

log = logging.getLogger(__name__)

METADATA = "metadata/UrbanSound8K.csv"
COLUMNS = ("slice_file_name", "fsID", "fold", "class")
_SHOWN = 10  # names quoted in a message


class UrbanSound8KDataModule(AudioDataModule):
    """UrbanSound8K: 10 classes, clips of at most 4 s, 10 folds, as distributed.

    Layout: ``UrbanSound8K/audio/fold<k>/<fsID>-<classID>-<occurrenceID>-<sliceID>.wav`` and
    ``UrbanSound8K/metadata/UrbanSound8K.csv`` (``slice_file_name,fsID,start,end,salience,fold,
    classID,class``). Each row is one record: class ``class``, fold ``fold`` (the predefined
    folds, never reshuffled: slices of one recording share a fold), group ``fsID`` (the
    Freesound recording). The files come at many sample rates, bit depths and channel counts;
    the loader mixes them down and resamples them to ``loader.sample_rate``.

    The protocol is 10-fold cross-validation: one run per ``FoldSplit(test_folds=[k])``,
    reporting the mean over the folds. The few-data study of Pons et al. (2018) trains on 1, 2,
    5, 10, 20, 50 or 100 clips per class: ``subset=TrainSubset(per_class_cap=N)``.

    Args:
        root: the ``UrbanSound8K`` folder (holding ``audio/`` and ``metadata/``) or the folder
            that holds it.
        **kwargs: loader, split (default ``FoldSplit(test_folds=[1])``), subset, sampler and
            seed settings of :class:`AudioDataModule`.
    """

    def __init__(self, root: str | os.PathLike | None = None, **kwargs) -> None:
        if kwargs.get("split") is None:
            kwargs["split"] = FoldSplit(test_folds=[1])
        super().__init__(**kwargs)
        self.root = required_root(root, "the UrbanSound8K folder (holding audio/ and metadata/)")

    def folder(self) -> Path:
        """The ``UrbanSound8K`` folder (``data.root`` or its sub-folder of that name)."""
        return dataset_folder(self.root, "UrbanSound8K", METADATA)

    def index_key(self) -> str:
        return f"{self.folder().resolve()}|urbansound8k"

    def load_records(self) -> list[ClipRecord]:
        folder = self.folder()
        audio = folder / "audio"
        if not audio.is_dir():
            raise FileNotFoundError(
                f"data.root: '{display_path(folder)}' has no audio/ folder; point data.root at "
                "the UrbanSound8K folder holding audio/fold1 .. fold10 and metadata/."
            )
        path = folder / METADATA
        records = []
        for row in read_csv_table(path, COLUMNS):
            fold = integer(row, "fold", path)
            name, label, group = (row[c].strip() for c in ("slice_file_name", "class", "fsID"))
            records.append(ClipRecord(str(audio / f"fold{fold}" / name), label, fold, group=group))
        return drop_missing(records, path)


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

    A UTF-8 byte-order mark and spaces around the column names are accepted.

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
        return [  # short rows read as empty cells
            dict(zip(header, [*row, *[""] * (width - len(row))], strict=False))
            for row in reader
            if any(cell.strip() for cell in row)
        ]


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
