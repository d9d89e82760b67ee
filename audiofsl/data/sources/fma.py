"""FMA, the Free Music Archive dataset (Defferrard et al. 2017): genre labels and unlabelled music.

``fma_metadata/tracks.csv`` is read with the standard library: its header spans two rows
(top-level names such as ``set``, ``track``, then sub-names such as ``split``, ``genre_top``),
followed in the distributed file by a third row that names the index column (``track_id``).
"""

from __future__ import annotations

import csv
import logging
import os
from collections.abc import Sequence
from pathlib import Path

import soundfile as sf

from audiofsl.data.audio_io import display_path
from audiofsl.data.base import AudioDataModule
from audiofsl.data.records import ClipRecord
from audiofsl.data.sources.tables import drop_missing, required_root
from audiofsl.data.splits import OfficialSplit
from audiofsl.samplers import EpisodeSpec

log = logging.getLogger(__name__)

#: The sizes, each holding the tracks of the smaller ones; ``full`` holds every track.
SIZES = ("small", "medium", "large", "full")
OFFICIAL_SPLITS = ("training", "validation", "test")
#: The columns read from tracks.csv: (top-level name, sub-name).
COLUMNS = {
    "split": ("set", "split"),
    "subset": ("set", "subset"),
    "genre_top": ("track", "genre_top"),
    "artist": ("artist", "id"),  # optional
}
_FIELD_LIMIT = 2**24  # tracks.csv holds long free-text fields (biographies, comments)


class FMADataModule(AudioDataModule):
    """FMA: 30 s clips (untrimmed for ``full``) of the chosen size, with their genre and split.

    Layout: ``fma_<size>/<NNN>/<NNNNNN>.mp3`` (the 6-digit zero-padded track id, its first three
    digits naming the folder) and ``fma_metadata/tracks.csv``. A track belongs to a size when
    its ``(set, subset)`` is that size or a smaller one (small ⊂ medium ⊂ large; ``full``: every
    track). Listed tracks without a file are left out with a warning; the known bad files
    (empty or short tracks of fma_small) are left out by the shared index summary.

    Labelled (the default): one record per track with a top genre; class ``(track,
    genre_top)``, split ``(set, split)`` (training / validation / test: ``OfficialSplit(
    train=[training], val=[validation], test=[test])`` by default), group the artist id (the
    official split already keeps an artist's tracks together).

    Unlabelled (``labelled=False``, for self-supervised pre-training such as COLA on
    fma_large): every track of the size, genre or not, from the official splits
    ``unlabelled_splits`` (all three by default; leave ``test`` out to keep a later genre
    evaluation's test tracks unseen). All of them are the train split (``data.split`` is not
    used; val and test are empty). Each clip is its own class, named by its track id: there
    is no genre, and ``"label"`` identifies the clip (instance discrimination), which
    contrastive losses may use to find positive pairs and other methods ignore. Train with
    mini-batches (``sampler=batch``); episodes need classes of several clips.

    Args:
        root: the folder holding ``fma_<size>/`` (and ``fma_metadata/``).
        size: ``small``, ``medium``, ``large`` or ``full``.
        metadata: ``tracks.csv`` or the folder holding it (default
            ``<root>/fma_metadata/tracks.csv``).
        labelled: genre-labelled records (True) or unlabelled pre-training clips (False).
        unlabelled_splits: official splits whose tracks are used when ``labelled=False``.
        **kwargs: loader, split, subset, sampler and seed settings of
            :class:`AudioDataModule`.
    """

    def __init__(
        self,
        root: str | os.PathLike | None = None,
        size: str = "small",
        metadata: str | os.PathLike | None = None,
        labelled: bool = True,
        unlabelled_splits: Sequence[str] = OFFICIAL_SPLITS,
        **kwargs,
    ) -> None:
        if size not in SIZES:
            raise ValueError(f"data.size={size!r} must be one of {list(SIZES)}.")
        if not labelled:
            if isinstance(kwargs.get("train_sampler"), EpisodeSpec):
                raise ValueError(
                    "data.labelled=false gives unlabelled clips (each its own class), from which "
                    "no episode can be drawn; train with mini-batches: set sampler=batch"
                )
            if kwargs.get("split") is not None:
                log.info("data.labelled=false: every clip is a training clip; data.split unused")
            kwargs["split"] = OfficialSplit(train=["train"], val=[], test=[])
        elif kwargs.get("split") is None:
            kwargs["split"] = OfficialSplit(train=["training"], val=["validation"], test=["test"])
        super().__init__(**kwargs)
        self.root = required_root(root, "the folder holding fma_<size>/ and fma_metadata/")
        self.size = size
        self.metadata = None if metadata is None else Path(metadata)
        self.labelled = bool(labelled)
        self.unlabelled_splits = [str(name) for name in unlabelled_splits]

    def tracks_file(self) -> Path:
        """The ``tracks.csv`` read (``metadata``, or the one under ``root``)."""
        if self.metadata is None:
            return self.root / "fma_metadata" / "tracks.csv"
        return self.metadata / "tracks.csv" if self.metadata.is_dir() else self.metadata

    def index_key(self) -> str:
        mode = "labelled" if self.labelled else f"unlabelled={self.unlabelled_splits}"
        return f"{self.root.resolve()}|{self.tracks_file().resolve()}|fma_{self.size}|{mode}"

    def load_records(self) -> list[ClipRecord]:
        audio = self.root / f"fma_{self.size}"
        if not audio.is_dir():
            raise FileNotFoundError(
                f"data.root: no fma_{self.size}/ folder in '{display_path(self.root)}'; set "
                f"data.root to the folder holding fma_{self.size}/ (or data.size to the size "
                "you have)."
            )
        if "MP3" not in sf.available_formats():
            raise RuntimeError(
                f"the libsndfile that soundfile uses ({sf.__libsndfile_version__}) cannot decode "
                "MP3, which FMA needs (libsndfile >= 1.1); install soundfile >= 0.12, whose "
                "wheels bring such a libsndfile."
            )
        tracks_file = self.tracks_file()
        if not tracks_file.is_file():
            raise FileNotFoundError(
                f"data.metadata: '{display_path(tracks_file)}' does not exist; set data.metadata "
                "to FMA's tracks.csv (from fma_metadata.zip) or the folder holding it."
            )
        tracks = [t for t in read_tracks(tracks_file) if in_size(t["subset"], self.size)]
        make = self._labelled if self.labelled else self._unlabelled
        records = make(tracks, audio)
        if not records:
            raise ValueError(
                f"'{display_path(tracks_file)}' lists no usable track of fma_{self.size}."
            )
        return drop_missing(records, tracks_file)

    def _labelled(self, tracks: list[dict[str, str]], audio: Path) -> list[ClipRecord]:
        labelled = [t for t in tracks if t["genre_top"]]
        if len(labelled) < len(tracks):
            log.info(
                "fma_%s: %d of %d tracks have no top genre and are left out (data.labelled=true)",
                self.size,
                len(tracks) - len(labelled),
                len(tracks),
            )
        return [
            ClipRecord(
                str(track_path(audio, t["track_id"])),
                t["genre_top"],
                split=t["split"] or None,
                group=t["artist"] or None,
            )
            for t in labelled
        ]

    def _unlabelled(self, tracks: list[dict[str, str]], audio: Path) -> list[ClipRecord]:
        wanted = set(self.unlabelled_splits)
        return [
            ClipRecord(
                str(track_path(audio, t["track_id"])),
                f"{int(t['track_id']):06d}",
                split="train",
                group=t["artist"] or None,
            )
            for t in tracks
            if t["split"] in wanted
        ]


