"""Decoding audio files to mono tensors, and fitting clips to a fixed length."""

from __future__ import annotations

import os

import soundfile as sf
import torch
import torchaudio.functional as AF
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
    if wave.numel() == 0 or file_rate == sample_rate:
        return wave
    return AF.resample(wave, orig_freq=int(file_rate), new_freq=sample_rate)


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
    offset = _offset(length, n_samples, mode, generator)
    index = (torch.arange(n_samples, device=wave.device) + offset) % length
    return wave.index_select(-1, index)


def _offset(length: int, n_samples: int, mode: str, generator: torch.Generator | None) -> int:
    if mode == "start":
        return 0
    if length >= n_samples:
        if mode == "center":
            return (length - n_samples) // 2
        return int(torch.randint(length - n_samples + 1, (), generator=generator))
    if mode == "center":
        return -((n_samples - length) // 2) % length
    return int(torch.randint(length, (), generator=generator))
