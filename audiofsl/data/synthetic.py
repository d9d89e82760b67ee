"""Procedural few-shot audio dataset: many sound classes, no download.

Each class is a sound recipe drawn deterministically from ``(seed, class index)``: a harmonic
timbre (number of harmonics, spectral tilt in dB/octave, odd/even balance), a base pitch, a pitch
contour (flat, rising, falling or vibrato), an amplitude envelope (swell, percussive decay or
repeated pulses at a click rate), a band of filtered noise (centre, width, level), and amplitude
and frequency modulation (rate, depth). Each clip re-renders its class recipe with jittered
pitch, spectral tilt and noise-band centre, onset shift, tempo/duration jitter, a random gain and
white background noise at a random SNR. Synthesis is additive and vectorised with numpy.

Optional multi-label mixtures (``mixtures > 0``, an IRMAS-like protocol: single-label training
clips, multi-label test clips) each sum fresh renderings of 2 to ``max_labels`` distinct classes,
each source at its own random gain; the manifest then marks the class clips ``train`` and the
mixtures ``test``.

Calibration on the default 100 x 20 one-second clips (seed 0), 2,000 seeded 5-way 5-shot tasks
(15 queries, nearest prototype, squared Euclidean) on log-mel features (128 mels, n_fft 1024,
hop 512, dB, per-example standardised): an untrained, randomly initialised Conv4 (4 conv3x3-BN-
ReLU-maxpool blocks, 64 channels, eval mode, mean over time) scores 64.1% (3 initialisations;
chance 20%) and the time-averaged log-mel spectrum 50.6%, while a Conv4 trained with
cross-entropy (20 epochs, Adam) on classes 0-63 scores 87.9% on the other 36 (untrained: 63.0%).
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import soundfile as sf
from rich.progress import Progress

from audiofsl.data.folder import GENERATED_MARKER

__all__ = ["generate_synthetic_dataset"]

# Bump when the synthesis changes: old caches then live under a different settings hash.
_GENERATOR_VERSION = 1
_MANIFEST = "manifest.csv"
_COMPLETE_MARKER = "settings.json"
# Stands in for a class index in the seeds of mixtures (no dataset has that many classes), so
# their generators never coincide with a class's or a class clip's.
_MIXTURE_STREAM = 2**32 - 1
# Gain of each source of a mixture relative to the others (its RMS is normalised first).
_SOURCE_GAIN_DB = (-6.0, 0.0)


@dataclass(frozen=True)
class _Variation:
    """Within-class variation of one clip (calibrated, see the module docstring)."""

    pitch_jitter_semitones: float = 5.0  # std of a normal shift of the base pitch
    tilt_jitter_db: float = 6.0  # std of a shift of the spectral tilt (dB/octave)
    noise_jitter_octaves: float = 1.0  # std of a shift of the noise band centre
    onset_fraction: float = 0.25  # onset uniform in [0, fraction * clip length]
    tempo_jitter: float = 0.4  # std of the log tempo factor (durations and rates)
    gain_db: tuple[float, float] = (-12.0, 0.0)
    snr_db: tuple[float, float] = (-10.0, 10.0)


@dataclass(frozen=True)
class _Recipe:
    """One class: the parameters a clip is rendered from (times in seconds, rates in Hz)."""

    n_harmonics: int
    tilt_db_per_octave: float
    even_gain: float
    f0: float
    contour: str
    contour_semitones: float
    vibrato_rate: float
    envelope: str
    attack: float
    decay: float
    duration: float
    pulse_rate: float
    noise_centre: float
    noise_octaves: float
    noise_db: float
    am_rate: float
    am_depth: float
    fm_rate: float
    fm_semitones: float


def _log_uniform(rng: np.random.Generator, low: float, high: float) -> float:
    return float(np.exp(rng.uniform(np.log(low), np.log(high))))


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(x**2)) + 1e-12)


def _draw_recipe(rng: np.random.Generator) -> _Recipe:
    """Draws a class recipe; ranges are chosen to keep sounds audible and alias-free at 16 kHz."""
    return _Recipe(
        n_harmonics=int(rng.integers(1, 13)),
        tilt_db_per_octave=float(rng.uniform(-15.0, -1.0)),
        even_gain=float(rng.uniform(0.0, 1.0)),
        f0=_log_uniform(rng, 80.0, 1200.0),
        contour=str(rng.choice(["flat", "rising", "falling", "vibrato"])),
        contour_semitones=float(rng.uniform(2.0, 12.0)),
        vibrato_rate=float(rng.uniform(3.0, 9.0)),
        envelope=str(rng.choice(["swell", "percussive", "pulses"])),
        attack=_log_uniform(rng, 0.003, 0.2),
        decay=_log_uniform(rng, 0.03, 0.5),
        duration=float(rng.uniform(0.3, 0.9)),
        pulse_rate=_log_uniform(rng, 2.0, 16.0),
        noise_centre=_log_uniform(rng, 150.0, 6000.0),
        noise_octaves=float(rng.uniform(0.1, 1.5)),
        noise_db=float(rng.uniform(-30.0, 6.0)),
        am_rate=_log_uniform(rng, 1.0, 30.0),
        am_depth=float(rng.uniform(0.0, 0.9)) * float(rng.random() < 0.5),
        fm_rate=_log_uniform(rng, 5.0, 80.0),
        fm_semitones=float(rng.uniform(0.0, 1.5)) * float(rng.random() < 0.5),
    )


def _frequency_track(recipe: _Recipe, f0: float, t: np.ndarray, tau: np.ndarray) -> np.ndarray:
    """Instantaneous fundamental frequency [T] in Hz (contour in event time ``tau``, FM in t)."""
    if recipe.contour == "vibrato":
        semitones = 0.05 * recipe.contour_semitones * np.sin(2 * np.pi * recipe.vibrato_rate * tau)
    else:
        sign = {"flat": 0.0, "rising": 1.0, "falling": -1.0}[recipe.contour]
        semitones = sign * recipe.contour_semitones * np.clip(tau / recipe.duration, 0.0, 1.0)
    semitones = semitones + recipe.fm_semitones * np.sin(2 * np.pi * recipe.fm_rate * t)
    return f0 * 2.0 ** (semitones / 12.0)


def _harmonic_tone(recipe: _Recipe, freq: np.ndarray, sample_rate: int) -> np.ndarray:
    """Additive harmonic tone [T] following ``freq`` [T]; partials above 0.45 sr are muted."""
    k = np.arange(1, recipe.n_harmonics + 1, dtype=np.float64)[:, None]
    amps = 10.0 ** (recipe.tilt_db_per_octave * np.log2(k) / 20.0)
    amps = amps * np.where(k % 2 == 0, recipe.even_gain, 1.0) * (k * freq < 0.45 * sample_rate)
    # Wrapped phase keeps k * phase small enough for fast float32 sines (error ~1e-5).
    phase = np.mod(2 * np.pi * np.cumsum(freq) / sample_rate, 2 * np.pi).astype(np.float32)
    partials = amps.astype(np.float32) * np.sin(k.astype(np.float32) * phase)
    return partials.sum(axis=0, dtype=np.float64)


def _envelope(recipe: _Recipe, tau: np.ndarray) -> np.ndarray:
    """Amplitude envelope [T] in event time ``tau`` (zero before the onset and after the end)."""
    attack = np.clip(tau / recipe.attack, 0.0, 1.0)
    release = np.clip((recipe.duration - tau) / 0.02, 0.0, 1.0)
    if recipe.envelope == "swell":
        env = attack * np.exp(-tau / (4 * recipe.decay))
    elif recipe.envelope == "percussive":
        env = attack * np.exp(-tau / recipe.decay)
    else:
        cycle = np.mod(tau * recipe.pulse_rate, 1.0) / recipe.pulse_rate
        env = np.clip(cycle / 0.003, 0.0, 1.0) * np.exp(-cycle / (0.25 / recipe.pulse_rate))
    am = 1.0 + recipe.am_depth * np.sin(2 * np.pi * recipe.am_rate * tau)
    return env * release * am * (tau >= 0)


def _noise_band(recipe: _Recipe, rng: np.random.Generator, n: int, sr: int) -> np.ndarray:
    """White noise [n] filtered by a Gaussian band in log-frequency (std: half the width)."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n, 1.0 / sr)
    distance = np.log2(np.maximum(freqs, 1.0) / recipe.noise_centre) / (recipe.noise_octaves / 2)
    return np.fft.irfft(spectrum * np.exp(-0.5 * distance**2), n)


