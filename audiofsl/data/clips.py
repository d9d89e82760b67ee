"""Fixed-length clip datasets over lists of audio files."""

from __future__ import annotations

import copy
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import soundfile as sf
import torch
from torch import Tensor
from torch.utils.data import Dataset

from audiofsl.data.audio_io import CROP_MODES, AudioLoadError, display_path, fit_length, load_audio


@dataclass(frozen=True)
class ClipRecord:
    """One audio file and the name of its class."""

    path: str
    class_name: str


class ClipDataset(Dataset):
    """Clips of ``clip_seconds`` cut from audio files, with integer class labels.

    Item ``i`` is ``{"audio": float32 [T], "label": int, "index": i}`` with
    ``T = round(clip_seconds * sample_rate)``: the file is decoded to mono at ``sample_rate``
    and cropped or loop-padded by :func:`fit_length` ("random" crops for training, "start" for
    deterministic evaluation).

    With ``cache_audio`` every full decoded clip is held in memory in one flat tensor (so worker
    processes share it and each file is read once); ``audio`` hands over clips already decoded
    (e.g. while validating the files), otherwise they are decoded here.

    Args:
        records: the clips.
        class_to_index: class name -> label in 0..C-1; every record's class must be present.
        sample_rate: sample rate in Hz.
        clip_seconds: clip length in seconds.
        crop: "random", "start" or "center" (see :func:`fit_length`).
        cache_audio: keep decoded clips in memory.
        audio: optional decoded full clips, one float32 [T_i] per record (used with the cache).
    """

    def __init__(
        self,
        records: Sequence[ClipRecord],
        class_to_index: Mapping[str, int],
        sample_rate: int,
        clip_seconds: float,
        crop: str = "random",
        cache_audio: bool = False,
        audio: Sequence[Tensor] | None = None,
    ) -> None:
        if crop not in CROP_MODES:
            raise ValueError(f"ClipDataset: crop={crop!r} must be one of {CROP_MODES}.")
        if len(records) == 0:
            raise ValueError("ClipDataset: records is empty; a dataset needs at least one clip.")
        unknown = sorted({r.class_name for r in records} - set(class_to_index))
        if unknown:
            raise ValueError(f"ClipDataset: classes {unknown[:10]} are not in class_to_index.")
        self.records = list(records)
        self.sample_rate = int(sample_rate)
        self.clip_samples = max(1, round(clip_seconds * sample_rate))
        self.crop = crop
        self.class_names = sorted(class_to_index, key=class_to_index.__getitem__)
        self.labels = torch.tensor([class_to_index[r.class_name] for r in self.records])
        self._flat: Tensor | None = None
        self._offsets: Tensor | None = None
        if cache_audio:
            if audio is None:
                audio = [load_audio(r.path, self.sample_rate) for r in self.records]
            self._store(audio)

    @property
    def cached(self) -> bool:
        """Whether the decoded clips are held in memory."""
        return self._flat is not None

    def _store(self, audio: Sequence[Tensor]) -> None:
        if len(audio) != len(self.records):
            raise ValueError(
                f"ClipDataset: got {len(audio)} decoded clips for {len(self.records)} records."
            )
        lengths = torch.tensor([len(wave) for wave in audio], dtype=torch.long)
        self._offsets = torch.cat([torch.zeros(1, dtype=torch.long), lengths.cumsum(0)])
        self._flat = torch.cat([wave.to(torch.float32).reshape(-1) for wave in audio])

    def __len__(self) -> int:
        return len(self.records)

    def full_audio(self, index: int) -> Tensor:
        """The whole decoded clip ``index`` as float32 [T_i] at ``sample_rate``."""
        if self._flat is None:
            return load_audio(self.records[index].path, self.sample_rate)
        start, end = self._offsets[index : index + 2].tolist()
        return self._flat[start:end]

    def num_samples(self, index: int) -> int:
        """Length of the decoded clip ``index`` in samples at ``sample_rate``, without decoding it.

        From the cache when the clips are cached; otherwise from the file's header (frame count
        and sample rate), converted with the rounding of :func:`load_audio`'s resampler.

        Raises:
            AudioLoadError: if the file's header cannot be read.
        """
        if self._offsets is not None:
            return int(self._offsets[index + 1] - self._offsets[index])
        path = self.records[index].path
        try:
            info = sf.info(os.fsencode(path))  # bytes: names that are not UTF-8 open too
        except (sf.SoundFileError, RuntimeError, OSError, ValueError, TypeError) as error:
            reason = display_path(str(error)) if str(error) else type(error).__name__
            raise AudioLoadError(display_path(path), reason) from error
        return resampled_length(int(info.frames), int(info.samplerate), self.sample_rate)

    def __getitem__(self, item: int | tuple[int, int]) -> dict:
        """Clip ``item``, or ``(index, crop_seed)`` to seed its random crop (see WithCropSeeds)."""
        index, generator = item, None
        if isinstance(item, tuple):
            index, crop_seed = item
            generator = torch.Generator().manual_seed(int(crop_seed))
        audio = fit_length(self.full_audio(index), self.clip_samples, self.crop, generator)
        return {"audio": audio, "label": int(self.labels[index]), "index": int(index)}

    def with_crop(self, crop: str) -> ClipDataset:
        """The same clips (sharing the cache) cropped with another mode."""
        if crop not in CROP_MODES:
            raise ValueError(f"ClipDataset.with_crop: crop={crop!r} must be one of {CROP_MODES}.")
        clone = copy.copy(self)
        clone.crop = crop
        return clone

    def __repr__(self) -> str:
        return (
            f"ClipDataset({len(self)} clips, {len(self.class_names)} classes, "
            f"{self.clip_samples} samples at {self.sample_rate} Hz, crop={self.crop!r}, "
            f"cached={self.cached})"
        )


def resampled_length(frames: int, orig_freq: int, new_freq: int) -> int:
    """Samples that ``torchaudio.functional.resample`` returns for ``frames`` input samples.

    It keeps ``ceil(frames * new / old)`` samples (rates divided by their gcd; the ratio is
    computed in float64, then made a tensor of torch's default dtype, float32, before the
    ceiling), and never more than its strided convolution yields, ``(frames // old + 1) * new``.
    The same steps are taken here, so that lengths agree with decoding exactly.
    """
    if frames == 0 or orig_freq == new_freq:
        return frames
    gcd = math.gcd(orig_freq, new_freq)
    orig, new = orig_freq // gcd, new_freq // gcd
    target = int(torch.ceil(torch.as_tensor(new * frames / orig)))
    return min(target, (frames // orig + 1) * new)
