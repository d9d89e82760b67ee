"""CLAR's three-channel time-frequency frontend: log magnitude, phase and log-mel."""

from __future__ import annotations

import math

import torch
from torch import Tensor
from torch.nn import functional as F

from audiofsl.frontends.base import Frontend
from audiofsl.frontends.logmel import _check_positive
from audiofsl.frontends.mel import PAD_MODES, MelSpectrogram


def log_spaced_frequencies(f_min: float, f_max: float, n_bins: int) -> Tensor:
    """Geometric grid ``f_k = f_min * (f_max / f_min) ** (k / n_bins)``, ``k = 0..n_bins-1``.

    Starts at ``f_min`` and stops one step short of ``f_max``, like the log-frequency STFT of
    CLAR's released code.

    Returns:
        ``[n_bins]`` float64 frequencies in Hz.
    """
    steps = torch.arange(n_bins, dtype=torch.float64) / n_bins
    return f_min * (f_max / f_min) ** steps


class CLARSpectrogram(Frontend):
    """CLAR's stacked time-frequency features, ``[B, T] -> [B, 3, n_bins, L]``.

    CLAR (Al-Tahan & Mohsenzadeh, "CLAR: Contrastive Learning of Auditory Representations",
    AISTATS 2021, Sec. 3.1 and Fig. 1) stacks three features in the channel dimension:

    0. log magnitude of the STFT, ``20 * log10(max(|X|, amin))`` (= ``10 log10 |X|^2``);
    1. phase of the STFT, ``angle(X)`` in ``(-pi, pi]``;
    2. log-mel power spectrogram, ``10 * log10(max(mel, amin))``.

    **Sharing F.** The paper only gives the ``3 x F x T`` stack. The authors' released code
    (github.com/haideraltahan/CLAR, ``main_supervised.py``) makes the three the same height by
    not taking the FFT's ``n_fft // 2 + 1`` linear bins at all: the STFT is evaluated
    directly at ``n_bins = 128`` log-spaced frequencies from 40 Hz to 8 kHz (the nnAudio
    ``STFT(freq_bins=128, freq_scale="log", fmin=40, fmax=8000)`` layer: one windowed complex
    exponential per frequency, at non-integer DFT bins), i.e.
    ``X[k, m] = sum_n w[n] x[m * hop + n] exp(-2 pi i f_k n / sample_rate)`` with ``f_k``
    from :func:`log_spaced_frequencies`. The mel channel uses the same FFT size, hop, band
    and number of bins (Slaney mel scale with area normalisation, librosa's defaults). So
    no bin is resampled or cropped, and ``n_features = n_bins``. The same code also fixes
    the other values used here: ``n_fft = 2048`` (Hann window of that length), hop 128
    (8 ms at 16 kHz), ``amin = 1e-5``; its constant dB offsets (-20 dB and -10 dB) are left
    out. The paper's text speaks of 16 ms windows: ``win_length=256`` gives that.

    Frames are centred (``n_fft // 2`` samples of padding each side), so
    ``L = T // hop_length + 1``; ``pad_mode="constant"`` (zeros, like the library's other
    frontends) works for clips of any length, ``"reflect"`` (the authors' choice) needs
    ``T > n_fft // 2``. Always computed in float32, also under autocast.

    Args:
        sample_rate: Sample rate of the input waveform in Hz.
        n_fft: Frame length of the STFT and of the mel spectrogram's FFT.
        hop_length: Hop between frames in samples.
        n_bins: STFT frequencies and mel bins (``n_features``).
        f_min: Lowest frequency in Hz (first STFT frequency, mel filterbank's lower edge).
        f_max: Highest frequency in Hz (mel filterbank's upper edge, STFT grid's limit).
        win_length: Hann window length, ``<= n_fft``, centred in the frame (None: ``n_fft``).
        amin: Floor on magnitude and mel power before the logarithm.
        pad_mode: ``"constant"`` or ``"reflect"`` padding of the centred frames.
        normalization: ``"none"``, ``"per_example"`` or ``"global"``.
    """

    def __init__(
        self,
        sample_rate: int = 16000,
        n_fft: int = 2048,
        hop_length: int = 128,
        n_bins: int = 128,
        f_min: float = 40.0,
        f_max: float = 8000.0,
        win_length: int | None = None,
        amin: float = 1e-5,
        pad_mode: str = "constant",
        normalization: str = "none",
    ) -> None:
        super().__init__(normalization)
        _check_positive(sample_rate=sample_rate, n_fft=n_fft, hop_length=hop_length)
        _check_positive(n_bins=n_bins, f_min=f_min, amin=amin)
        if not f_min < f_max <= sample_rate / 2:
            raise ValueError(
                f"need 0 < f_min < f_max <= sample_rate / 2 = {sample_rate / 2}, "
                f"got f_min={f_min}, f_max={f_max}."
            )
        win_length = n_fft if win_length is None else win_length
        if not 0 < win_length <= n_fft:
            raise ValueError(f"win_length must be in [1, n_fft={n_fft}], got {win_length}.")
        if pad_mode not in PAD_MODES:
            raise ValueError(f"pad_mode={pad_mode!r} is not supported; choose one of {PAD_MODES}.")
        self.sample_rate = sample_rate
        self.n_fft = n_fft
        self.hop_length = hop_length
        self.amin = amin
        self.pad_mode = pad_mode
        self.out_channels = 3
        self.n_features = n_bins
        frequencies = log_spaced_frequencies(f_min, f_max, n_bins)
        #: ``[n_bins]`` frequencies (Hz) of the STFT rows.
        self.register_buffer("frequencies", frequencies.float(), persistent=False)
        kernels = self._fourier_kernels(frequencies, win_length)
        self.register_buffer("kernels", kernels, persistent=False)
        self.mel = MelSpectrogram(
            sample_rate=sample_rate,
            n_fft=n_fft,
            hop_length=hop_length,
            n_mels=n_bins,
            win_length=win_length,
            f_min=f_min,
            f_max=f_max,
            pad_mode=pad_mode,
        )

    def _fourier_kernels(self, frequencies: Tensor, win_length: int) -> Tensor:
        """Windowed cosines then sines at ``frequencies``, ``[2 * n_bins, 1, n_fft]``."""
        window = torch.hann_window(win_length, periodic=True, dtype=torch.float64)
        left = (self.n_fft - win_length) // 2
        window = F.pad(window, (left, self.n_fft - win_length - left))
        time = torch.arange(self.n_fft, dtype=torch.float64) / self.sample_rate
        angle = 2 * math.pi * frequencies[:, None] * time[None, :]  # [n_bins, n_fft]
        kernels = torch.cat([torch.cos(angle), torch.sin(angle)]) * window
        return kernels.unsqueeze(1).float()

    def compute_features(self, waveform: Tensor) -> Tensor:
        """Unnormalised CLAR features.

        Args:
            waveform: ``[B, T]`` float waveform.

        Returns:
            ``[B, 3, n_bins, T // hop_length + 1]`` float32: log magnitude (dB), phase
            (radians), log-mel (dB).
        """
        with torch.autocast(device_type=waveform.device.type, enabled=False):
            audio = waveform.float()
            padded = F.pad(audio[:, None], (self.n_fft // 2, self.n_fft // 2), self.pad_mode)
            projections = F.conv1d(padded, self.kernels.float(), stride=self.hop_length)
            real, sine = projections.chunk(2, dim=1)  # X = real - i * sine
            magnitude = 20.0 * torch.log10(torch.hypot(real, sine).clamp_min(self.amin))
            phase = torch.atan2(-sine, real)
            mel = 10.0 * torch.log10(self.mel(audio).clamp_min(self.amin))
        return torch.stack([magnitude, phase, mel], dim=1)
