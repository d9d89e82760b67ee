"""Convolution with impulse responses (rooms, devices) read from a folder."""

from __future__ import annotations

import os

import torch
from torch import Tensor

from audiofsl.augmentations.base import Params, WaveformAugmentation, rms
from audiofsl.augmentations.sources import load_clips, pad_stack
from audiofsl.augmentations.spectral import fast_fft_length


def fft_convolve(audio: Tensor, responses: Tensor, index: Tensor | None = None) -> Tensor:
    """Linear convolution of each row with its own impulse response, by FFT, cut to ``T``.

    Args:
        audio: ``[N, T]`` waveforms.
        responses: ``[N, L]`` impulse responses, or ``[R, L]`` with ``index``.
        index: ``[N]`` row of ``responses`` for each waveform (None: row ``i`` for ``i``). The
            spectra of the ``R`` responses are computed once when ``R < N``.

    Returns:
        ``[N, T]``: the first ``T`` samples of ``audio[i] * h_i`` (full convolution).
    """
    length = audio.shape[-1]
    n_fft = fast_fft_length(length + responses.shape[-1] - 1)
    if index is not None and responses.shape[0] >= index.numel():
        responses, index = responses[index], None
    response_spectra = torch.fft.rfft(responses, n=n_fft)
    if index is not None:
        response_spectra = response_spectra[index]
    spectrum = torch.fft.rfft(audio, n=n_fft).mul_(response_spectra)
    return torch.fft.irfft(spectrum, n=n_fft)[:, :length]


class ImpulseResponse(WaveformAugmentation):
    """Convolves each example with an impulse response drawn from a folder.

    Every audio file under ``folder`` (wav, flac, ogg, mp3; sub-folders included) is decoded
    once, at construction, to mono at ``sample_rate`` and kept as a zero-padded ``[N, L]``
    buffer that moves with the module but is not saved in checkpoints. Each example draws a
    response uniformly; the convolution is done for the whole batch at once by FFT (the
    spectrum of each response once per call when there are fewer responses than examples) and the
    result keeps the first ``T`` samples (the reverberant tail past the clip's end is cut).
    With ``normalize`` the result is rescaled to the input's RMS; with ``compensate_delay``
    each response starts at its largest-magnitude sample (the direct sound), so the
    convolved clip is not delayed. Parameters: ``response`` ``[B]`` long.

    Args:
        folder: Folder of impulse-response files.
        sample_rate: Sample rate of the audio in Hz (the responses are resampled to it).
        normalize: Keep each example's RMS.
        compensate_delay: Drop the samples before each response's peak.
        p: Probability that an example is transformed.
    """

    def __init__(
        self,
        folder: str | os.PathLike,
        sample_rate: int,
        normalize: bool = True,
        compensate_delay: bool = False,
        p: float = 0.5,
    ) -> None:
        super().__init__(p)
        clips = load_clips(folder, sample_rate, "ImpulseResponse")
        if compensate_delay:
            clips = [clip[int(clip.abs().argmax()) :] for clip in clips]
        responses, _ = pad_stack(clips)
        self.register_buffer("responses", responses, persistent=False)
        self.folder = str(folder)
        self.sample_rate = int(sample_rate)
        self.normalize = bool(normalize)
        self.compensate_delay = bool(compensate_delay)

    def sample_params(self, batch_size: int, length: int, device: torch.device) -> Params:
        return {"response": torch.randint(self.responses.shape[0], (batch_size,), device=device)}

    def apply_params(self, audio: Tensor, params: Params) -> Tensor:
        responses = self.responses.to(audio.device, audio.dtype)
        out = fft_convolve(audio, responses, params["response"])
        if self.normalize:
            tiny = torch.finfo(out.dtype).tiny
            out = out * (rms(audio) / rms(out).clamp_min(tiny))
        return out

    def extra_repr(self) -> str:
        return (
            f"folder={self.folder!r}, responses={self.responses.shape[0]}, "
            f"sample_rate={self.sample_rate}, normalize={self.normalize}, "
            f"compensate_delay={self.compensate_delay}, p={self.p}"
        )
