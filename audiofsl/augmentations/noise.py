"""Additive noise at a per-example signal-to-noise ratio: coloured noise, background clips."""

from __future__ import annotations

import os

import torch
from torch import Tensor

from audiofsl.augmentations.base import Params, WaveformAugmentation, check_range, rms, uniform
from audiofsl.augmentations.sources import load_clips

#: Spectral decay ``d`` of the named noise colours: power spectral density ``∝ f^-d``.
NOISE_COLORS = {"violet": -2.0, "blue": -1.0, "white": 0.0, "pink": 1.0, "brown": 2.0}


def colored_noise(decay: Tensor, length: int) -> Tensor:
    """Gaussian noise whose power spectral density falls as ``f^-decay``, one row per decay.

    The noise is drawn directly in the rFFT domain, where white Gaussian noise has independent
    complex Gaussian bins: bin ``k >= 1`` is scaled by ``k^(-decay / 2)`` (amplitude, hence
    ``k^-decay`` in power), the DC bin is removed, one inverse FFT gives the waveform and each
    row is scaled to unit RMS. The noise is periodic over the clip.

    Args:
        decay: ``[N]`` spectral decays (0 white, 1 pink, 2 brown, -1 blue, -2 violet).
        length: Number of samples ``T``.

    Returns:
        ``[N, T]`` noise of ``decay``'s dtype and device, RMS 1 per row.
    """
    n_bins = length // 2 + 1
    spectrum = torch.randn(decay.shape[0], n_bins, 2, device=decay.device, dtype=decay.dtype)
    log_bins = torch.log(torch.arange(n_bins, device=decay.device, dtype=decay.dtype))
    weights = torch.exp(-0.5 * decay[:, None] * log_bins)  # bin 0: exp(-inf) or exp(nan)
    weights[:, 0] = 0.0
    spectrum.mul_(weights[..., None])
    noise = torch.fft.irfft(torch.view_as_complex(spectrum), n=length)
    return noise.mul_(rms(noise).clamp_min(torch.finfo(noise.dtype).tiny).reciprocal())


def add_at_snr(audio: Tensor, noise: Tensor, snr_db: Tensor) -> Tensor:
    """Adds noise scaled so that ``10 log10(P_audio / P_noise) = snr_db`` per row.

    Args:
        audio: ``[N, T]`` waveforms.
        noise: ``[N, T]`` noise (a silent row adds nothing).
        snr_db: ``[N]`` signal-to-noise ratios in dB.

    Returns:
        ``[N, T]`` noisy waveforms (a silent ``audio`` row stays silent).
    """
    tiny = torch.finfo(audio.dtype).tiny
    target = rms(audio) * torch.pow(10.0, -snr_db.to(audio.dtype) / 20.0)[:, None]
    return torch.addcmul(audio, noise, target / rms(noise).clamp_min(tiny))


class ColoredNoise(WaveformAugmentation):
    """Adds Gaussian noise of a per-example colour at a per-example SNR.

    The SNR is uniform in ``[min_snr_db, max_snr_db]`` (relative to the example's own power;
    a silent example stays silent) and the spectral decay ``d`` (power ``∝ f^-d``) uniform in
    ``[min_decay, max_decay]``, or fixed by ``color``: white 0, pink 1, brown 2, blue -1,
    violet -2. The noise is white noise shaped in the rFFT domain (:func:`colored_noise`),
    batched. Parameters: ``snr_db``, ``decay`` ``[B]``.

    Args:
        min_snr_db: Lowest SNR in dB.
        max_snr_db: Highest SNR in dB.
        color: A name of ``NOISE_COLORS``; leave the decays unset when giving it.
        min_decay: Lowest spectral decay (default 0: white).
        max_decay: Highest spectral decay (default ``min_decay``).
        p: Probability that an example is transformed.
    """

    def __init__(
        self,
        min_snr_db: float = 3.0,
        max_snr_db: float = 30.0,
        color: str | None = None,
        min_decay: float | None = None,
        max_decay: float | None = None,
        p: float = 0.5,
    ) -> None:
        super().__init__(p)
        check_range(self, "snr_db", min_snr_db, max_snr_db)
        if color is not None:
            if color not in NOISE_COLORS:
                raise ValueError(
                    f"ColoredNoise color={color!r} must be one of {list(NOISE_COLORS)}."
                )
            if min_decay is not None or max_decay is not None:
                raise ValueError(
                    f"ColoredNoise color={color!r} fixes the decay; leave min_decay and "
                    "max_decay unset, or give the decay range without a color."
                )
            min_decay = max_decay = NOISE_COLORS[color]
        min_decay = 0.0 if min_decay is None else float(min_decay)
        max_decay = min_decay if max_decay is None else float(max_decay)
        check_range(self, "decay", min_decay, max_decay)
        self.min_snr_db = float(min_snr_db)
        self.max_snr_db = float(max_snr_db)
        self.min_decay = min_decay
        self.max_decay = max_decay

    def sample_params(self, batch_size: int, length: int, device: torch.device) -> Params:
        return {
            "snr_db": uniform(batch_size, self.min_snr_db, self.max_snr_db, device),
            "decay": uniform(batch_size, self.min_decay, self.max_decay, device),
        }

    def apply_params(self, audio: Tensor, params: Params) -> Tensor:
        noise = colored_noise(params["decay"].to(audio.dtype), audio.shape[-1])
        return add_at_snr(audio, noise, params["snr_db"])

    def extra_repr(self) -> str:
        return (
            f"min_snr_db={self.min_snr_db}, max_snr_db={self.max_snr_db}, "
            f"min_decay={self.min_decay}, max_decay={self.max_decay}, p={self.p}"
        )


