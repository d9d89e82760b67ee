"""NSynth (Engel et al., 2017): 305,979 musical notes of 4 s from 1,006 instruments."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from audiofsl.data.records import ClipRecord
from audiofsl.data.sources.metaaudio import BASELINE, MetaAudioDataModule

log = logging.getLogger(__name__)

#: The dataset's own parts, folders ``nsynth-<part>``.
PARTS = ("train", "valid", "test")


class NSynthDataModule(MetaAudioDataModule):
    """NSynth as distributed (magenta.tensorflow.org/datasets/nsynth), by instrument.

    ``root`` holds the unpacked ``nsynth-train``, ``nsynth-valid`` and ``nsynth-test`` folders,
    each with ``examples.json`` (a dict keyed by ``note_str``, e.g.
    ``bass_synthetic_033-022-050``) and ``audio/<note_str>.wav``. As in MetaAudio, a clip's
    class is its ``instrument_str`` (``bass_synthetic_033``) over the three parts together; its
    record keeps the part as ``split`` (``data/split=official`` uses NSynth's own split). Parts
    missing from the copy are left out with a warning. The default split is MetaAudio's
    705/101/200 instruments (``variant="meta_aware"``: stratified over instrument families).

    Args:
        root: the folder holding the ``nsynth-<part>`` folders.
        variant: ``"baseline"`` or ``"meta_aware"`` (None: ``split`` as given).
        **kwargs: split, loader, subset, sampler and seed settings of
            :class:`~audiofsl.data.sources.metaaudio.MetaAudioDataModule`.
    """

    dataset = "nsynth"
    variants = (BASELINE, "meta_aware")
    layout = (
        "the folder holding the unpacked nsynth-train, nsynth-valid and nsynth-test folders "
        "(each with examples.json and audio/)"
    )

    def load_records(self) -> list[ClipRecord]:
        root = self.check_root()
        present = [part for part in PARTS if (root / f"nsynth-{part}" / "examples.json").is_file()]
        if not present:
            raise FileNotFoundError(
                f"data.root={root} has none of nsynth-train/examples.json, "
                f"nsynth-valid/examples.json, nsynth-test/examples.json; set data.root to "
                f"{self.layout}."
            )
        if len(present) < len(PARTS):
            log.warning(
                "NSynth: data.root=%s lacks %s; using the parts %s",
                root,
                [f"nsynth-{p}" for p in PARTS if p not in present],
                present,
            )
        records = []
        for part in present:
            folder = root / f"nsynth-{part}"
            instruments = _instruments(folder / "examples.json")
            records += [
                ClipRecord(str(folder / "audio" / f"{note}.wav"), instrument, split=part)
                for note, instrument in sorted(instruments.items())
            ]
        return records


def _instruments(path: Path) -> dict[str, str]:
    """``{note_str: instrument_str}`` of an ``examples.json``.

    Each note's entry is reduced to its instrument while parsing (the training part's file is
    large); a note without ``instrument_str`` takes its name's part before the pitch and
    velocity (``bass_synthetic_033-022-050`` -> ``bass_synthetic_033``).
    """

    def entry(fields: dict):
        instrument = fields.get("instrument_str")
        return instrument if isinstance(instrument, str) else fields

    try:
        with path.open(encoding="utf-8") as handle:
            notes = json.load(handle, object_hook=entry)
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: not valid JSON ({error}).") from None
    if not isinstance(notes, dict):
        raise ValueError(f"{path}: expected a JSON object keyed by note_str.")
    return {
        note: value if isinstance(value, str) else note.rsplit("-", 2)[0]
        for note, value in notes.items()
    }
