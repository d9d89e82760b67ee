"""FFT helpers shared by the filters, the noise, the convolution and the phase vocoder."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor


def fast_fft_length(n: int) -> int:
    """Smallest ``2^a * 3^b * 5^c >= n`` (lengths whose FFTs are fast).

    Args:
        n: Minimum length (>= 1).

    Returns:
        The FFT length.
    """
    best = 1 << max(n - 1, 0).bit_length()  # the next power of two is always a candidate
    power5 = 1
    while power5 < best:
        power35 = power5
        while power35 < best:
            candidate = power35
            while candidate < n:
                candidate *= 2
            best = min(best, candidate)
            power35 *= 3
        power5 *= 5
    return best


def filter_in_frequency(
    audio: Tensor, response: Callable[[Tensor], Tensor], sample_rate: float, pad: int
) -> Tensor:
    """Multiplies each row's spectrum by a real, per-row frequency response (zero phase).

    The clip is zero-padded by at least ``pad`` samples before the FFT so that the filter's
    (two-sided) impulse response does not wrap from one end of the clip to the other.

    Args:
        audio: ``[N, T]`` float waveforms.
        response: Maps the bin frequencies ``[F]`` (Hz) to gains ``[N, F]``.
        sample_rate: Sample rate in Hz.
        pad: Minimum number of zeros appended before the FFT.

    Returns:
        ``[N, T]`` filtered waveforms.
    """
    length = audio.shape[-1]
    n_fft = fast_fft_length(length + pad)
    spectrum = torch.fft.rfft(audio, n=n_fft)
    freqs = torch.fft.rfftfreq(n_fft, d=1.0 / sample_rate, device=audio.device, dtype=audio.dtype)
    return torch.fft.irfft(spectrum * response(freqs), n=n_fft)[:, :length]


def inverse_stft(spec: Tensor, n_fft: int, hop_length: int, window: Tensor, length: int) -> Tensor:
    """Inverse of a centred ``torch.stft``: windowed overlap-add divided by the window power.

    Gives the result of ``torch.istft(..., center=True, length=length)``; when ``hop_length``
    divides ``n_fft`` the overlap-add is ``n_fft / hop_length`` shifted additions of frame
    blocks (faster on CPUs than the general one of ``torch.istft``, used otherwise).

    Args:
        spec: ``[N, F, M]`` complex STFT, ideally a transposed view of a ``[N, M, F]`` tensor.
        n_fft: FFT size.
        hop_length: Hop in samples.
        window: ``[n_fft]`` analysis window.
        length: Number of samples returned.

    Returns:
        ``[N, length]`` waveforms.
    """
    if n_fft % hop_length:
        return torch.istft(spec, n_fft, hop_length, window=window, center=True, length=length)
    n_rows, _, n_frames = spec.shape
    blocks = n_fft // hop_length
    frames = torch.fft.irfft(spec.transpose(1, 2), n=n_fft).mul_(window)  # [N, M, n_fft]
    frames = frames.view(n_rows, n_frames, blocks, hop_length)
    out = frames.new_zeros(n_rows, n_frames + blocks - 1, hop_length)
    power = window.square().view(blocks, hop_length)
    envelope = power.new_zeros(n_frames + blocks - 1, hop_length)
    for block in range(blocks):
        out[:, block : block + n_frames] += frames[:, :, block]
        envelope[block : block + n_frames] += power[block]
    start = n_fft // 2  # centred frames: the signal starts half a window in
    out = out.view(n_rows, -1)[:, start : start + length]
    envelope = envelope.view(-1)[start : start + length]
    if out.shape[-1] < length:
        out = torch.nn.functional.pad(out, (0, length - out.shape[-1]))
        envelope = torch.nn.functional.pad(envelope, (0, length - envelope.shape[-1]), value=1.0)
    return out / envelope.clamp_min(1e-11)
