"""Miniature copies of the MetaAudio datasets' official layouts, written for the tests.

Same folder and file names, metadata files and columns as the distributed datasets (a few
short tones per class at the datasets' sample rates), never downloaded. Each writer returns
the ``data.root`` to give the source.
"""

from __future__ import annotations

import csv
import json
import zlib
from collections.abc import Mapping, Sequence
from importlib.resources import files
from pathlib import Path

import numpy as np
import soundfile as sf

#: ESC-50's categories in the order of their ``target`` numbers (meta/esc50.csv).
ESC50_CATEGORIES = [
    "dog", "rooster", "pig", "cow", "frog", "cat", "hen", "insects", "sheep", "crow", "rain",
    "sea_waves", "crackling_fire", "crickets", "chirping_birds", "water_drops", "wind",
    "pouring_water", "toilet_flush", "thunderstorm", "crying_baby", "sneezing", "clapping",
    "breathing", "coughing", "footsteps", "laughing", "brushing_teeth", "snoring",
    "drinking_sipping", "door_wood_knock", "mouse_click", "keyboard_typing", "door_wood_creaks",
    "can_opening", "washing_machine", "vacuum_cleaner", "clock_alarm", "clock_tick",
    "glass_breaking", "helicopter", "chainsaw", "siren", "car_horn", "engine", "train",
    "church_bells", "airplane", "fireworks", "hand_saw",
]  # fmt: skip
ESC10 = {"dog", "rooster", "rain", "sea_waves", "crackling_fire", "crying_baby", "sneezing",
         "clock_tick", "helicopter", "chainsaw"}  # fmt: skip


def official_split(name: str) -> dict[str, list[str]]:
    """The packaged MetaAudio class lists ``{"train": [...], "val": [...], "test": [...]}``."""
    path = files("audiofsl.data.sources") / "splits" / f"{name}.json"
    return json.loads(path.read_text())


def write_tone(path: Path, seconds: float, sample_rate: int, key: str = "") -> Path:
    """A mono tone (pitch derived from ``key``) with a little noise, written by soundfile."""
    seed = zlib.crc32(f"{key}|{path.name}".encode())
    rng = np.random.default_rng(seed)
    t = np.arange(max(1, round(seconds * sample_rate))) / sample_rate
    pitch = 150 + seed % 2000
    wave = 0.4 * np.sin(2 * np.pi * pitch * t) + 0.01 * rng.standard_normal(t.size)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, wave.astype(np.float32), sample_rate)
    return path