class BackgroundNoise(WaveformAugmentation):
    """Mixes in a random excerpt of a noise clip from a folder at a per-example SNR.

    Every audio file under ``folder`` (wav, flac, ogg, mp3; sub-folders included) is decoded
    once, at construction, to mono at ``sample_rate`` and kept in memory as one concatenated
    buffer that moves with the module (``.to(device)``) but is not saved in checkpoints. Each
    example draws a clip uniformly, a start offset uniformly inside that clip and an SNR
    uniform in ``[min_snr_db, max_snr_db]``; a clip shorter than the example is looped. The
    excerpts are read with one ``gather``. Parameters: ``clip``, ``offset`` ``[B]`` long,
    ``snr_db`` ``[B]``.

    Args:
        folder: Folder of noise clips.
        sample_rate: Sample rate of the audio in Hz (the clips are resampled to it).
        min_snr_db: Lowest SNR in dB.
        max_snr_db: Highest SNR in dB.
        p: Probability that an example is transformed.
    """

    def __init__(
        self,
        folder: str | os.PathLike,
        sample_rate: int,
        min_snr_db: float = 3.0,
        max_snr_db: float = 30.0,
        p: float = 0.5,
    ) -> None:
        super().__init__(p)
        check_range(self, "snr_db", min_snr_db, max_snr_db)
        clips = load_clips(folder, sample_rate, "BackgroundNoise")
        lengths = torch.tensor([clip.numel() for clip in clips], dtype=torch.long)
        self.register_buffer("clips", torch.cat(clips), persistent=False)
        self.register_buffer("lengths", lengths, persistent=False)
        self.register_buffer("starts", lengths.cumsum(0) - lengths, persistent=False)
        self.folder = str(folder)
        self.sample_rate = int(sample_rate)
        self.min_snr_db = float(min_snr_db)
        self.max_snr_db = float(max_snr_db)

    def sample_params(self, batch_size: int, length: int, device: torch.device) -> Params:
        lengths = self.lengths.to(device)
        clip = torch.randint(lengths.numel(), (batch_size,), device=device)
        offset = (torch.rand(batch_size, device=device) * lengths[clip]).long()
        snr_db = uniform(batch_size, self.min_snr_db, self.max_snr_db, device)
        return {"clip": clip, "offset": offset, "snr_db": snr_db}

    def excerpts(self, clip: Tensor, offset: Tensor, length: int) -> Tensor:
        """Noise excerpts, looped where a clip is short.

        Args:
            clip: ``[N]`` clip indices.
            offset: ``[N]`` start offsets inside the clips.
            length: Number of samples ``T``.

        Returns:
            ``[N, T]`` float32 excerpts.
        """
        device = clip.device
        # int32 index arithmetic (much faster modulo) whenever the buffer allows it
        dtype = torch.int32 if self.clips.numel() + length < 2**31 else torch.long
        lengths = self.lengths.to(device, dtype)[clip, None]
        position = offset.to(dtype)[:, None] + torch.arange(length, device=device, dtype=dtype)
        position = position.remainder_(lengths).add_(self.starts.to(device, dtype)[clip, None])
        return self.clips.to(device).index_select(0, position.view(-1)).view(-1, length)

    def apply_params(self, audio: Tensor, params: Params) -> Tensor:
        noise = self.excerpts(params["clip"], params["offset"], audio.shape[-1])
        return add_at_snr(audio, noise.to(audio.dtype), params["snr_db"])

    def extra_repr(self) -> str:
        return (
            f"folder={self.folder!r}, clips={self.lengths.numel()}, sample_rate="
            f"{self.sample_rate}, min_snr_db={self.min_snr_db}, max_snr_db={self.max_snr_db}, "
            f"p={self.p}"
        )
