"""Mel-frequency cepstral coefficient frontend."""

from __future__ import annotations

import torch
from torch import Tensor

from audiofsl.frontends.base import Frontend
from audiofsl.frontends.logmel import LogMel
from audiofsl.frontends.mel import dct_matrix


class MFCC(Frontend):
    """MFCCs, ``[B, T] -> [B, 1, n_mfcc, L]``.

    The orthonormal type-II DCT of the log-mel spectrogram (Davis & Mermelstein, 1980),
    computed like librosa's ``feature.mfcc`` (``top_db=80`` by default) but with the dB clamp
    applied per example rather than across the batch. Computed in float32, also under
    autocast.

    Args:
        sample_rate: Sample rate of the input waveform in Hz.
        n_mfcc: Number of coefficients kept (``n_features``); at most ``n_mels``.
        n_fft: FFT size.
        hop_length: Hop between frames in samples.
        n_mels: Number of mel bins before the DCT.
        top_db: Per-example dynamic range clamp of the log-mel spectrogram, or None.
        normalization: ``"none"``, ``"per_example"`` or ``"global"``.
    """

    def __init__(
        self,
        sample_rate: int = 16000,
        n_mfcc: int = 40,
        n_fft: int = 1024,
        hop_length: int = 512,
        n_mels: int = 128,
        top_db: float | None = 80.0,
        normalization: str = "none",
    ) -> None:
        super().__init__(normalization)
        if not 0 < n_mfcc <= n_mels:
            raise ValueError(f"n_mfcc must be in [1, n_mels={n_mels}], got {n_mfcc}.")
        self.log_mel = LogMel(
            sample_rate=sample_rate,
            n_fft=n_fft,
            hop_length=hop_length,
            n_mels=n_mels,
            top_db=top_db,
        )
        self.sample_rate = sample_rate
        self.n_features = n_mfcc
        self.out_channels = 1
        self.register_buffer("dct", dct_matrix(n_mfcc, n_mels))  # [n_mels, n_mfcc]

    def compute_features(self, waveform: Tensor) -> Tensor:
        """Unnormalised MFCCs.

        Args:
            waveform: ``[B, T]`` float waveform.

        Returns:
            ``[B, 1, n_mfcc, T // hop_length + 1]`` float32 MFCCs.
        """
        log_mel = self.log_mel.compute_features(waveform)
        with torch.autocast(device_type=waveform.device.type, enabled=False):
            return torch.matmul(log_mel.transpose(-2, -1), self.dct.float()).transpose(-2, -1)
