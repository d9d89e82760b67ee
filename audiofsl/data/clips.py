"""Fixed-length clip datasets over lists of audio files."""

from __future__ import annotations

import copy
import os
from collections.abc import Collection, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor

import soundfile as sf
import torch
from torch import Tensor
from torch.utils.data import Dataset

from audiofsl.data.audio_io import (
    CROP_MODES,
    AudioLoadError,
    crop_offset,
    display_path,
    fit_length,
    load_audio,
    read_window,
    resampled_length,
)
from audiofsl.data.records import ClipRecord, IndexedClip


class ClipDataset(Dataset):
    """Clips of ``clip_seconds`` cut from audio files, with integer class labels.

    Item ``i`` is ``{"audio": float32 [T], "label": int, "index": i}`` with
    ``T = round(clip_seconds * sample_rate)``: a window of the clip, mono at ``sample_rate``,
    cropped or loop-padded as :func:`fit_length` does ("random" crops for training, "start" for
    deterministic evaluation).

    Multi-label clips (records whose ``labels`` hold several classes, e.g. IRMAS's test set):
    with ``multi_label`` the item also holds ``"labels"``, a float32 [C] multi-hot vector of
    every label of the clip (the default collate stacks them to [B, C]); ``"label"`` stays the
    index of the record's ``class_name``. ``multi_label=None`` turns this on when any record has
    more than one label. The label sets are kept as one flat index tensor, so memory grows with
    the number of labels, not with clips x classes.

    With ``cache_audio`` every full decoded clip is held in memory in one flat tensor (so worker
    processes share it and each file is read once); ``audio`` hands over clips already decoded,
    otherwise they are decoded here. Without the cache, clips given as :class:`IndexedClip`
    (whose frames and sample rate are known) are streamed: only the window's frames are read
    and resampled (:func:`read_window`), so memory does not grow with the dataset.

    Args:
        records: the clips (:class:`ClipRecord`, or :class:`IndexedClip` to stream windows).
        class_to_index: class name -> label in 0..C-1; every record's class (and every name in
            its ``labels``) must be present.
        sample_rate: sample rate in Hz.
        clip_seconds: clip length in seconds.
        crop: "random", "start" or "center" (see :func:`fit_length`).
        cache_audio: keep decoded clips in memory.
        audio: optional decoded full clips, one float32 [T_i] per record (used with the cache).
        multi_label: add the multi-hot ``"labels"`` to every item (None: when any record has
            more than one label).
        unlabelled: paths of records whose label is hidden (semi-supervised training): their
            ``"label"`` is -1 and their multi-hot ``"labels"`` all zero.
    """

    def __init__(
        self,
        records: Sequence[ClipRecord | IndexedClip],
        class_to_index: Mapping[str, int],
        sample_rate: int,
        clip_seconds: float,
        crop: str = "random",
        cache_audio: bool = False,
        audio: Sequence[Tensor] | None = None,
        multi_label: bool | None = None,
        unlabelled: Collection[str] = (),
    ) -> None:
        if crop not in CROP_MODES:
            raise ValueError(f"ClipDataset: crop={crop!r} must be one of {CROP_MODES}.")
        if len(records) == 0:
            raise ValueError("ClipDataset: records is empty; a dataset needs at least one clip.")
        self.infos = [r if isinstance(r, IndexedClip) else None for r in records]
        self.records = [r.record if isinstance(r, IndexedClip) else r for r in records]
        seen = {name for r in self.records for name in (r.class_name, *r.labels)}
        unknown = sorted(seen - set(class_to_index))
        if unknown:
            raise ValueError(f"ClipDataset: classes {unknown[:10]} are not in class_to_index.")
        self.sample_rate = int(sample_rate)
        self.clip_samples = max(1, round(clip_seconds * sample_rate))
        self.crop = crop
        self.class_names = sorted(class_to_index, key=class_to_index.__getitem__)
        hidden = set(unlabelled)
        self.labels = torch.tensor(
            [-1 if r.path in hidden else class_to_index[r.class_name] for r in self.records]
        )
        if multi_label is None:
            multi_label = any(len(r.all_labels) > 1 for r in self.records)
        self.multi_label = bool(multi_label)
        sets = [[] if r.path in hidden else [class_to_index[name] for name in r.all_labels]
                for r in self.records]  # fmt: skip
        self._label_flat = torch.tensor([i for members in sets for i in members], dtype=torch.long)
        sizes = torch.tensor([len(members) for members in sets], dtype=torch.long)
        self._label_offsets = torch.cat([torch.zeros(1, dtype=torch.long), sizes.cumsum(0)])
        self._flat: Tensor | None = None
        self._offsets: Tensor | None = None
        self.cache_audio = bool(cache_audio)
        if cache_audio and audio is not None:
            self._store(audio)

    @property
    def cached(self) -> bool:
        """Whether the decoded clips are held in memory."""
        return self._flat is not None

    def fill_cache(self) -> ClipDataset:
        """Decode every clip into the RAM cache now (once; with ``cache_audio`` only).

        Loaders call it in the main process before their workers start, so that the workers
        share one copy; until then (indexing, summaries) nothing is decoded.
        """
        if not self.cache_audio or self._flat is not None:
            return self
        paths = [r.path for r in self.records]
        if any(info is None for info in self.infos):
            with ThreadPoolExecutor(max_workers=4) as pool:
                self._store(list(pool.map(lambda p: load_audio(p, self.sample_rate), paths)))
            return self
        # Indexed clips: their decoded lengths are known, so each clip is decoded straight into
        # its slot of one preallocated buffer (peak memory: the cache plus a clip per thread,
        # not twice the cache as concatenating a list of decoded clips would take).
        lengths = torch.tensor([info.num_samples(self.sample_rate) for info in self.infos])
        offsets = torch.cat([torch.zeros(1, dtype=torch.long), lengths.cumsum(0)])
        # A normal tensor even when filled from an inference-mode loop (the decoding threads
        # are not in inference mode, and could not write into an inference tensor).
        with torch.inference_mode(False):
            flat = torch.empty(int(offsets[-1]), dtype=torch.float32)

        def decode_into(index: int) -> None:
            start, end = offsets[index : index + 2].tolist()
            wave = load_audio(paths[index], self.sample_rate)
            n = min(end - start, wave.shape[-1])  # a header may be off by a rounding sample
            flat[start : start + n] = wave[:n]
            flat[start + n : end] = 0.0

        with ThreadPoolExecutor(max_workers=4) as pool:
            list(pool.map(decode_into, range(len(paths))))
        self._flat, self._offsets = flat, offsets
        return self

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

    def targets(self, index: int) -> Tensor:
        """float32 [C]: the multi-hot vector of every label of clip ``index``."""
        start, end = self._label_offsets[index : index + 2].tolist()
        target = torch.zeros(len(self.class_names), dtype=torch.float32)
        target[self._label_flat[start:end]] = 1.0
        return target

    def label_counts(self) -> Tensor:
        """long [C]: the clips carrying each class (a multi-label clip counts for each)."""
        return torch.bincount(self._label_flat, minlength=len(self.class_names))

    def multi_hot(self) -> Tensor:
        """float32 [N, C]: the multi-hot label vectors of all clips (for metrics)."""
        rows = torch.repeat_interleave(torch.arange(len(self)), self._label_offsets.diff())
        table = torch.zeros(len(self), len(self.class_names), dtype=torch.float32)
        table[rows, self._label_flat] = 1.0
        return table

    def full_audio(self, index: int) -> Tensor:
        """The whole decoded clip ``index`` as float32 [T_i] at ``sample_rate``."""
        if self._flat is None and self.cache_audio:
            self.fill_cache()
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
        if self.infos[index] is not None:
            return self.infos[index].num_samples(self.sample_rate)
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
        sample = {"audio": self.window(index, generator), "label": int(self.labels[index]),
                  "index": int(index)}  # fmt: skip
        if self.multi_label:
            sample["labels"] = self.targets(index)
        return sample

    def window(self, index: int, generator: torch.Generator | None = None) -> Tensor:
        """float32 [clip_samples]: the crop of clip ``index`` (read alone when streaming)."""
        info = self.infos[index]
        if self.cache_audio:
            self.fill_cache()
        if self._flat is not None or info is None:
            return fit_length(self.full_audio(index), self.clip_samples, self.crop, generator)
        length = info.num_samples(self.sample_rate)
        if length < self.clip_samples:
            return fit_length(self.full_audio(index), self.clip_samples, self.crop, generator)
        start = crop_offset(length, self.clip_samples, self.crop, generator)
        wave = read_window(self.records[index].path, self.sample_rate, start, self.clip_samples,
                           info.sample_rate, info.frames)  # fmt: skip
        if wave.shape[-1] == self.clip_samples:
            return wave
        return fit_length(wave, self.clip_samples, "start")  # a rounding sample short

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
