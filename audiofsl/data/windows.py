"""Variable-length clips cut into fixed windows: every window of every clip is one item."""

from __future__ import annotations

import math

import torch
from torch import Tensor
from torch.utils.data import Dataset

from audiofsl.data.audio_io import display_path
from audiofsl.data.clips import ClipDataset

__all__ = ["WindowDataset", "cut_windows", "loop_window", "loop_windows", "window_starts"]


def window_starts(n_samples: int, window: int, hop: int) -> list[int]:
    """Start samples of the windows that cut a clip: 0, hop, 2 * hop, ...

    A clip no longer than the window gives one window (loop-padded to the window's length);
    a longer one gives ``1 + ceil((n_samples - window) / hop)`` windows, the fewest whose last
    one reaches the clip's end, so that the windows cover every sample. That last window may run
    past the end; its missing samples are taken from the clip's beginning (see
    :func:`loop_window`).

    Args:
        n_samples: clip length in samples, >= 1.
        window: window length in samples, >= 1.
        hop: samples between the starts of consecutive windows, in 1..window (a larger hop
            would skip samples, and its last window could start past the clip's end).

    Returns:
        The start sample of each window, ascending.
    """
    for name, value in (("n_samples", n_samples), ("window", window), ("hop", hop)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"window_starts: {name}={value!r} must be a positive integer.")
    if hop > window:
        raise ValueError(
            f"window_starts: hop={hop} exceeds the window of {window} samples; windows must "
            "overlap or touch to cover the clip."
        )
    if n_samples <= window:
        return [0]
    n_windows = 1 + math.ceil((n_samples - window) / hop)
    return [k * hop for k in range(n_windows)]


def loop_window(wave: Tensor, start: int, window: int) -> Tensor:
    """Samples ``wave[(start + i) % T]`` for ``i`` in ``0..window-1``: the clip is looped.

    The same looping as :func:`audiofsl.data.audio_io.fit_length` (never stretching), from any
    start: a window running past the end continues with the clip's first samples.

    Args:
        wave: [T] waveform, T >= 1.
        start: first sample of the window.
        window: window length in samples.

    Returns:
        [window] new tensor, same dtype and device.
    """
    length = wave.shape[-1]
    if length == 0:
        raise ValueError("loop_window: the waveform is empty; there is nothing to cut.")
    index = (torch.arange(window, device=wave.device) + start) % length
    return wave.index_select(-1, index)


def cut_windows(wave: Tensor, window: int, hop: int) -> Tensor:
    """Every window of a waveform, as evaluation cuts a clip (:class:`WindowDataset`).

    Windows start every ``hop`` samples (:func:`~audiofsl.data.windows.window_starts`): one
    window for a clip no longer than ``window``, else the fewest that cover every sample; short
    clips and a last window running past the end are loop-padded (:func:`loop_windows`).

    Args:
        wave: ``[T]`` waveform, T >= 1.
        window: window length in samples.
        hop: samples between window starts, in 1..window.

    Returns:
        ``[W, window]`` windows, same dtype and device as ``wave``.
    """
    if wave.dim() != 1 or wave.numel() == 0:
        raise ValueError(f"cut_windows: wave must be a non-empty [T] tensor, got {wave.shape}.")
    starts = torch.tensor(window_starts(wave.numel(), window, hop), device=wave.device)
    return loop_windows(wave, starts, window)


def loop_windows(wave: Tensor, starts: Tensor, window: int) -> Tensor:
    """Windows ``wave[(s + i) % T]``, ``i`` in ``0..window-1``, for each start ``s``, in one
    gather (the looping of :func:`~audiofsl.data.windows.loop_window`).

    Args:
        wave: ``[T]`` waveform, T >= 1.
        starts: ``[W]`` long start samples.
        window: window length in samples.

    Returns:
        ``[W, window]`` windows.
    """
    index = (starts[:, None] + torch.arange(window, device=wave.device)) % wave.numel()
    return wave[index]


