"""The training split's decoded audio held on the training device, cut into windows by index.

Streaming a training step means a DataLoader round trip: the items of a batch are cropped one by
one on the host, stacked and copied to the device. On a GPU that costs more than the step's
compute at few-shot sizes. A *resident* split is copied to the device once (int16 by default:
ESC-50's 2,000 clips of 5 s at 16 kHz take 320 MB); each batch then carries only dataset
indices and crop offsets, and :func:`with_resident_audio` gathers the windows on the device.

The batches are the streamed path's: the same batch sampler draws the same episodes or
mini-batches, and every crop offset comes from the same per-item seed through
:func:`~audiofsl.data.audio_io.crop_offset`, so with a float32 store the audio equals the streamed
audio exactly (int16 and bfloat16 stores round it).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor
from torch.utils.data import Dataset

from audiofsl.data.audio_io import crop_offset
from audiofsl.data.clips import ClipDataset
from audiofsl.samplers.collate import SOURCE_KEY  # the batch entry of the ResidentAudio

log = logging.getLogger(__name__)

#: Storage types of a resident split and the factor from [-1, 1] audio to stored values.
RESIDENT_DTYPES = {"int16": (torch.int16, 32768.0), "bfloat16": (torch.bfloat16, 1.0),
                   "float32": (torch.float32, 1.0)}  # fmt: skip
#: ``data.loader.resident`` values: "auto" (on CUDA when the split fits), always, never.
RESIDENT_MODES = ("auto", "always", "never")


class ResidentAudio:
    """Decoded clips in one flat tensor on a device, and the windows of a batch cut from it.

    Every window is one contiguous run of stored samples, so a batch's windows are a single
    gather of rows from an overlapping strided view (no per-sample index tensor): a clip
    shorter than the window is stored once more, followed by ``T - 1`` samples of its cyclic
    repetition, so that its loop-padded window starting at any phase is contiguous too.

    Args:
        flat: ``[S]`` every clip's samples, one after another, stored in ``dtype``.
        offsets: ``[N + 1]`` long start of each clip in ``flat`` (the last entry is ``S``).
        clip_samples: samples per window ``T``.
        scale: stored value of full-scale audio (32768 for int16, else 1).
    """

    def __init__(self, flat: Tensor, offsets: Tensor, clip_samples: int, scale: float) -> None:
        if flat.dim() != 1 or offsets.dim() != 1 or int(offsets[-1]) != flat.numel():
            raise ValueError("ResidentAudio: flat must be [S] and offsets [N + 1] ending at S.")
        lengths = offsets.diff()
        if bool((lengths < 1).any()):
            raise ValueError("ResidentAudio: every clip needs at least one sample.")
        self.clip_samples, self.scale = int(clip_samples), float(scale)
        self.lengths = lengths
        self.flat, self.window_base = _with_cyclic_copies(flat, offsets, self.clip_samples)
        self._copies: dict[torch.device, ResidentAudio] = {flat.device: self}

    @classmethod
    def from_dataset(cls, dataset: ClipDataset, dtype: str = "int16") -> ResidentAudio:
        """The decoded clips of a cached dataset (:meth:`ClipDataset.fill_cache`), on the CPU."""
        if dtype not in RESIDENT_DTYPES:
            raise ValueError(
                f"data.loader.resident_dtype={dtype!r}: one of {list(RESIDENT_DTYPES)}."
            )
        dataset.fill_cache()
        if not dataset.cached:
            raise ValueError("ResidentAudio needs the decoded clips in RAM (data.loader.cache_mb).")
        torch_dtype, scale = RESIDENT_DTYPES[dtype]
        flat = dataset._flat
        if torch_dtype == torch.int16:
            flat = (flat * scale).round_().clamp_(-32768, 32767)
        return cls(flat.to(torch_dtype), dataset._offsets, dataset.clip_samples, scale)

    @staticmethod
    def nbytes_of(dataset: ClipDataset, dtype: str) -> int:
        """Bytes a resident copy of ``dataset`` would take (short clips' copies included)."""
        window = dataset.clip_samples
        samples = 0
        for i in range(len(dataset)):
            length = dataset.num_samples(i)
            samples += length if length >= window else 2 * length + window - 1
        return samples * RESIDENT_DTYPES[dtype][0].itemsize

    @property
    def device(self) -> torch.device:
        return self.flat.device

    def to(self, device: torch.device | str, non_blocking: bool = False, **_: Any) -> ResidentAudio:
        """This audio on ``device``: copied the first time, then the same object every batch."""
        device = torch.device(device)
        if device.type == "cuda" and device.index is None:
            device = torch.device("cuda", torch.cuda.current_device())
        if device not in self._copies:
            copy = object.__new__(ResidentAudio)
            copy.clip_samples, copy.scale = self.clip_samples, self.scale
            copy.lengths = self.lengths.to(device)
            copy.flat = self.flat.to(device, non_blocking=non_blocking)
            copy.window_base = self.window_base.to(device)
            copy._copies = self._copies
            self._copies[device] = copy
        return self._copies[device]

    def windows(self, index: Tensor, offset: Tensor) -> Tensor:
        """The windows of a batch, as :func:`~audiofsl.data.audio_io.fit_length` cuts them.

        Row ``b`` holds clip ``index[b]``'s samples ``(offset[b] + i) mod length``,
        ``i = 0 .. T - 1``: a plain crop of a long clip, the cyclic loop-padding of a short one.

        Args:
            index: ``[B]`` long dataset indices.
            offset: ``[B]`` long crop offsets (:func:`~audiofsl.data.audio_io.crop_offset`:
                below ``length - T + 1`` for a long clip, below ``length`` for a short one).

        Returns:
            float32 ``[B, T]`` on this audio's device.
        """
        starts = self.window_base[index.to(self.device)] + offset.to(self.device)
        rows = self.flat.as_strided((self.flat.numel() - self.clip_samples + 1, self.clip_samples),
                                    (1, 1))  # every window of the store, overlapping  # fmt: skip
        audio = rows[starts].to(torch.float32)
        return audio / self.scale if self.scale != 1.0 else audio


def _with_cyclic_copies(flat: Tensor, offsets: Tensor, window: int) -> tuple[Tensor, Tensor]:
    """Append, for every clip shorter than ``window``, the clip followed by ``window - 1``
    samples of its cyclic repetition.

    Returns:
        the store ``[S']`` and each clip's window base ``[N]`` (where its windows start: its
        own samples for a long clip, its extended copy for a short one).
    """
    lengths = offsets.diff()
    base = offsets[:-1].clone()
    short = torch.nonzero(lengths < window).squeeze(1)
    if short.numel() == 0:
        return flat, base
    extended = lengths[short] + window - 1
    starts = torch.cumsum(extended, 0) - extended
    position = torch.arange(int(extended.sum()), device=flat.device)
    position -= starts.repeat_interleave(extended)
    source = offsets[short].repeat_interleave(extended)
    source += position % lengths[short].repeat_interleave(extended)
    base[short] = flat.numel() + starts
    return torch.cat([flat, flat[source]]), base


class ResidentItems(Dataset):
    """A training dataset's items without their audio: index, labels and crop offset.

    Takes what the streamed dataset takes (an index, or ``(index, crop_seed)`` from
    :class:`~audiofsl.samplers.WithCropSeeds`) and draws the crop offset from the same seed.
    Items hold ``crop_offset`` and the :class:`ResidentAudio` under :data:`SOURCE_KEY`
    instead of ``audio``; loaders of these items run in the main process.
    """

    def __init__(self, dataset: ClipDataset, audio: ResidentAudio) -> None:
        self.dataset, self.audio = dataset, audio

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, item: int | tuple[int, int]) -> dict:
        index, generator = item, None
        if isinstance(item, tuple):
            index, crop_seed = item
            generator = torch.Generator().manual_seed(int(crop_seed))
        length = int(self.audio.lengths[index])  # the decoded clip's, as the streamed path
        offset = crop_offset(length, self.audio.clip_samples, self.dataset.crop, generator)
        sample = {"label": int(self.dataset.labels[index]), "index": int(index),
                  "crop_offset": offset, SOURCE_KEY: self.audio}  # fmt: skip
        if self.dataset.multi_label:
            sample["labels"] = self.dataset.targets(index)
        return sample


