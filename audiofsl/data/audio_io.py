"""Decoding audio files to mono tensors, and fitting clips to a fixed length."""

from __future__ import annotations

import math
import os

import numpy as np
import soundfile as sf
import soxr
import torch
from torch import Tensor

#: File extensions read by :func:`load_audio` through libsndfile (mp3 needs libsndfile >= 1.1).
AUDIO_EXTENSIONS = (".wav", ".flac", ".mp3", ".ogg")
CROP_MODES = ("random", "start", "center")


class AudioLoadError(RuntimeError):
    """An audio file could not be decoded.

    Args:
        path: the file.
        reason: what went wrong.
    """

    def __init__(self, path: str | os.PathLike, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"cannot load audio file '{self.path}': {reason}")

    def __reduce__(self):  # keep picklable across DataLoader worker processes
        return (type(self), (self.path, self.reason))


def display_path(path: str | os.PathLike) -> str:
    """``path`` printable anywhere: bytes of file names that are not valid UTF-8 become U+FFFD.

    On POSIX such names reach Python as strings with lone surrogates, which cannot be written
    to a UTF-8 log or terminal.
    """
    return os.fsencode(path).decode("utf-8", errors="replace")


def load_audio(path: str | os.PathLike, sample_rate: int) -> Tensor:
    """Decode a file, mix it down to mono and resample it.

    Args:
        path: an audio file libsndfile reads (wav, flac, mp3, ogg, ...).
        sample_rate: target sample rate in Hz.

    Returns:
        float32 [T] waveform at ``sample_rate`` (T = 0 for a file without frames).

    Raises:
        AudioLoadError: if the file is missing or cannot be decoded.
    """
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, int) or sample_rate <= 0:
        raise ValueError(f"load_audio: sample_rate={sample_rate!r} must be a positive integer.")
    try:
        # Bytes, so that file names which are not valid UTF-8 open as well.
        data, file_rate = sf.read(os.fsencode(path), dtype="float32", always_2d=True)
    except (sf.SoundFileError, RuntimeError, OSError, ValueError, TypeError) as error:
        reason = display_path(str(error)) if str(error) else type(error).__name__
        raise AudioLoadError(display_path(path), reason) from error
    wave = torch.from_numpy(data).mean(dim=1)  # [frames, channels] -> mono [frames]
    return resample(wave, int(file_rate), sample_rate)


def resample(wave: Tensor, orig_freq: int, new_freq: int) -> Tensor:
    """Band-limited resampling with libsoxr's high-quality filter, like ``librosa.resample``.

    The output is ``librosa.resample(wave, orig_sr=orig_freq, target_sr=new_freq)`` (its default
    ``res_type="soxr_hq"``, ``fix=True``): soxr's output cut or zero-padded at the end to
    :func:`resampled_length` samples.

    Args:
        wave: ``[T]`` float32 waveform on the CPU.
        orig_freq: its sample rate in Hz.
        new_freq: the sample rate wanted in Hz.

    Returns:
        ``[resampled_length(T, orig_freq, new_freq)]`` float32 waveform (``wave`` itself when
        the rates are equal or it is empty).
    """
    if wave.numel() == 0 or orig_freq == new_freq:
        return wave
    out = soxr.resample(wave.numpy(), orig_freq, new_freq, quality="HQ")
    length = resampled_length(wave.numel(), orig_freq, new_freq)
    out = np.pad(out[:length], (0, max(0, length - len(out))))
    return torch.from_numpy(np.ascontiguousarray(out, dtype=np.float32))