def track_path(audio: Path, track_id: str | int) -> Path:
    """``audio/<NNN>/<NNNNNN>.mp3`` of a track (track 2 -> ``000/000002.mp3``)."""
    name = f"{int(track_id):06d}"
    return audio / name[:3] / f"{name}.mp3"


def in_size(subset: str, size: str) -> bool:
    """Whether a track of ``(set, subset)`` ``subset`` belongs to the dataset of ``size``."""
    if size == "full":
        return True
    return subset in SIZES[:3] and SIZES.index(subset) <= SIZES.index(size)


def read_tracks(path: Path) -> list[dict[str, str]]:
    """``track_id``, ``split``, ``subset``, ``genre_top`` and ``artist`` (id) of every track.

    The two header rows are read as (top-level, sub-name) column pairs; a blank top-level name
    continues the one before it. Rows whose first cell is not a track id (the distributed file's
    third header row, ``track_id,,,...``) are skipped. Values are stripped; a missing artist
    column gives empty artists.

    Raises:
        ValueError: if a needed column is missing, naming the file and the columns found.
    """
    previous = csv.field_size_limit()
    csv.field_size_limit(max(previous, _FIELD_LIMIT))
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            columns = _header_columns(next(reader, []), next(reader, []))
            where = _column_positions(columns, path)
            tracks, skipped = [], []
            for row in reader:
                first = row[0].strip() if row else ""
                if not first.isdigit():
                    skipped.append(first)
                    continue
                values = {key: _cell(row, at) for key, at in where.items()}
                tracks.append({"track_id": first, **values})
    finally:
        csv.field_size_limit(previous)
    unexpected = [cell for cell in skipped if cell.lower() not in ("", "track_id")]
    if unexpected:
        log.warning(
            "%s: skipped %d rows without a track id in the first column, e.g. %s",
            display_path(path),
            len(unexpected),
            unexpected[:5],
        )
    return tracks


def _header_columns(top: list[str], sub: list[str]) -> list[tuple[str, str]]:
    columns, current = [], ""
    for i in range(max(len(top), len(sub))):
        name = top[i].strip() if i < len(top) else ""
        current = name or current
        columns.append((current, sub[i].strip() if i < len(sub) else ""))
    return columns


def _column_positions(columns: list[tuple[str, str]], path: Path) -> dict[str, int | None]:
    position = {column: i for i, column in enumerate(columns) if i > 0}
    needed = {key: column for key, column in COLUMNS.items() if key != "artist"}
    missing = [f"({a}, {b})" for a, b in needed.values() if (a, b) not in position]
    if missing:
        raise ValueError(
            f"metadata file '{display_path(path)}' lacks the columns {missing}; FMA's "
            "fma_metadata/tracks.csv has a two-row header, e.g. (set, split), (set, subset), "
            f"(track, genre_top); found {columns[1:8]} ..."
        )
    found = {key: position[column] for key, column in needed.items()}
    return {**found, "artist": position.get(COLUMNS["artist"])}


def _cell(row: list[str], at: int | None) -> str:
    return row[at].strip() if at is not None and at < len(row) else ""
