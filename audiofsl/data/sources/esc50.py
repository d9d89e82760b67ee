"""ESC-50 (Piczak, 2015): 2,000 environmental sound clips of 5 s, 50 classes, 5 folds."""

from __future__ import annotations

import os

from audiofsl.data.records import ClipRecord
from audiofsl.data.sources.metaaudio import (
    BASELINE,
    MetaAudioDataModule,
    drop_incomplete,
)
from audiofsl.data.sources.tables import read_csv_table

_COLUMNS = ("filename", "fold", "category", "src_file")


class ESC50DataModule(MetaAudioDataModule):
    """ESC-50 as distributed (github.com/karolpiczak/ESC-50), split by MetaAudio's classes.

    ``root`` is the ``ESC-50-master`` folder (or the folder holding it): ``meta/esc50.csv``
    (columns ``filename, fold, target, category, esc10, src_file, take``) lists the clips
    ``audio/<filename>``. A clip's class is its ``category`` (``dog``, ``church_bells``), its
    fold the CSV's ``fold`` and its group the ``src_file`` it was cut from. The default split
    is MetaAudio's 35/5/10 classes (``variant="meta_aware"``: stratified over the five major
    groups); ``data/split=folds`` gives the 5-fold cross-validation protocol instead.

    Args:
        root: the ``ESC-50-master`` folder, or the folder holding it.
        esc10_only: keep the ESC-10 subset (10 classes, ``esc10`` True). MetaAudio's split
            files cover ESC-50, so the split is then ``split`` as given (e.g. folds).
        variant: ``"baseline"`` or ``"meta_aware"`` (None: ``split`` as given).
        **kwargs: split, loader, subset, sampler and seed settings of
            :class:`~audiofsl.data.sources.metaaudio.MetaAudioDataModule`.
    """

    dataset = "esc50"
    variants = (BASELINE, "meta_aware")
    layout = "the ESC-50-master folder (holding meta/esc50.csv and audio/) or its parent"

    def __init__(
        self,
        root: str | os.PathLike | None = None,
        esc10_only: bool = False,
        variant: str | None = BASELINE,
        **kwargs,
    ) -> None:
        self.esc10_only = bool(esc10_only)
        super().__init__(root, None if self.esc10_only else variant, **kwargs)

    def index_key(self) -> str:
        return f"{super().index_key()}|esc10_only={self.esc10_only}"

    def load_records(self) -> list[ClipRecord]:
        root = self.check_root()
        inner = "ESC-50-master/" if not (root / "meta").is_dir() else ""
        if inner and not (root / inner).is_dir():
            inner = ""  # neither layout: name the files of the first
        csv_path = self.require(f"{inner}meta/esc50.csv")
        audio = self.require(f"{inner}audio", "folder")
        required = (*_COLUMNS, "esc10") if self.esc10_only else _COLUMNS
        rows = drop_incomplete(read_csv_table(csv_path, required), required, csv_path)
        if self.esc10_only:
            rows = [row for row in rows if row["esc10"].lower() in ("true", "1")]
            if not rows:
                raise ValueError(f"{csv_path}: no clip has esc10 True (data.esc10_only=true).")
        try:
            return [
                ClipRecord(
                    str(audio / row["filename"]),
                    row["category"],
                    fold=int(row["fold"]),
                    group=row["src_file"],
                )
                for row in rows
            ]
        except ValueError as error:
            raise ValueError(f"{csv_path}: the fold column must hold integers ({error}).") from None