class WindowDataset(Dataset):
    """Every window of every clip of a :class:`ClipDataset`, in clip order then time order.

    Each clip of the wrapped dataset is cut into windows of its ``clip_samples`` starting every
    ``hop`` samples (:func:`window_starts`; ``hop=None`` keeps one window per clip, its start,
    as the "start" crop does). Item ``k`` is ``{"audio": float32 [window], "label": int (the
    clip's label), "index": k, "segment": int (the clip's index)}``, plus the clip's float32 [C]
    multi-hot ``"labels"`` when the clips are multi-label; window sample ``i`` is
    ``wave[(start + i) % T]``, so a short clip or a last window running past the end is looped,
    never stretched. Lengths are read once here (:meth:`ClipDataset.num_samples`: from the
    cache, else from the file headers). An item reads its clip from the cache, or decodes it;
    the last decoded clip is kept, so that reading the windows in order decodes each file once
    per worker process.

    Group the windows of a clip at evaluation with
    ``audiofsl.evaluation.windows.window_table(dataset.clip_of_window, dataset.n_clips)``.

    Args:
        clips: the clips; their ``clip_samples`` is the window length.
        hop: samples between window starts, in 1..window, or None for one window per clip.

    Attributes:
        clip_of_window: [N_windows] long clip index of each window.
        start_of_window: [N_windows] long start sample of each window in its clip.
        labels: [n_clips] long class labels of the clips.
        n_clips: number of clips.
        window: window length in samples.
    """

    def __init__(self, clips: ClipDataset, hop: int | None = None) -> None:
        if hop is not None and (isinstance(hop, bool) or not isinstance(hop, int) or hop < 1):
            raise ValueError(
                f"WindowDataset: hop={hop!r} must be a positive number of samples or None."
            )
        self.window = clips.clip_samples
        if hop is not None and hop > self.window:
            raise ValueError(
                f"WindowDataset: hop={hop} exceeds the window of {self.window} samples "
                "(the clip length); windows must overlap or touch to cover a clip."
            )
        self.clips = clips
        self.hop = hop
        self.n_clips = len(clips)
        self.labels = clips.labels
        starts = [[0] for _ in range(self.n_clips)]
        if hop is not None:
            starts = [self._starts(index, hop) for index in range(self.n_clips)]
        counts = torch.tensor([len(s) for s in starts], dtype=torch.long)
        self.clip_of_window = torch.repeat_interleave(torch.arange(self.n_clips), counts)
        self.start_of_window = torch.tensor([s for clip in starts for s in clip], dtype=torch.long)
        self._decoded: tuple[int, Tensor] | None = None  # (clip, wave) last decoded

    def _starts(self, index: int, hop: int) -> list[int]:
        length = self.clips.num_samples(index)
        if length < 1:
            path = display_path(self.clips.records[index].path)
            raise ValueError(
                f"WindowDataset: clip {index} ('{path}') has no samples; leave it out "
                "(data.loader.min_clip_seconds) before cutting windows."
            )
        return window_starts(length, self.window, hop)

    @property
    def class_names(self) -> list[str]:
        """Class names, indexed by label."""
        return self.clips.class_names

    @property
    def sample_rate(self) -> int:
        """Sample rate of the audio in Hz."""
        return self.clips.sample_rate

    def _wave(self, clip: int) -> Tensor:
        if self.clips.cached:
            return self.clips.full_audio(clip)
        if self._decoded is None or self._decoded[0] != clip:
            self._decoded = (clip, self.clips.full_audio(clip))
        return self._decoded[1]

    def __len__(self) -> int:
        return int(self.clip_of_window.numel())

    def __getitem__(self, index: int) -> dict:
        clip = int(self.clip_of_window[index])
        start = int(self.start_of_window[index])
        audio = loop_window(self._wave(clip), start, self.window)
        item = {
            "audio": audio,
            "label": int(self.labels[clip]),
            "index": int(index),
            "segment": clip,
        }
        if self.clips.multi_label:
            item["labels"] = self.clips.targets(clip)
        return item

    def __repr__(self) -> str:
        return (
            f"WindowDataset({len(self)} windows of {self.window} samples, hop={self.hop}, "
            f"from {self.n_clips} clips at {self.sample_rate} Hz)"
        )