def stack_resident(items: Sequence[dict]) -> dict:
    """Collate :class:`ResidentItems` items: ``index``, ``label``, ``crop_offset`` [B] long,
    ``labels`` [B, C] when multi-label, and the shared audio under :data:`SOURCE_KEY`."""
    batch = {key: torch.tensor([int(item[key]) for item in items], dtype=torch.long)
             for key in ("index", "label", "crop_offset")}  # fmt: skip
    if "labels" in items[0]:
        batch["labels"] = torch.stack([item["labels"] for item in items])
    batch[SOURCE_KEY] = items[0][SOURCE_KEY]
    return batch


def with_resident_audio(batch: Any) -> Any:
    """Give a batch of resident items its ``audio`` [B, T] (cut on the audio's device); any
    other batch is returned as it is."""
    if isinstance(batch, dict) and SOURCE_KEY in batch:
        audio = batch.pop(SOURCE_KEY)
        batch["audio"] = audio.windows(batch["index"], batch.pop("crop_offset"))
    return batch


def use_resident(
    dataset: ClipDataset, mode: str, dtype: str, fraction: float, device: torch.device | None
) -> bool:
    """Whether to train from a resident copy of ``dataset`` on ``device``.

    ``always``: yes (the decoded clips must fit the RAM cache). ``never``: no. ``auto``: on a
    CUDA device, when the clips are cached in RAM and their resident copy takes at most
    ``fraction`` of the device's memory; the choice is logged.
    """
    if mode not in RESIDENT_MODES:
        raise ValueError(f"data.loader.resident={mode!r}: one of {RESIDENT_MODES}.")
    if mode == "never":
        return False
    if mode == "always":
        if not dataset.cache_audio:
            raise ValueError(
                "data.loader.resident=always needs the training clips decoded in RAM, but they "
                "do not fit data.loader.cache_mb; raise cache_mb or set resident=auto."
            )
        return True
    if device is None or device.type != "cuda" or not dataset.cache_audio:
        return False
    need = ResidentAudio.nbytes_of(dataset, dtype)
    total = torch.cuda.get_device_properties(device).total_memory
    fits = need <= fraction * total
    log.info(
        "training clips %s on %s: %.0f MB as %s, %s %.0f%% of its %.1f GB "
        "(data.loader.resident_fraction)",
        "resident" if fits else "streamed", device, need / 2**20, dtype,
        "within" if fits else "over", 100 * fraction, total / 2**30,
    )  # fmt: skip
    return fits
