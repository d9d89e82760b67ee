"""IRMAS (Bosch et al. 2012): predominant instruments; single-label training, multi-label test."""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

from audiofsl.data.audio_io import display_path
from audiofsl.data.base import AudioDataModule
from audiofsl.data.records import ClipRecord
from audiofsl.data.sources.tables import required_root
from audiofsl.data.splits import OfficialSplit

log = logging.getLogger(__name__)

#: The 11 instrument codes (cello, clarinet, flute, acoustic and electric guitar, organ, piano,
#: saxophone, trumpet, violin, voice).
INSTRUMENTS = ("cel", "cla", "flu", "gac", "gel", "org", "pia", "sax", "tru", "vio", "voi")
TRAINING = "IRMAS-TrainingData"
TESTING = "IRMAS-TestingData"  # prefix of the parts' folders: -Part1, -Part2, -Part3
_SHOWN = 10
_SEGMENT = re.compile(r"__\d+$")  # "<name>__<k>": the k-th 3 s excerpt of one recording
_EXCERPT = re.compile(r"-\d+$")  # "<song>-<k>": the k-th test excerpt of one song


class IRMASDataModule(AudioDataModule):
    """IRMAS as distributed: 6,705 training clips of 3 s and 2,874 multi-label test clips.

    Training (split ``"train"``): ``IRMAS-TrainingData/<inst>/<name>[<inst>][<dru|nod>][<genre>]
    <n>__<k>.wav``, one predominant instrument each; the class is the folder's instrument code
    and the group the recording (the name without ``__<k>``). Testing (split ``"test"``):
    the folders ``IRMAS-TestingData-Part1/2/3`` hold, at depths that differ between parts,
    pairs ``<name>.wav`` (5-20 s) and ``<name>.txt`` listing the instruments present, one code
    per line (spaces, tabs and line ends vary); they are found by a recursive search. A test
    clip's ``labels`` are all its codes (``class_name``: the first one), so items carry a
    multi-hot ``"labels"`` [11]; its group is the song (the name without ``-<k>``).

    The default split is ``OfficialSplit(train=[train], val=[], test=[test])``. Test clips are
    longer than the 3 s window: evaluate with ``loader.eval_hop_seconds`` (every window).
    Unknown instrument codes in a label file are left out with a warning; a test clip with no
    known code, a ``.txt`` without its ``.wav`` or the reverse, too.

    Args:
        root: the folder holding ``IRMAS-TrainingData/`` and ``IRMAS-TestingData-Part*/``.
        **kwargs: loader, split, subset, sampler and seed settings of
            :class:`AudioDataModule`.
    """

    def __init__(self, root: str | os.PathLike | None = None, **kwargs) -> None:
        if kwargs.get("split") is None:
            kwargs["split"] = OfficialSplit(train=["train"], val=[], test=["test"])
        super().__init__(**kwargs)
        self.root = required_root(root, f"the folder holding {TRAINING}/ and {TESTING}-Part*/")

    def index_key(self) -> str:
        return f"{self.root.resolve()}|irmas"

    def load_records(self) -> list[ClipRecord]:
        training = self.root / TRAINING
        if not training.is_dir():
            raise FileNotFoundError(
                f"data.root: no {TRAINING}/ folder in '{display_path(self.root)}'; set data.root "
                f"to the folder holding {TRAINING}/ and {TESTING}-Part1/2/3/."
            )
        parts = sorted(p for p in self.root.glob(f"{TESTING}*") if p.is_dir())
        if not parts:
            log.warning(
                "IRMAS: no %s-Part* folder in %s; the test split is empty",
                TESTING,
                display_path(self.root),
            )
        return training_records(training) + [r for part in parts for r in testing_records(part)]


def training_records(folder: Path) -> list[ClipRecord]:
    """The single-label clips of ``IRMAS-TrainingData``: ``<inst>/<clip>.wav``.

    Raises:
        ValueError: if no instrument folder holds a ``.wav``.
    """
    records, others = [], []
    for sub in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")):
        clips = sorted(p for p in sub.glob("*.wav") if not p.name.startswith("."))
        if sub.name not in INSTRUMENTS:
            others += [sub.name] if clips else []
            continue
        records += [
            ClipRecord(
                str(p), sub.name, split="train", group=f"{sub.name}/{_SEGMENT.sub('', p.stem)}"
            )
            for p in clips
        ]
    if others:
        log.warning("IRMAS: ignoring folders that are no instrument code: %s", others[:_SHOWN])
    if not records:
        raise ValueError(
            f"'{display_path(folder)}' holds no <instrument>/<clip>.wav files (instruments "
            f"{list(INSTRUMENTS)})."
        )
    return records


def testing_records(part: Path) -> list[ClipRecord]:
    """The multi-label clips of one test part: ``<name>.wav`` + ``<name>.txt`` pairs, anywhere."""
    waves, texts = {}, {}
    for path in sorted(part.rglob("*")):
        if path.name.startswith(".") or not path.is_file():
            continue
        suffix = path.suffix.lower()
        if suffix in (".wav", ".txt"):
            (waves if suffix == ".wav" else texts)[path.with_suffix("")] = path
    unpaired = sorted(set(waves) ^ set(texts))
    if unpaired:
        log.warning(
            "IRMAS: %d files of %s have no .wav/.txt partner and are left out: %s",
            len(unpaired),
            display_path(part),
            [display_path(p.name) for p in unpaired[:_SHOWN]],
        )
    records, unknown = [], {}
    for stem in sorted(set(waves) & set(texts)):
        codes = read_label_file(texts[stem])
        known = [code for code in codes if code in INSTRUMENTS]
        if len(known) < len(codes):
            unknown[texts[stem]] = [code for code in codes if code not in INSTRUMENTS]
        if known:
            song = f"{stem.parent.relative_to(part)}/{_EXCERPT.sub('', stem.name)}"
            records.append(
                ClipRecord(
                    str(waves[stem]),
                    known[0],
                    split="test",
                    group=f"{part.name}/{song}",
                    labels=tuple(known),
                )
            )
    if unknown:
        log.warning(
            "IRMAS: unknown instrument codes left out (clips without a known one too): %s",
            {display_path(p.name): codes for p, codes in list(unknown.items())[:_SHOWN]},
        )
    return records


def read_label_file(path: Path) -> list[str]:
    """The instrument codes of a test label file, in order, without repeats (any whitespace)."""
    codes = path.read_text(encoding="utf-8-sig", errors="replace").lower().split()
    return list(dict.fromkeys(codes))
