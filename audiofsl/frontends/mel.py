"""Mel spectrograms and the DCT matrix of MFCCs: librosa's filterbank, torch's STFT."""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor, nn

MEL_SCALES = ("slaney", "htk")
MEL_NORMS = ("slaney", None)
PAD_MODES = ("constant", "reflect")


def mel_filterbank(
    sample_rate: int,
    n_fft: int,
    n_mels: int,
    f_min: float = 0.0,
    f_max: float | None = None,
    mel_scale: str = "slaney",
    mel_norm: str | None = "slaney",
) -> Tensor:
    """Triangular mel filters over the ``n_fft // 2 + 1`` bins of a real FFT (librosa's).

    Args:
        sample_rate: Sample rate of the audio in Hz.
        n_fft: FFT size.
        n_mels: Number of filters.
        f_min: Lower edge of the first filter in Hz.
        f_max: Upper edge of the last filter in Hz (None: ``sample_rate / 2``).
        mel_scale: ``"slaney"`` (linear below 1 kHz, logarithmic above) or ``"htk"``
            (``2595 log10(1 + f / 700)``).
        mel_norm: ``"slaney"`` (each triangle divided by its width in Hz, so that all have
            the same area) or None (triangles of peak 1).

    Returns:
        ``[n_mels, n_fft // 2 + 1]`` float32 filterbank.
    """
    if mel_scale not in MEL_SCALES:
        raise ValueError(f"mel_scale={mel_scale!r} is not supported; choose one of {MEL_SCALES}.")
    if mel_norm not in MEL_NORMS:
        raise ValueError(f"mel_norm={mel_norm!r} is not supported; choose one of {MEL_NORMS}.")
    upper = sample_rate / 2 if f_max is None else f_max
    if not 0 <= f_min < upper <= sample_rate / 2:
        raise ValueError(
            f"need 0 <= f_min < f_max <= sample_rate / 2 = {sample_rate / 2}, "
            f"got f_min={f_min}, f_max={f_max}."
        )
    import librosa.filters  # imports scipy.signal (about a second): only when a frontend is built

    filters = librosa.filters.mel(
        sr=sample_rate,
        n_fft=n_fft,
        n_mels=n_mels,
        fmin=f_min,
        fmax=f_max,
        htk=mel_scale == "htk",
        norm=mel_norm,
        dtype=np.float64,
    )
    return torch.from_numpy(filters).float()


def dct_matrix(n_coefficients: int, n_inputs: int) -> Tensor:
    """Orthonormal type-II DCT as a matrix: ``x @ dct_matrix(K, N)`` transforms ``x[..., N]``.

    ``y_k = sqrt(2 / N) * c_k * sum_n x_n cos(pi k (2n + 1) / (2N))`` with ``c_0 = 1 / sqrt(2)``
    and ``c_k = 1`` otherwise, the first ``K`` coefficients (``scipy.fft.dct(norm="ortho")``,
    which librosa's MFCCs use).

    Returns:
        ``[n_inputs, n_coefficients]`` float32 matrix.
    """
    n = torch.arange(n_inputs, dtype=torch.float64)
    k = torch.arange(n_coefficients, dtype=torch.float64)
    basis = torch.cos(math.pi / n_inputs * (n[:, None] + 0.5) * k[None, :])
    basis[:, 0] /= math.sqrt(2.0)
    return (basis * math.sqrt(2.0 / n_inputs)).float()


class MelSpectrogram(nn.Module):
    """Mel power (or magnitude) spectrogram, ``[B, T] -> [B, n_mels, T // hop_length + 1]``.

    ``|STFT|^power`` of centred frames (``n_fft // 2`` samples of padding each side), a
    periodic Hann window of ``win_length`` samples centred in each ``n_fft`` frame, projected
    on :func:`mel_filterbank`. The window and the filterbank are built once, here, and are
    not saved in checkpoints (they follow from the arguments).

    Args:
        sample_rate: Sample rate of the audio in Hz.
        n_fft: FFT size.
        hop_length: Hop between frames in samples.
        n_mels: Number of mel bins.
        win_length: Window length, ``<= n_fft`` (None: ``n_fft``).
        f_min: Lowest filterbank frequency in Hz.
        f_max: Highest filterbank frequency in Hz (None: Nyquist).
        power: Exponent of the magnitude (2.0 power, 1.0 magnitude).
        pad_mode: ``"constant"`` (zeros: clips of any length) or ``"reflect"``
            (needs ``T > n_fft // 2``).
        mel_scale: ``"slaney"`` or ``"htk"``.
        mel_norm: ``"slaney"`` or None.
    """

    def __init__(
        self,
        sample_rate: int,
        n_fft: int,
        hop_length: int,
        n_mels: int,
        win_length: int | None = None,
        f_min: float = 0.0,
        f_max: float | None = None,
        power: float = 2.0,
        pad_mode: str = "constant",
        mel_scale: str = "slaney",
        mel_norm: str | None = "slaney",
    ) -> None:
        super().__init__()
        win_length = n_fft if win_length is None else win_length
        if not 0 < win_length <= n_fft:
            raise ValueError(f"win_length must be in [1, n_fft={n_fft}], got {win_length}.")
        if pad_mode not in PAD_MODES:
            raise ValueError(f"pad_mode={pad_mode!r} is not supported; choose one of {PAD_MODES}.")
        self.n_fft = n_fft
        self.hop_length = hop_length
        self.win_length = win_length
        self.power = power
        self.pad_mode = pad_mode
        window = torch.hann_window(win_length, periodic=True)
        self.register_buffer("window", window, persistent=False)
        filterbank = mel_filterbank(sample_rate, n_fft, n_mels, f_min, f_max, mel_scale, mel_norm)
        self.register_buffer("filterbank", filterbank, persistent=False)

    def forward(self, waveform: Tensor) -> Tensor:
        """Mel spectrogram of a batch.

        Args:
            waveform: ``[B, T]`` (or ``[T]``) float32 waveform.

        Returns:
            ``[B, n_mels, T // hop_length + 1]`` (or ``[n_mels, L]``) float32.
        """
        stft = torch.stft(
            waveform,
            self.n_fft,
            self.hop_length,
            self.win_length,
            self.window,
            center=True,
            pad_mode=self.pad_mode,
            return_complex=True,
        )  # [B, n_fft // 2 + 1, L]
        if self.power == 2.0:
            spectrogram = torch.view_as_real(stft).square().sum(-1)
        else:
            spectrogram = stft.abs().pow(self.power)
        return torch.matmul(self.filterbank, spectrogram)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs) -> None:
        # Checkpoints written when this module wrapped torchaudio's saved its window and
        # filterbank; both are rebuilt from the arguments now.
        for legacy in ("spectrogram.window", "mel_scale.fb"):
            state_dict.pop(prefix + legacy, None)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
