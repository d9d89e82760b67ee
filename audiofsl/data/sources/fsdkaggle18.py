"""FSDKaggle2018 (Fonseca et al., 2018): 11,073 Freesound clips of 0.3-30 s, 41 classes."""

from __future__ import annotations

import logging

from audiofsl.data.records import ClipRecord
from audiofsl.data.sources.metaaudio import (
    BASELINE,
    MetaAudioDataModule,
    drop_incomplete,
)
from audiofsl.data.sources.tables import read_csv_table

log = logging.getLogger(__name__)

#: (part, audio folder, metadata CSV in FSDKaggle2018.meta/)
PARTS = (
    ("train", "FSDKaggle2018.audio_train", "train_post_competition.csv"),
    ("test", "FSDKaggle2018.audio_test", "test_post_competition_scoring_clips.csv"),
)
_COLUMNS = ("fname", "label")


class FSDKaggle18DataModule(MetaAudioDataModule):
    """FSDKaggle2018 as distributed (zenodo.org/record/2552860), its parts together.

    ``root`` holds ``FSDKaggle2018.audio_train/``, ``FSDKaggle2018.audio_test/`` and
    ``FSDKaggle2018.meta/`` with ``train_post_competition.csv`` (``fname, label,
    manually_verified, freesound_id, license``) and ``test_post_competition_scoring_clips.csv``
    (``fname, label, usage, freesound_id, license``). As in MetaAudio, the clips the two CSVs
    list make one pool (11,073 clips): a clip's class is its ``label`` (``Acoustic_guitar``),
    its ``split`` the part, its group its ``freesound_id``. A part whose CSV is missing is left
    out with a warning. Clips last 0.3-30 s: the data config cuts them into 5 s windows and
    evaluates every window of a query (MetaAudio's treatment). The default split is MetaAudio's
    29/5/7 classes (variants ``length_shifted`` and ``length_stratified``: by sample length).

    Args:
        root: the folder holding the ``FSDKaggle2018.*`` folders.
        variant: ``"baseline"``, ``"length_shifted"`` or ``"length_stratified"`` (None:
            ``split`` as given).
        **kwargs: split, loader, subset, sampler and seed settings of
            :class:`~audiofsl.data.sources.metaaudio.MetaAudioDataModule`.
    """

    dataset = "fsdkaggle18"
    variants = (BASELINE, "length_shifted", "length_stratified")
    layout = (
        "the folder holding FSDKaggle2018.audio_train/, FSDKaggle2018.audio_test/ and "
        "FSDKaggle2018.meta/"
    )

    def load_records(self) -> list[ClipRecord]:
        self.check_root()
        self.require("FSDKaggle2018.meta", "folder")
        records, absent = [], []
        for part, folder, csv_name in PARTS:
            csv_path = self.root / "FSDKaggle2018.meta" / csv_name
            if not csv_path.is_file():
                absent.append(f"FSDKaggle2018.meta/{csv_name}")
                continue
            audio = self.require(folder, "folder")
            rows = drop_incomplete(read_csv_table(csv_path, _COLUMNS), _COLUMNS, csv_path)
            records += [
                ClipRecord(
                    str(audio / row["fname"]),
                    row["label"],
                    split=part,
                    group=row.get("freesound_id") or None,
                )
                for row in rows
            ]
        if len(absent) == len(PARTS):
            raise FileNotFoundError(
                f"data.root={self.root} has neither {absent[0]} nor {absent[1]}; set data.root "
                f"to {self.layout}."
            )
        if absent:
            log.warning("FSDKaggle2018: %s missing; using the other part only", absent)
        return records