def _write_csv(path: Path, header: Sequence[str], rows: Sequence[Sequence]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def esc50(
    parent: Path,
    categories: Sequence[str] = ESC50_CATEGORIES,
    clips_per_class: int = 1,
    seconds: float = 0.25,
) -> Path:
    """``ESC-50-master/`` with ``meta/esc50.csv`` and ``audio/<fold>-<src>-<take>-<target>.wav``.

    Clips at 44.1 kHz; clip ``i`` of a class lies in fold ``i % 5 + 1``, and clips ``2k`` and
    ``2k + 1`` share a ``src_file`` (takes A and B), as ESC-50's clips cut from one recording.
    """
    root = parent / "ESC-50-master"
    rows = []
    for category in categories:
        target = ESC50_CATEGORIES.index(category)
        for i in range(clips_per_class):
            fold, src, take = i % 5 + 1, str(100032 + 1000 * target + i // 2), "AB"[i % 2]
            name = f"{fold}-{src}-{take}-{target}.wav"
            write_tone(root / "audio" / name, seconds, 44100, category)
            rows.append([name, fold, target, category, category in ESC10, src, take])
    header = ["filename", "fold", "target", "category", "esc10", "src_file", "take"]
    _write_csv(root / "meta" / "esc50.csv", header, rows)
    return root


def nsynth(
    root: Path, instruments: Mapping[str, Sequence[str]], notes_per_instrument: int = 2
) -> Path:
    """``nsynth-<part>/examples.json`` keyed by note_str and ``audio/<note_str>.wav`` (16 kHz).

    Args:
        instruments: ``{part: [instrument_str, ...]}`` for the parts to write (train, valid,
            test).
    """
    for part, names in instruments.items():
        folder = root / f"nsynth-{part}"
        examples = {}
        for number, instrument in enumerate(names):
            family, source, _ = instrument.rsplit("_", 2)
            for k in range(notes_per_instrument):
                pitch, velocity = 40 + 7 * k, (25, 50, 75, 100, 127)[k % 5]
                note_str = f"{instrument}-{pitch:03d}-{velocity:03d}"
                examples[note_str] = {
                    "note": 1000 * number + k,
                    "note_str": note_str,
                    "instrument": number,
                    "instrument_str": instrument,
                    "pitch": pitch,
                    "velocity": velocity,
                    "sample_rate": 16000,
                    "qualities": [0, 1, 0, 0, 0, 0, 0, 0, 0, 0],
                    "qualities_str": ["bright"],
                    "instrument_family": 0,
                    "instrument_family_str": family,
                    "instrument_source": 0,
                    "instrument_source_str": source,
                }
                write_tone(folder / "audio" / f"{note_str}.wav", 0.25, 16000, instrument)
        (folder / "examples.json").write_text(json.dumps(examples, indent=4))
    return root


def fsdkaggle18(
    root: Path,
    train: Mapping[str, int],
    test: Mapping[str, int],
    seconds: Sequence[float] = (0.3, 1.2, 0.6),
) -> Path:
    """``FSDKaggle2018.audio_{train,test}/<8 hex>.wav`` (44.1 kHz) and the two metadata CSVs.

    Args:
        train: clips per label in the train part.
        test: clips per label in the test part.
        seconds: clip lengths, used in turn.
    """
    parts = {
        "train": ("FSDKaggle2018.audio_train", "train_post_competition.csv", train),
        "test": ("FSDKaggle2018.audio_test", "test_post_competition_scoring_clips.csv", test),
    }
    turn = 0
    for part, (folder, csv_name, counts) in parts.items():
        rows = []
        (root / folder).mkdir(parents=True, exist_ok=True)
        for label, n_clips in counts.items():
            for _ in range(n_clips):
                fname = f"{zlib.crc32(f'{part}{turn}'.encode()):08x}.wav"
                write_tone(root / folder / fname, seconds[turn % len(seconds)], 44100, label)
                extra = "1" if part == "train" else ("Public", "Private")[turn % 2]
                rows.append([fname, label, extra, 100000 + turn, "Attribution"])
                turn += 1
        third = "manually_verified" if part == "train" else "usage"
        header = ["fname", "label", third, "freesound_id", "license"]
        _write_csv(root / "FSDKaggle2018.meta" / csv_name, header, rows)
    return root


def youtube_id(key: str) -> str:
    """An 11-character YouTube video id derived from ``key`` (e.g. ``1zcIwhmdeo4``)."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    rng = np.random.default_rng(zlib.crc32(key.encode()))
    return "".join(alphabet[i] for i in rng.integers(0, 64, 11))


def voxceleb1(
    root: Path,
    speakers: Mapping[str, Sequence[int]],
    seconds: float = 0.4,
    empty: Sequence[str] = (),
) -> Path:
    """``wav/<speaker id>/<youtube id>/<nnnnn>.wav`` at 16 kHz.

    Args:
        speakers: ``{speaker id: [utterances of video 1, of video 2, ...]}``.
        empty: speaker ids whose first utterance is an empty WAV file (as in copies downloaded
            again from YouTube).
    """
    for speaker, videos in speakers.items():
        n = 0
        for v, n_utterances in enumerate(videos):
            video = youtube_id(f"{speaker}/{v}")
            for _ in range(n_utterances):
                n += 1
                path = root / "wav" / speaker / video / f"{n:05d}.wav"
                if speaker in empty and n == 1:
                    path.parent.mkdir(parents=True, exist_ok=True)
                    sf.write(path, np.zeros(0, np.float32), 16000)
                else:
                    write_tone(path, seconds, 16000, speaker)
    return root


def birdclef2020(
    root: Path, classes: Mapping[str, int], formats: Sequence[str] = ("mp3", "wav", "flac")
) -> Path:
    """A folder per class ``<scientific name>_<common name>/`` of recordings (formats in turn,
    at 44.1 and 48 kHz), the file names of xeno-canto recordings (``XC<number>.<ext>``)."""
    turn = 0
    for name, n_clips in classes.items():
        for _ in range(n_clips):
            fmt, rate = formats[turn % len(formats)], (44100, 48000)[turn % 2]
            write_tone(root / name / f"XC{134000 + turn}.{fmt}", 0.5, rate, name)
            turn += 1
    return root
