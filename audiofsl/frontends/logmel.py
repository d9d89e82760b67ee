"""Log-mel spectrogram frontend."""

from __future__ import annotations

import torch
from torch import Tensor

from audiofsl.frontends.base import Frontend
from audiofsl.frontends.mel import MelSpectrogram


def power_to_db(
    spectrogram: Tensor,
    power: float = 2.0,
    amin: float = 1e-10,
    top_db: float | None = None,
    log_floor: str = "clamp",
) -> Tensor:
    """Converts a magnitude/power spectrogram to decibels, per example.

    ``db = 20 / power * log10(max(S, amin))`` so that ``power=2`` (power spectrogram) and
    ``power=1`` (magnitude) give the same decibel scale; ``log_floor="add"`` gives
    ``20 / power * log10(S + amin)`` instead. With ``top_db`` each spectrogram is
    clamped from below at its own ``max - top_db`` (librosa's ``power_to_db`` behaviour), so
    one loud example never changes another one in the batch.

    Args:
        spectrogram: ``[..., F, L]`` non-negative spectrogram.
        power: Exponent the magnitude was raised to.
        amin: Floor applied before the logarithm (or offset added, see ``log_floor``).
        top_db: Dynamic range kept per spectrogram in dB, or None for no clamp.
        log_floor: ``"clamp"`` (``max(S, amin)``) or ``"add"`` (``S + amin``).

    Returns:
        ``[..., F, L]`` spectrogram in dB.
    """
    db = (20.0 / power) * torch.log10(_floored(spectrogram, amin, log_floor))
    if top_db is not None:
        peak = db.amax(dim=(-2, -1), keepdim=True)
        db = torch.maximum(db, peak - top_db)
    return db


LOG_SCALES = ("db", "log")
LOG_FLOORS = ("clamp", "add")


def _floored(spectrogram: Tensor, amin: float, log_floor: str) -> Tensor:
    if log_floor not in LOG_FLOORS:
        raise ValueError(f"log_floor={log_floor!r} is not supported; choose one of {LOG_FLOORS}.")
    return spectrogram.clamp_min(amin) if log_floor == "clamp" else spectrogram + amin


def standardize_waveform(waveform: Tensor) -> Tensor:
    """Each row shifted to zero mean and scaled to unit (population) standard deviation.

    A silent row (standard deviation 0) is only centred.

    Args:
        waveform: ``[B, T]`` float waveform.

    Returns:
        ``[B, T]`` standardised waveform.
    """
    std, mean = torch.std_mean(waveform, dim=-1, correction=0, keepdim=True)
    return (waveform - mean) / torch.where(std > 0, std, torch.ones_like(std))