def _render_clip(recipe: _Recipe, rng: np.random.Generator, n_samples: int, sample_rate: int):
    """Renders one clip [n_samples] in [-1, 1] with within-class variation drawn from ``rng``."""
    var = _Variation()
    t = np.arange(n_samples) / sample_rate
    tempo = float(np.exp(rng.normal(0.0, var.tempo_jitter)))
    onset = rng.uniform(0.0, var.onset_fraction * n_samples / sample_rate)
    tau = (t - onset) * tempo
    recipe = replace(
        recipe,
        f0=recipe.f0 * 2.0 ** (rng.normal(0.0, var.pitch_jitter_semitones) / 12.0),
        tilt_db_per_octave=recipe.tilt_db_per_octave + rng.normal(0.0, var.tilt_jitter_db),
        noise_centre=recipe.noise_centre * 2.0 ** rng.normal(0.0, var.noise_jitter_octaves),
    )
    tone = _harmonic_tone(recipe, _frequency_track(recipe, recipe.f0, t, tau), sample_rate)
    noise = _noise_band(recipe, rng, n_samples, sample_rate)
    noise *= 10.0 ** (recipe.noise_db / 20.0) * _rms(tone) / _rms(noise)
    event = (tone + noise) * _envelope(recipe, tau)
    snr_db = rng.uniform(*var.snr_db)
    background = rng.standard_normal(n_samples)
    event = event + background * _rms(event) / _rms(background) * 10.0 ** (-snr_db / 20.0)
    return _peak_normalise(event, rng)


