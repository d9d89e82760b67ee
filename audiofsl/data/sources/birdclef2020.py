"""BirdCLEF 2020 (LifeCLEF 2020): bird recordings of seconds to 30 minutes, 960 species."""

from __future__ import annotations

import logging
import math
import os

from audiofsl.data.folder import scan_folder
from audiofsl.data.records import ClipRecord, IndexedClip
from audiofsl.data.sources.metaaudio import BASELINE, MetaAudioDataModule
from audiofsl.data.splits import ClassSplit, read_split_file

log = logging.getLogger(__name__)

#: MetaAudio's pruned variant leaves out recordings longer than this (then small classes).
PRUNED_MAX_SECONDS = 180.0


class BirdCLEF2020DataModule(MetaAudioDataModule):
    """BirdCLEF 2020 training recordings in a folder per species, split by MetaAudio's classes.

    ``root`` holds one folder per class named ``<scientific name>_<common name>`` as MetaAudio
    names them (``Poecile gambeli_Mountain Chickadee``), of mp3 files (the original) or wav,
    flac or ogg (re-encoded copies); recordings in sub-folders of a class count too. Copies
    often lack some species: by default the classes of the split file missing from the copy
    are logged and left out (``missing="warn"``; the data config sets the same), but a copy
    whose folders match none of the split's classes (e.g. named by eBird codes) is an error.
    Recordings last seconds to 30 minutes: the data config cuts them into 5 s windows and
    evaluates every window of a query (MetaAudio's treatment).

    The default split is MetaAudio's 672/96/192 classes; ``variant="pruned"`` is MetaAudio's
    pruned set (recordings over 3 minutes left out, then classes under 50 recordings: 501/72/142
    classes), whose recordings over ``max_clip_seconds`` (180 s) are left out here once indexed.

    Args:
        root: the folder of class folders.
        variant: ``"baseline"`` or ``"pruned"`` (None: ``split`` as given).
        max_clip_seconds: leave out longer recordings (logged); None: 180 s for the pruned
            variant, no limit otherwise (``inf`` lifts it for the pruned variant).
        **kwargs: split, loader, subset, sampler and seed settings of
            :class:`~audiofsl.data.sources.metaaudio.MetaAudioDataModule`.
    """

    dataset = "birdclef2020"
    variants = (BASELINE, "pruned")
    layout = "the folder holding one folder per class, <scientific name>_<common name>/<clip>.mp3"
    missing = "warn"

    def __init__(
        self,
        root: str | os.PathLike | None = None,
        variant: str | None = BASELINE,
        max_clip_seconds: float | None = None,
        **kwargs,
    ) -> None:
        super().__init__(root, variant, **kwargs)
        if max_clip_seconds is None and variant == "pruned":
            max_clip_seconds = PRUNED_MAX_SECONDS
        if max_clip_seconds is not None and not float(max_clip_seconds) > 0:
            raise ValueError(f"data.max_clip_seconds={max_clip_seconds!r} must be > 0 (or null).")
        self.max_clip_seconds = None if max_clip_seconds is None else float(max_clip_seconds)
        self._within_limit: list[IndexedClip] | None = None

    def load_records(self) -> list[ClipRecord]:
        root = self.check_root()
        try:
            records = scan_folder(root)
        except ValueError as error:
            raise ValueError(f"data.root={root}: {error}") from None
        self._check_names({r.class_name for r in records})
        return records

    def _check_names(self, folders: set[str]) -> None:
        """Missing classes are tolerated, but a copy that matches none of the split's is an error
        (e.g. folders named by eBird codes, as some re-encoded copies are)."""
        split = self.split
        if not isinstance(split, ClassSplit) or split.file is None:
            return
        named = {name for names in read_split_file(split.file).values() for name in names}
        if not folders & named:
            raise ValueError(
                f"none of the {len(folders)} class folders in data.root={self.root} (e.g. "
                f"{sorted(folders)[:3]}) is a class of data.split.file={split.file} (e.g. "
                f"{sorted(named)[:2]}); name the folders <scientific name>_<common name> as "
                "MetaAudio does, or give a split of your own (data.split)."
            )

    def indexed_clips(self) -> list[IndexedClip]:
        """The usable clips, recordings longer than ``max_clip_seconds`` left out (logged)."""
        clips = super().indexed_clips()
        limit = self.max_clip_seconds
        if limit is None or math.isinf(limit):
            return clips
        if self._within_limit is None:
            kept = [clip for clip in clips if clip.seconds <= limit]
            if len(kept) < len(clips):
                log.info(
                    "BirdCLEF 2020: left out %d of %d recordings longer than "
                    "data.max_clip_seconds=%g",
                    len(clips) - len(kept),
                    len(clips),
                    limit,
                )
            if not kept:
                raise ValueError(
                    f"every recording is longer than data.max_clip_seconds={limit:g}; raise it."
                )
            self._within_limit = kept
        return self._within_limit