class LogMel(Frontend):
    """Log-mel spectrogram, ``[B, T] -> [B, 1, n_mels, L]``.

    Defaults follow the MetaAudio benchmark (Heggan et al., 2022): 16 kHz audio,
    ``n_fft=1024``, ``hop_length=512``, 128 mel bins, power spectrogram converted to dB.
    The mel filterbank is librosa's, with the Slaney scale and area normalisation (librosa's
    defaults, which MetaAudio's preprocessing used). Frames are centred with zero padding, so
    ``L = T // hop_length + 1`` and clips of any length work. The spectrogram is always
    computed in float32, also under autocast.

    ``scale="log"`` gives ``log(max(mel, amin))`` (natural log) instead of decibels, and
    ``win_length`` a Hann window shorter than ``n_fft`` (zero-padded to ``n_fft`` and centred
    in the frame). Together with an HTK filterbank without normalisation they give COLA's
    features (Saeed, Grangier & Zeghidour, ICASSP 2021): 25 ms window (``win_length=400``),
    10 ms hop, 64 bins over 60-7800 Hz, magnitude, ``log(max(mel, 1e-5))``
    (``conf/frontend/cola_logmel.yaml``).

    MetaAudio's preprocessing, which the prototypical contrastive learning reference
    (Sgouropoulos et al., 2025) trains on, standardises each clip's waveform and takes
    ``10 log10(mel + 2.22e-16)``: ``standardize_waveform=True, amin=2.220446049250313e-16,
    log_floor="add"`` reproduce it (``tests/test_reference_parity.py``). The floor matters on
    clips with digital silence (many ESC-50 clips end in it): those frames sit at -156.5 dB
    there, at -100 dB with the default ``amin=1e-10`` clamp. The reference's on-the-fly path
    (torchaudio's ``MelSpectrogram``) is ``mel_scale="htk", mel_norm=None, pad_mode="reflect",
    amin=1.1920929e-07, log_floor="add"``.

    Args:
        sample_rate: Sample rate of the input waveform in Hz.
        n_fft: FFT size (and window length unless ``win_length`` is given).
        hop_length: Hop between frames in samples.
        n_mels: Number of mel bins (``n_features``).
        power: Exponent of the magnitude (2.0 power, 1.0 magnitude).
        top_db: Per-example dynamic range clamp in dB, or None (``scale="db"`` only).
        normalization: ``"none"``, ``"per_example"`` or ``"global"``.
        f_min: Lowest filterbank frequency in Hz.
        f_max: Highest filterbank frequency in Hz (None: Nyquist).
        amin: Floor on the spectrogram before the logarithm.
        win_length: Hann window length in samples, ``<= n_fft`` (None: ``n_fft``).
        scale: ``"db"`` (decibels, see :func:`power_to_db`) or ``"log"``
            (``log(max(mel, amin))``, natural log).
        mel_scale: ``"slaney"`` or ``"htk"`` mel scale of the filterbank.
        mel_norm: ``"slaney"`` (area normalisation) or None (triangles of peak 1).
        pad_mode: Padding of the centred frames: ``"constant"`` (zeros; clips of any length)
            or ``"reflect"`` (torchaudio's default; needs ``T > n_fft // 2``).
        log_floor: ``"clamp"`` (``log(max(mel, amin))``, librosa's ``power_to_db``) or
            ``"add"`` (``log(mel + amin)``, MetaAudio's preprocessing).
        standardize_waveform: Scale each waveform (each row of the batch: the whole clip of a
            fixed-length set, each window of long clips) to zero mean and unit standard
            deviation before the STFT, as MetaAudio's preprocessing does per clip.
    """

    def __init__(
        self,
        sample_rate: int = 16000,
        n_fft: int = 1024,
        hop_length: int = 512,
        n_mels: int = 128,
        power: float = 2.0,
        top_db: float | None = None,
        normalization: str = "none",
        f_min: float = 0.0,
        f_max: float | None = None,
        amin: float = 1e-10,
        win_length: int | None = None,
        scale: str = "db",
        mel_scale: str = "slaney",
        mel_norm: str | None = "slaney",
        pad_mode: str = "constant",
        log_floor: str = "clamp",
        standardize_waveform: bool = False,
    ) -> None:
        super().__init__(normalization)
        _check_positive(sample_rate=sample_rate, n_fft=n_fft, hop_length=hop_length)
        _check_positive(n_mels=n_mels, power=power, amin=amin)
        if top_db is not None and top_db <= 0:
            raise ValueError(f"top_db must be positive or None, got {top_db}.")
        if scale not in LOG_SCALES:
            raise ValueError(f"scale={scale!r} is not supported; choose one of {LOG_SCALES}.")
        if scale == "log" and top_db is not None:
            raise ValueError("top_db is a decibel range; use it with scale='db' only.")
        if log_floor not in LOG_FLOORS:
            raise ValueError(
                f"log_floor={log_floor!r} is not supported; choose one of {LOG_FLOORS}."
            )
        self.sample_rate = sample_rate
        self.scale = scale
        self.power = power
        self.top_db = top_db
        self.amin = amin
        self.log_floor = log_floor
        self.standardize_waveform = standardize_waveform
        self.n_features = n_mels
        self.out_channels = 1
        self.mel = MelSpectrogram(
            sample_rate=sample_rate,
            n_fft=n_fft,
            hop_length=hop_length,
            n_mels=n_mels,
            win_length=win_length,
            f_min=f_min,
            f_max=f_max,
            power=power,
            mel_scale=mel_scale,
            mel_norm=mel_norm,
            pad_mode=pad_mode,
        )

    def compute_features(self, waveform: Tensor) -> Tensor:
        """Unnormalised log-mel features.

        Args:
            waveform: ``[B, T]`` float waveform.

        Returns:
            ``[B, 1, n_mels, T // hop_length + 1]`` float32 log-mel spectrogram (dB, or
            natural log with ``scale="log"``).
        """
        with torch.autocast(device_type=waveform.device.type, enabled=False):
            waveform = waveform.float()
            if self.standardize_waveform:
                waveform = standardize_waveform(waveform)
            mel = self.mel(waveform)
            if self.scale == "log":
                return torch.log(_floored(mel, self.amin, self.log_floor)).unsqueeze(1)
            db = power_to_db(
                mel, self.power, self.amin, top_db=self.top_db, log_floor=self.log_floor
            )
        return db.unsqueeze(1)


def _check_positive(**values: float) -> None:
    for name, value in values.items():
        if value <= 0:
            raise ValueError(f"{name} must be positive, got {value}.")
