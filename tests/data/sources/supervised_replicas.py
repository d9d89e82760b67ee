"""Miniature replicas of the supervised datasets' official layouts, written for the tests.

Real folder and file names, metadata formats and quirks (two-row CSV header, label files with
odd whitespace, mixed sample rates and formats), a few short clips at realistic sample rates.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import soundfile as sf

US8K_CLASSES = (
    "air_conditioner",
    "car_horn",
    "children_playing",
    "dog_bark",
    "drilling",
    "engine_idling",
    "gun_shot",
    "jackhammer",
    "siren",
    "street_music",
)
#: The first three are ESC-10 classes (esc10 True), the others not.
ESC50_CLASSES = ("dog", "rooster", "rain", "church_bells", "glass_breaking", "airplane")
IRMAS_CODES = ("cel", "cla", "flu", "gac", "gel", "org", "pia", "sax", "tru", "vio", "voi")


def tone(seed: int, seconds: float, sample_rate: int, channels: int = 1) -> np.ndarray:
    """A float32 tone with a little noise, [T] or [T, channels], distinct per seed."""
    rng = np.random.default_rng(seed)
    t = np.arange(round(seconds * sample_rate)) / sample_rate
    wave = 0.4 * np.sin(2 * np.pi * (150 + 37 * (seed % 40)) * t)
    wave = (wave + 0.02 * rng.standard_normal(t.size)).astype(np.float32)
    return wave if channels == 1 else np.stack([wave] * channels, axis=1)


def write(path: Path, wave: np.ndarray, sample_rate: int, **kwargs) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, wave, sample_rate, **kwargs)
    return path


# ------------------------------------------------------------------------------------ ESC-50
def make_esc50(root: Path, clips_per_fold: int = 2) -> Path:
    """``root/ESC-50-master/{audio,meta}``: 6 classes x 5 folds x ``clips_per_fold``.

    The clips of one ``src_file`` share a fold (two takes A, B of each recording); the first
    three classes are ESC-10. Returns the ESC-50-master folder.
    """
    folder = root / "ESC-50-master"
    rows = []
    for target, category in enumerate(ESC50_CLASSES):
        for fold in range(1, 6):
            for k in range(clips_per_fold):
                src = 100000 + 1000 * target + 10 * fold + k // 2
                take = "AB"[k % 2]
                name = f"{fold}-{src}-{take}-{target}.wav"
                write(folder / "audio" / name, tone(len(rows), 0.25, 44100), 44100)
                esc10 = "True" if target < 3 else "False"
                rows.append([name, fold, target, category, esc10, src, take])
    (folder / "meta").mkdir(parents=True, exist_ok=True)
    with (folder / "meta" / "esc50.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["filename", "fold", "target", "category", "esc10", "src_file", "take"])
        writer.writerows(rows)
    return folder


# ------------------------------------------------------------------------------ UrbanSound8K
#: (sample rate, subtype, channels) cycled over the clips, as the real files vary.
US8K_FORMATS = (
    (44100, "PCM_16", 2),
    (48000, "PCM_24", 2),
    (22050, "PCM_16", 1),
    (8000, "PCM_U8", 1),
    (96000, "FLOAT", 1),
    (11025, "PCM_16", 2),
)


def make_urbansound8k(
    root: Path, n_classes: int = 4, folds: int = 3, recordings: int = 2, slices: int = 2
) -> Path:
    """``root/UrbanSound8K/{audio/fold<k>,metadata}``: per class and fold ``recordings``
    Freesound recordings of ``slices`` slices each (slices of one recording share a fold).
    Returns the UrbanSound8K folder."""
    folder = root / "UrbanSound8K"
    rows = []
    slice_ids = [
        (fold, class_id, 10000 + 1000 * fold + 10 * class_id + r, s)
        for fold in range(1, folds + 1)
        for class_id in range(n_classes)
        for r in range(recordings)
        for s in range(slices)
    ]
    for n, (fold, class_id, fs_id, s) in enumerate(slice_ids):
        name = f"{fs_id}-{class_id}-0-{s}.wav"
        rate, subtype, channels = US8K_FORMATS[n % len(US8K_FORMATS)]
        seconds = 0.3 if n % 3 else 0.15
        write(folder / "audio" / f"fold{fold}" / name, tone(n, seconds, rate, channels), rate,
              subtype=subtype)  # fmt: skip
        start, salience = 0.5 * s, 1 + n % 2
        rows.append([name, fs_id, start, start + seconds, salience, fold, class_id,
                     US8K_CLASSES[class_id]])  # fmt: skip
    write_us8k_metadata(folder, rows)
    return folder


def write_us8k_metadata(folder: Path, rows: list[list], header: list[str] | None = None) -> None:
    header = header or [
        "slice_file_name",
        "fsID",
        "start",
        "end",
        "salience",
        "fold",
        "classID",
        "class",
    ]
    (folder / "metadata").mkdir(parents=True, exist_ok=True)
    with (folder / "metadata" / "UrbanSound8K.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


# ------------------------------------------------------------------------------------- FMA
#: (track id, subset, split, genre_top); genre "" for tracks without a top genre.
FMA_TRACKS = (
    (2, "small", "training", "Hip-Hop"),
    (5, "small", "training", "Hip-Hop"),
    (10, "small", "training", "Pop"),
    (140, "small", "training", "Folk"),
    (141, "small", "validation", "Folk"),
    (148, "small", "test", "Pop"),
    (182, "small", "test", "Hip-Hop"),
    (1039, "small", "training", "Pop"),
    (1040, "small", "training", "Folk"),
    (99134, "small", "training", "Folk"),  # empty file in the real fma_small
    (3, "medium", "training", "Hip-Hop"),
    (20, "medium", "validation", "Old-Time / Historic"),
    (26, "medium", "test", "Pop"),
    (4, "large", "training", ""),
    (134, "large", "training", "Hip-Hop"),
    (152, "large", "test", ""),
)
_SIZES = ("small", "medium", "large", "full")


def make_fma(
    root: Path, third_header_row: bool = True, empty: tuple[int, ...] = (99134,), audio: bool = True
) -> Path:
    """``root/fma_metadata/tracks.csv`` and ``root/fma_<size>/<NNN>/<NNNNNN>.mp3`` for every size.

    tracks.csv has the real file's shape: a two-row column header (top-level names repeated
    over their columns, then sub-names; first column blank), a third row ``track_id,,,...``,
    and free-text fields with commas, quotes and line breaks. The ``empty`` tracks' files are
    empty, as 099134 is in the real fma_small. ``audio=False`` writes the metadata only.
    Returns ``root``.
    """
    columns = [
        ("album", "comments"),
        ("album", "title"),
        ("artist", "id"),
        ("artist", "bio"),
        ("set", "split"),
        ("set", "subset"),
        ("track", "bit_rate"),
        ("track", "genre_top"),
        ("track", "genres"),
        ("track", "title"),
    ]
    rows = []
    for k, (track_id, subset, split, genre) in enumerate(FMA_TRACKS):
        bio = f'<p>Artist "{k}", from a city,\nwith a line break</p>'
        values = {
            ("album", "comments"): k,
            ("album", "title"): f"Album, {k}",
            ("artist", "id"): 100 + track_id % 7,
            ("artist", "bio"): bio,
            ("set", "split"): split,
            ("set", "subset"): subset,
            ("track", "bit_rate"): 256000,
            ("track", "genre_top"): genre,
            ("track", "genres"): "[21, 811]",
            ("track", "title"): f"Track {track_id}",
        }
        rows.append([track_id] + [values[c] for c in columns])
        for size in _SIZES[_SIZES.index(subset) :] if audio else ():
            name = f"{track_id:06d}"
            path = root / f"fma_{size}" / name[:3] / f"{name}.mp3"
            if track_id in empty:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(b"")
            else:
                write(path, tone(track_id, 0.4, 44100, channels=2), 44100, format="MP3")
    meta = root / "fma_metadata"
    meta.mkdir(parents=True, exist_ok=True)
    with (meta / "tracks.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([""] + [top for top, _ in columns])
        writer.writerow([""] + [sub for _, sub in columns])
        if third_header_row:
            writer.writerow(["track_id"] + [""] * len(columns))
        writer.writerows(rows)
    return root


# ----------------------------------------------------------------------------------- IRMAS
#: Training file names: <name>[<inst>][<dru|nod>][<genre>]<n>__<k>.wav; genre tag sometimes
#: missing, drum tag too.
IRMAS_TRAINING = {
    "cel": ["[cel][cla]0001__1", "[cel][cla]0001__2", "008__[cel][nod][cla]0058__1"],
    "gel": ["[gel][pop_roc]0470__3", "001__[gel][dru][pop_roc]0450__1", "[gel][jaz_blu]1001__2"],
    "pia": ["[pia][nod][cla]1317__1", "[pia][cla]1297__2", "[pia][dru]2200__1"],
    "voi": ["[voi][pop_roc]1234__1", "[voi]0999__1", "[voi]0999__2"],
}
#: (part folder, inner folder, name, label file text): inner folders differ between parts,
#: whitespace varies (tabs, trailing spaces, CRLF, blank lines).
IRMAS_TESTING = (
    ("IRMAS-TestingData-Part1", "Part1", "(02) dont kill the whale-1", "gel\t\nvoi\t\n"),
    ("IRMAS-TestingData-Part1", "Part1", "(02) dont kill the whale-2", "voi \n"),
    ("IRMAS-TestingData-Part2", "IRTestingData-Part2", "01 - Song A-3", "pia\r\ncel\r\n\r\n"),
    ("IRMAS-TestingData-Part2", "IRTestingData-Part2", "02 - Song B-1", "  gel  \n\tpia\nvoi"),
    ("IRMAS-TestingData-Part3", "Part3/sub", "10 Song C-4", "cel\n"),
)


def make_irmas(root: Path, seconds_test: float = 0.7) -> Path:
    """``root/IRMAS-TrainingData/<inst>/*.wav`` (3 s in the original; shorter here, 44.1 kHz
    stereo) and three test parts of ``<name>.wav`` + ``<name>.txt`` pairs. Returns ``root``."""
    n = 0
    for inst, names in IRMAS_TRAINING.items():
        for name in names:
            write(root / "IRMAS-TrainingData" / inst / f"{name}.wav", tone(n, 0.3, 44100, 2), 44100)
            n += 1
    for part, inner, name, text in IRMAS_TESTING:
        folder = root / part / inner
        write(folder / f"{name}.wav", tone(n, seconds_test, 44100, 2), 44100)
        (folder / f"{name}.txt").write_bytes(text.encode())
        n += 1
    return root