def _peak_normalise(event: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``event`` scaled to a peak of 0.95 times a random gain (``_Variation.gain_db``)."""
    gain = 10.0 ** (rng.uniform(*_Variation().gain_db) / 20.0)
    return 0.95 * gain * event / np.max(np.abs(event))


def _is_complete(directory: Path, settings: dict) -> bool:
    """True when ``directory`` holds a finished dataset for ``settings`` with all its files."""
    try:
        if json.loads((directory / _COMPLETE_MARKER).read_text()) != settings:
            return False
        with (directory / _MANIFEST).open(newline="") as f:
            paths = [directory / row["path"] for row in csv.DictReader(f)]
    except (OSError, ValueError, KeyError, TypeError, csv.Error):
        return False
    expected = settings["n_classes"] * settings["clips_per_class"] + settings.get("mixtures", 0)
    return len(paths) == expected and all(path.is_file() for path in paths)


def _clip_samples(settings: dict, c: int, i: int) -> int:
    """Length in samples of clip ``i`` of class ``c``: fixed, or drawn from its own generator."""
    sample_rate = settings["sample_rate"]
    if "clip_seconds_range" not in settings:
        return round(settings["clip_seconds"] * sample_rate)
    low, high = settings["clip_seconds_range"]
    seconds = np.random.default_rng([settings["seed"], c, i + 1, 1]).uniform(low, high)
    return round(seconds * sample_rate)


def _write_wave(directory: Path, rel: str, wave: np.ndarray, sample_rate: int) -> None:
    pcm = np.round(wave * 32767).astype(np.int16)
    sf.write(directory / rel, pcm, sample_rate, subtype="PCM_16")


def _class_name(c: int) -> str:
    return f"class_{c:03d}"


def _write_class(directory: Path, settings: dict, c: int) -> list[tuple[str, str]]:
    """Renders and writes the clips of class ``c``; returns their manifest rows."""
    name, sample_rate, seed = _class_name(c), settings["sample_rate"], settings["seed"]
    recipe = _draw_recipe(np.random.default_rng([seed, c]))
    (directory / "audio" / name).mkdir(parents=True)
    rows = []  # (path relative to the manifest, class name)
    for i in range(settings["clips_per_class"]):
        n_samples = _clip_samples(settings, c, i)
        wave = _render_clip(recipe, np.random.default_rng([seed, c, i + 1]), n_samples, sample_rate)
        rel = f"audio/{name}/clip_{i:03d}.wav"
        _write_wave(directory, rel, wave, sample_rate)
        rows.append((rel, name))
    return rows


def _write_mixture(directory: Path, settings: dict, m: int) -> tuple[str, list[str]]:
    """Renders and writes mixture ``m``; returns its path and its sorted labels.

    One generator, seeded by ``(seed, mixture)``, draws everything: the number of sources (2 to
    ``max_labels``), their distinct classes, the length (as a class clip's), then for each source
    a fresh rendering of its class recipe (never a written clip) and its gain, and the final gain.
    """
    sample_rate, seed = settings["sample_rate"], settings["seed"]
    rng = np.random.default_rng([seed, _MIXTURE_STREAM, m + 1])
    n_sources = int(rng.integers(2, settings["max_labels"] + 1))
    classes = rng.choice(settings["n_classes"], n_sources, replace=False).tolist()
    if "clip_seconds_range" in settings:
        n_samples = round(rng.uniform(*settings["clip_seconds_range"]) * sample_rate)
    else:
        n_samples = round(settings["clip_seconds"] * sample_rate)
    mix = np.zeros(n_samples)
    for c in classes:
        recipe = _draw_recipe(np.random.default_rng([seed, c]))
        source = _render_clip(recipe, rng, n_samples, sample_rate)
        mix += source / _rms(source) * 10.0 ** (rng.uniform(*_SOURCE_GAIN_DB) / 20.0)
    rel = f"audio/mixtures/mix{m:05d}.wav"
    _write_wave(directory, rel, _peak_normalise(mix, rng), sample_rate)
    return rel, sorted(_class_name(c) for c in classes)


def _write_dataset(directory: Path, settings: dict, progress: bool) -> None:
    """Renders every clip into ``directory``, then the manifest, then the completion marker."""
    rows = []
    mixtures = settings.get("mixtures", 0)
    # numpy and libsndfile release the GIL, so threads use the cores; every clip has its own
    # seeded generator, so the bytes do not depend on the scheduling.
    with Progress(disable=not progress) as bar, ThreadPoolExecutor() as pool:
        task = bar.add_task("Synthesising audio", total=settings["n_classes"] + mixtures)
        classes = range(settings["n_classes"])
        for class_rows in pool.map(lambda c: _write_class(directory, settings, c), classes):
            rows += class_rows
            bar.advance(task)
        if mixtures:
            (directory / "audio" / "mixtures").mkdir()
            # Single-class clips: labels = the class, split train; every fourth mixture val
            # (where a decision threshold is tuned), the others test.
            rows = [(path, label, label, "train") for path, label in rows]
            written = pool.map(lambda m: _write_mixture(directory, settings, m), range(mixtures))
            for index, (path, labels) in enumerate(written):
                split = "val" if index % 4 == 3 else "test"
                rows.append((path, labels[0], ";".join(labels), split))
                bar.advance(task)
    header = ("path", "label", "labels", "split") if mixtures else ("path", "label")
    with (directory / _MANIFEST).open("w", newline="") as f:
        csv.writer(f).writerows([header, *rows])
    # Marks the folder as generated, so that a folder source never reads it as a class.
    (directory / GENERATED_MARKER).write_text("generated by audiofsl.data.synthetic\n")
    (directory / _COMPLETE_MARKER).write_text(json.dumps(settings, sort_keys=True))


def _check_settings(settings: dict) -> None:
    lows = {"n_classes": 1, "clips_per_class": 1, "sample_rate": 1000, "seed": 0}
    if "mixtures" in settings:
        # Mixtures need two classes at least and draw up to n_classes distinct ones.
        lows |= {"n_classes": 2, "mixtures": 0, "max_labels": 2}
    for name, low in lows.items():
        value = settings[name]
        if not isinstance(value, int) or isinstance(value, bool) or value < low:
            raise ValueError(
                f"generate_synthetic_dataset: {name}={value!r} must be an integer >= {low}."
            )
    if settings.get("max_labels", 0) > settings["n_classes"]:
        raise ValueError(
            f"generate_synthetic_dataset: max_labels={settings['max_labels']!r} must be at most "
            f"n_classes={settings['n_classes']} (a mixture's classes are distinct)."
        )
    if "clip_seconds_range" in settings:
        _check_range(settings["clip_seconds_range"], settings["sample_rate"])
        return
    seconds = settings["clip_seconds"]
    if not isinstance(seconds, (int, float)) or round(seconds * settings["sample_rate"]) < 16:
        raise ValueError(
            f"generate_synthetic_dataset: clip_seconds={seconds!r} must be a number giving at "
            f"least 16 samples at sample_rate={settings['sample_rate']}."
        )


def _check_range(seconds_range: object, sample_rate: int) -> None:
    numbers = (
        isinstance(seconds_range, Sequence)
        and not isinstance(seconds_range, str)
        and len(seconds_range) == 2
        and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in seconds_range)
    )
    if not numbers or not (
        round(seconds_range[0] * sample_rate) >= 16 and seconds_range[0] <= seconds_range[1]
    ):
        raise ValueError(
            f"generate_synthetic_dataset: clip_seconds_range={seconds_range!r} must be two "
            f"numbers (low, high) with low <= high and low giving at least 16 samples at "
            f"sample_rate={sample_rate}."
        )


def generate_synthetic_dataset(
    root: str | os.PathLike,
    n_classes: int = 100,
    clips_per_class: int = 20,
    clip_seconds: float = 1.0,
    sample_rate: int = 16000,
    seed: int = 0,
    progress: bool = True,
    clip_seconds_range: tuple[float, float] | None = None,
    mixtures: int = 0,
    max_labels: int = 3,
) -> Path:
    """Generates (once) the synthetic dataset and returns its manifest CSV path.

    Writes ``<root>/<settings-hash>/audio/<class>/<clip>.wav`` (16-bit PCM) and ``manifest.csv``
    (``path,label``, paths relative to it) beside ``audio/``, first into a temporary folder renamed
    into place when done: an interrupted run never looks complete. A complete dataset with the
    same settings is reused; an incomplete one is replaced.

    Args:
        root: Cache folder (created if missing).
        n_classes: Number of classes (sound recipes), >= 1.
        clips_per_class: Clips rendered per class, >= 1.
        clip_seconds: Length of every clip in seconds (unused with ``clip_seconds_range``).
        sample_rate: Sample rate of the files in Hz.
        seed: Non-negative seed; the same settings give byte-identical files.
        progress: Show a progress bar while rendering.
        clip_seconds_range: ``(low, high)`` for clips of varying length: each clip's duration is
            drawn uniformly in ``[low, high]`` seconds from a generator of its own, seeded by
            ``(seed, class, clip)``, and the clip is rendered into that many samples. The range
            replaces ``clip_seconds`` in the settings (and their hash); None keeps fixed-length
            clips, with the same settings and files as before the option existed.
        mixtures: Multi-label clips to write besides the single-class ones, as
            ``audio/mixtures/mix<NNNNN>.wav``: each sums fresh renderings (seeded by
            ``(seed, mixture)``, never a written clip) of 2 to ``max_labels`` distinct random
            classes, each at a random gain, then peak-normalised like the other clips; its length
            is ``clip_seconds`` or drawn from ``clip_seconds_range``. The manifest then has the
            columns ``path,label,labels,split``: ``labels`` every label, ``;``-separated and
            sorted (``label``: the first), ``split`` ``train`` for the class clips, ``val`` for
            every fourth mixture and ``test`` for the others. 0 (no mixtures) keeps the
            settings, files and manifest unchanged.
        max_labels: Most classes in one mixture, 2 to ``n_classes`` (unused without mixtures).

    Returns:
        Path of the manifest CSV.

    Raises:
        ValueError: If an argument is out of range (the message names it).
    """
    names = ("n_classes", "clips_per_class", "clip_seconds", "sample_rate", "seed")
    values = (n_classes, clips_per_class, clip_seconds, sample_rate, seed)
    settings = dict(zip(names, values, strict=True))
    if clip_seconds_range is not None:
        # Lengths come from the range: clip_seconds is then left out of the settings and hash.
        del settings["clip_seconds"]
        settings["clip_seconds_range"] = clip_seconds_range
    if mixtures != 0:  # in the settings (and hash) only when used: other datasets keep theirs
        settings |= {"mixtures": mixtures, "max_labels": max_labels}
    _check_settings(settings)
    settings["version"] = _GENERATOR_VERSION
    if clip_seconds_range is None:
        settings["clip_seconds"] = float(clip_seconds)
    else:  # a list, as the JSON settings marker reads back
        settings["clip_seconds_range"] = [float(x) for x in clip_seconds_range]
    root = Path(root)
    target = root / hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]
    if _is_complete(target, settings):
        return target / _MANIFEST
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-partial-", dir=root))
    try:
        _write_dataset(staging, settings, progress)
        if target.exists() and not _is_complete(target, settings):
            shutil.rmtree(target)
        try:
            staging.rename(target)
        except OSError:
            # Another process finished the same dataset first; keep theirs if it is complete.
            if not _is_complete(target, settings):
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target / _MANIFEST
