"""UrbanSound8K (Salamon, Jacoby & Bello 2014): 8,732 urban sound clips in 10 predefined folds.

Also the small readers of metadata tables that the supervised sources share (ESC-50's folds,
FMA): finding the dataset's folder under ``data.root``, reading a CSV with required columns, and
leaving out listed clips whose file is missing.
"""

from __future__ import annotations

import logging
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

log = logging.getLogger(__name__)

METADATA = "metadata/UrbanSound8K.csv"
COLUMNS = ("slice_file_name", "fsID", "fold", "class")


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
