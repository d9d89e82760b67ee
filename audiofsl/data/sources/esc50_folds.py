"""ESC-50 (Piczak 2015) for supervised classification: 5-fold cross-validation on its folds."""

from __future__ import annotations

import os
from pathlib import Path

from audiofsl.data.audio_io import display_path
from audiofsl.data.base import AudioDataModule
from audiofsl.data.records import ClipRecord
from audiofsl.data.sources.tables import (
    dataset_folder,
    drop_missing,
    integer,
    read_csv_table,
    required_root,
)
from audiofsl.data.splits import FoldSplit

METADATA = "meta/esc50.csv"
COLUMNS = ("filename", "fold", "category")


class ESC50FoldsDataModule(AudioDataModule):
    """ESC-50 with its own five folds: 50 classes x 40 clips of 5 s, as distributed.

    Layout: ``ESC-50-master/audio/<fold>-<src_file>-<take>-<target>.wav`` and
    ``ESC-50-master/meta/esc50.csv`` (``filename,fold,target,category,esc10,src_file,take``).
    Each row is one record: class ``category``, fold ``fold``, group ``src_file`` (the
    Freesound recording the clip was cut from; the clips of one recording share a fold).

    The supervised protocol is 5-fold cross-validation on the given folds: one run per
    ``FoldSplit(test_folds=[k])``, reporting the mean over the five. ``esc10_only`` keeps the
    ESC-10 subset (10 classes, the rows whose ``esc10`` is ``True``). For few-shot learning on
    disjoint classes (MetaAudio's splits), see the ``esc50`` source instead.

    Args:
        root: the ``ESC-50-master`` folder (holding ``meta/`` and ``audio/``) or the folder
            that holds it.
        esc10_only: keep the ESC-10 subset only.
        **kwargs: loader, split (default ``FoldSplit(test_folds=[1])``), subset, sampler and
            seed settings of :class:`AudioDataModule`.
    """

    def __init__(
        self, root: str | os.PathLike | None = None, esc10_only: bool = False, **kwargs
    ) -> None:
        if kwargs.get("split") is None:
            kwargs["split"] = FoldSplit(test_folds=[1])
        super().__init__(**kwargs)
        self.root = required_root(root, "the ESC-50-master folder (holding meta/ and audio/)")
        self.esc10_only = bool(esc10_only)

    def folder(self) -> Path:
        """The ``ESC-50-master`` folder (``data.root`` or its sub-folder of that name)."""
        return dataset_folder(self.root, "ESC-50-master", METADATA)

    def index_key(self) -> str:
        return f"{self.folder().resolve()}|esc50_folds|esc10={self.esc10_only}"

    def load_records(self) -> list[ClipRecord]:
        folder = self.folder()
        path = folder / METADATA
        rows = read_csv_table(path, COLUMNS + (("esc10",) if self.esc10_only else ()))
        if self.esc10_only:
            rows = [row for row in rows if row["esc10"].strip().lower() == "true"]
            if not rows:
                raise ValueError(
                    f"data.esc10_only=true, but no row of '{display_path(path)}' has esc10 True."
                )
        records = [
            ClipRecord(
                str(folder / "audio" / row["filename"].strip()),
                row["category"].strip(),
                fold=integer(row, "fold", path),
                group=(row.get("src_file") or "").strip() or None,
            )
            for row in rows
        ]
        return drop_missing(records, path)
