"""VoxCeleb1 (Nagrani et al., 2017): 153,516 utterances of 1,251 speakers from YouTube."""

from __future__ import annotations

import os
from pathlib import Path

from audiofsl.data.audio_io import AUDIO_EXTENSIONS
from audiofsl.data.records import ClipRecord
from audiofsl.data.sources.metaaudio import BASELINE, MetaAudioDataModule


class VoxCeleb1DataModule(MetaAudioDataModule):
    """VoxCeleb1 as distributed (robots.ox.ac.uk/~vgg/data/voxceleb/vox1.html), by speaker.

    The utterances lie in ``wav/<speaker id>/<youtube id>/<nnnnn>.wav`` under ``root``; the
    dev and test archives may also be unpacked side by side (``root/vox1_dev_wav/wav``,
    ``root/vox1_test_wav/wav``: every ``root/*/wav`` is used), or ``root`` may be the ``wav``
    folder itself. A clip's class is its speaker id (``id10473``), its group the YouTube video
    it was cut from. Copies downloaded again from YouTube often lack videos and hold empty
    files: those are reported and left out when the copy is indexed. Utterances are variable
    in length: the data config cuts them into 5 s windows and evaluates every window of a query
    (MetaAudio's treatment). The default split is MetaAudio's 876/126/249 speakers (variants
    ``length_shifted`` and ``length_stratified``: by sample length).

    Args:
        root: the folder holding ``wav/`` (see above).
        variant: ``"baseline"``, ``"length_shifted"`` or ``"length_stratified"`` (None:
            ``split`` as given).
        **kwargs: split, loader, subset, sampler and seed settings of
            :class:`~audiofsl.data.sources.metaaudio.MetaAudioDataModule`.
    """

    dataset = "voxceleb1"
    variants = (BASELINE, "length_shifted", "length_stratified")
    layout = "the VoxCeleb1 folder holding wav/<speaker id>/<youtube id>/<nnnnn>.wav"

    def load_records(self) -> list[ClipRecord]:
        records = []
        for wav in self._wav_folders():
            for speaker in _subfolders(wav):
                records += _utterances(speaker)
        if not records:
            raise ValueError(f"data.root={self.root}: no audio files in {self.layout}.")
        return records

    def _wav_folders(self) -> list[Path]:
        root = self.check_root()
        if (root / "wav").is_dir():
            return [root / "wav"]
        nested = [folder / "wav" for folder in _subfolders(root) if (folder / "wav").is_dir()]
        if nested:
            return nested
        if any(folder.name.startswith("id") for folder in _subfolders(root)):
            return [root]
        raise FileNotFoundError(
            f"data.root={root} holds no wav/ folder of speaker folders (id10001, ...); set "
            f"data.root to {self.layout}."
        )


def _subfolders(folder: Path) -> list[Path]:
    """The folder's sub-folders, sorted, hidden ones left out."""
    with os.scandir(folder) as entries:
        found = [Path(e.path) for e in entries if e.is_dir() and not e.name.startswith(".")]
    return sorted(found)


def _utterances(speaker: Path) -> list[ClipRecord]:
    """The audio files below a speaker folder, grouped by their video folder."""
    records = []
    for path in sorted(speaker.rglob("*")):
        relative = path.relative_to(speaker).parts
        if path.suffix.lower() not in AUDIO_EXTENSIONS or any(p.startswith(".") for p in relative):
            continue
        group = relative[0] if len(relative) > 1 else None
        records.append(ClipRecord(str(path), speaker.name, group=group))
    return records