def resample_margin(orig_freq: int, new_freq: int) -> int:
    """File frames read beyond a window on each side, so that resampling has no edge effects.

    soxr's high-quality filter reaches about 100 output samples either side, measured: with
    this margin a window and the same samples of the whole resampled clip differ by under 1e-5.
    """
    return 256 * max(1, -(-orig_freq // new_freq))


#: Frames decoded and discarded before a seek target in compressed formats: libsndfile's MP3
#: decoder returns zeros, then wrong samples, for about 4,400 frames after a seek.
SEEK_PREROLL = {".mp3": 8192}


def seek_preroll(path: str | os.PathLike) -> int:
    """Frames to decode before a seek target in ``path`` (0 for formats that seek exactly)."""
    return SEEK_PREROLL.get(os.path.splitext(os.fsdecode(path))[1].lower(), 0)


def read_window(
    path: str | os.PathLike,
    sample_rate: int,
    start: int,
    length: int,
    file_rate: int,
    file_frames: int,
) -> Tensor:
    """Decode only ``length`` samples (at ``sample_rate``) of a file from sample ``start``.

    The matching frames of the file (plus a margin, for the resampler) are read with
    libsndfile's seek, mixed to mono and resampled; the window is then cut out. Past the end of
    the clip the window is shorter (callers loop-pad). For clips decoded whole, see
    :func:`load_audio`; the two agree to 1e-5 (the resampler's filter ends in the margins).

    Args:
        path: the audio file.
        sample_rate: target sample rate in Hz.
        start: first sample of the window, at ``sample_rate``.
        length: samples wanted.
        file_rate: the file's sample rate (from its index entry).
        file_frames: the file's frames (from its index entry).

    Returns:
        float32 [<= length] mono waveform.

    Raises:
        AudioLoadError: if the file cannot be decoded.
    """
    # Start the read where both sample grids meet (a multiple of the rates' period), so the
    # resampled chunk lies exactly on the grid of the whole decoded clip.
    gcd = math.gcd(file_rate, sample_rate)
    period_in, period_out = file_rate // gcd, sample_rate // gcd
    margin = resample_margin(file_rate, sample_rate) if file_rate != sample_rate else 0
    first = max(0, start * file_rate // sample_rate - margin) // period_in * period_in
    last = min(file_frames, -(-(start + length) * file_rate // sample_rate) + margin)
    length = min(length, resampled_length(file_frames, file_rate, sample_rate) - start)
    preroll = min(first, seek_preroll(path))
    try:
        data, _ = sf.read(
            os.fsencode(path), start=first - preroll, stop=last, dtype="float32", always_2d=True
        )
        data = data[preroll:]
    except (sf.SoundFileError, RuntimeError, OSError, ValueError, TypeError) as error:
        reason = display_path(str(error)) if str(error) else type(error).__name__
        raise AudioLoadError(display_path(path), reason) from error
    wave = torch.from_numpy(data).mean(dim=1)
    if file_rate == sample_rate:
        return wave[start - first : start - first + length]
    wave = resample(wave, int(file_rate), sample_rate)
    offset = first // period_in * period_out
    return wave[start - offset : start - offset + max(length, 0)]


def fit_length(
    wave: Tensor,
    n_samples: int,
    mode: str = "random",
    generator: torch.Generator | None = None,
) -> Tensor:
    """Crop a clip to ``n_samples``, or loop-pad it by repeating the whole clip cyclically.

    Output sample ``i`` is ``wave[(offset + i) % T]``. For a long clip the offset picks the
    window (0 for "start", the middle window for "center", uniform over all windows for
    "random"). For a short clip the clip is repeated: "start" begins with its first sample,
    "center" puts one full copy in the middle, "random" starts at a uniform phase.

    Args:
        wave: [..., T] waveform(s), T >= 1.
        n_samples: output length.
        mode: "random", "start" or "center".
        generator: optional torch generator for "random" (default: torch's global one).

    Returns:
        [..., n_samples] new tensor (never a view of ``wave``), same dtype and device.
    """
    if mode not in CROP_MODES:
        raise ValueError(f"fit_length: mode={mode!r} must be one of {CROP_MODES}.")
    if isinstance(n_samples, bool) or not isinstance(n_samples, int) or n_samples <= 0:
        raise ValueError(f"fit_length: n_samples={n_samples!r} must be a positive integer.")
    length = wave.shape[-1]
    if length == 0:
        raise ValueError("fit_length: the waveform is empty; there is nothing to crop or pad.")
    offset = crop_offset(length, n_samples, mode, generator)
    if offset >= 0 and offset + n_samples <= length:  # a plain crop: a slice, no index gather
        return wave[..., offset : offset + n_samples].clone()
    index = (torch.arange(n_samples, device=wave.device) + offset) % length
    return wave.index_select(-1, index)


def crop_offset(
    length: int, n_samples: int, mode: str, generator: torch.Generator | None = None
) -> int:
    """Where :func:`fit_length` starts a crop of ``n_samples`` from a clip of ``length``."""
    if mode == "start":
        return 0
    if length >= n_samples:
        if mode == "center":
            return (length - n_samples) // 2
        return int(torch.randint(length - n_samples + 1, (), generator=generator))
    if mode == "center":
        return -((n_samples - length) // 2) % length
    return int(torch.randint(length, (), generator=generator))


def resampled_length(frames: int, orig_freq: int, new_freq: int) -> int:
    """Samples of a clip of ``frames`` samples once resampled: ``ceil(frames * new / orig)``.

    Computed exactly in integers: librosa's length rule, which :func:`resample` follows.
    """
    if frames == 0 or orig_freq == new_freq:
        return frames
    return -(-frames * new_freq // orig_freq)
