"""The input features of pretrained audio models (AST, Whisper, CLAP), batched on the device.

transformers' feature extractors take a list of numpy waveforms and loop over the examples on
the CPU. The modules here compute the same tensors from a ``[B, T]`` waveform on its device,
with every step batched, so that an encoder can go from the waveform to its model's input
without a round trip through numpy. Each is built from an extractor instance with
``from_extractor`` (the settings a checkpoint's ``preprocessor_config.json`` gives are its
attributes) and needs only torch: transformers is not imported here.

Features are computed in float32 (float64 when the waveform is float64), also under autocast.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

#: Kaldi's log floor: the float32 machine epsilon.
KALDI_LOG_FLOOR = float(torch.finfo(torch.float32).eps)


def _compute_dtype(waveform: Tensor, owner: str) -> torch.dtype:
    if waveform.dim() != 2:
        raise ValueError(
            f"{owner} expects waveforms [B, T] (mono, at the model's sampling rate); "
            f"got shape {tuple(waveform.shape)}."
        )
    if waveform.shape[-1] == 0:
        raise ValueError(f"{owner} got empty waveforms (T = 0).")
    return torch.float64 if waveform.dtype == torch.float64 else torch.float32


def _as_float_tensor(array: Any) -> Tensor:
    return torch.as_tensor(array, dtype=torch.float64).float()


def kaldi_mel_banks(
    num_bins: int, n_fft: int, sampling_rate: float, low_freq: float, high_freq: float
) -> Tensor:
    """Kaldi's mel filterbank ``[n_fft // 2 + 1, num_bins]`` (float64).

    Mel scale ``1127 ln(1 + f / 700)``; ``num_bins + 2`` edges equally spaced in mel from
    ``low_freq`` to ``high_freq`` (``high_freq <= 0`` counts from the Nyquist frequency); the
    triangles are linear in mel, evaluated at the FFT bins ``k * sampling_rate / n_fft``. The
    Nyquist bin gets no weight (Kaldi uses the ``n_fft // 2`` bins below it).
    """
    nyquist = 0.5 * sampling_rate
    if high_freq <= 0.0:
        high_freq += nyquist
    if not 0.0 <= low_freq < high_freq <= nyquist:
        raise ValueError(
            f"kaldi_mel_banks: need 0 <= low_freq < high_freq <= Nyquist ({nyquist} Hz), "
            f"got low_freq={low_freq}, high_freq={high_freq}."
        )

    def mel(freq: Tensor) -> Tensor:
        return 1127.0 * torch.log1p(freq / 700.0)

    edges = torch.linspace(
        float(mel(torch.tensor(low_freq, dtype=torch.float64))),
        float(mel(torch.tensor(high_freq, dtype=torch.float64))),
        num_bins + 2,
        dtype=torch.float64,
    )
    left, centre, right = edges[:-2], edges[1:-1], edges[2:]
    bin_mel = mel(torch.arange(n_fft // 2 + 1, dtype=torch.float64) * sampling_rate / n_fft)
    up = (bin_mel[:, None] - left) / (centre - left)
    down = (right - bin_mel[:, None]) / (right - centre)
    banks = torch.minimum(up, down).clamp_min(0.0)
    banks[-1] = 0.0
    return banks


class ASTFeatures(nn.Module):
    """``ASTFeatureExtractor`` on the device: Kaldi fbank, ``[B, T] -> [B, max_length, n_mels]``.

    Kaldi's ``fbank`` with the settings AST uses (both of the extractor's paths,
    torchaudio's ``compliance.kaldi.fbank`` and the numpy one, compute it): frames of 25 ms
    every 10 ms without centre padding (``1 + (T - 400) // 160`` frames at 16 kHz; none when
    ``T`` is shorter than a frame), per-frame DC removal, pre-emphasis
    ``x[n] - 0.97 x[n - 1]`` (``x[-1] = x[0]``), a symmetric Hann window (or Povey's),
    zero padding to the next power of two (512), the power spectrum, Kaldi's mel filterbank
    (20 Hz to Nyquist) and ``log(max(mel, eps))`` with eps the float32 epsilon. The frames are
    then cut or zero-padded to ``max_length`` and, with ``do_normalize``, mapped to
    ``(x - mean) / (2 * std)`` (the padding included, as the extractor does).

    Args:
        sampling_rate: the waveform's rate in Hz (16000 for the published checkpoints).
        num_mel_bins: mel bins.
        max_length: frames in the output.
        do_normalize: apply ``(x - mean) / (2 * std)``.
        mean: the dataset mean of the log-mel features (AudioSet's by default).
        std: the dataset standard deviation (AudioSet's by default).
        window_type: ``"hanning"`` (what AST uses) or ``"povey"`` (Kaldi's default).
        preemphasis: the pre-emphasis coefficient.
        low_freq: the lowest mel edge in Hz.
        high_freq: the highest mel edge in Hz (``<= 0``: offset from the Nyquist frequency).
    """

    def __init__(
        self,
        sampling_rate: int = 16000,
        num_mel_bins: int = 128,
        max_length: int = 1024,
        do_normalize: bool = True,
        mean: float = -4.2677393,
        std: float = 4.5689974,
        window_type: str = "hanning",
        preemphasis: float = 0.97,
        low_freq: float = 20.0,
        high_freq: float = 0.0,
    ) -> None:
        super().__init__()
        if window_type not in ("hanning", "povey"):
            raise ValueError(f"ASTFeatures: window_type={window_type!r}; use 'hanning' or 'povey'.")
        if max_length < 1 or num_mel_bins < 1:
            raise ValueError(
                f"ASTFeatures: max_length={max_length} and num_mel_bins={num_mel_bins} must be "
                f">= 1."
            )
        self.sampling_rate = int(sampling_rate)
        self.num_mel_bins = int(num_mel_bins)
        self.max_length = int(max_length)
        self.do_normalize = bool(do_normalize)
        self.mean, self.std = float(mean), float(std)
        self.preemphasis = float(preemphasis)
        # Kaldi's frame settings: 25 ms windows every 10 ms, the FFT on the next power of two.
        self.frame_length = int(self.sampling_rate * 0.025)
        self.hop_length = int(self.sampling_rate * 0.010)
        self.n_fft = 1 << max(self.frame_length - 1, 1).bit_length()
        window = torch.hann_window(self.frame_length, periodic=False, dtype=torch.float64)
        if window_type == "povey":
            window = window.pow(0.85)
        banks = kaldi_mel_banks(num_mel_bins, self.n_fft, self.sampling_rate, low_freq, high_freq)
        self.register_buffer("window", window.float(), persistent=False)
        self.register_buffer("mel_filters", banks.float(), persistent=False)

    @classmethod
    def from_extractor(cls, extractor: Any) -> ASTFeatures:
        """Built from a ``transformers.ASTFeatureExtractor`` (its settings, not its arrays)."""
        return cls(
            sampling_rate=extractor.sampling_rate,
            num_mel_bins=extractor.num_mel_bins,
            max_length=extractor.max_length,
            do_normalize=extractor.do_normalize,
            mean=extractor.mean,
            std=extractor.std,
        )

    def extra_repr(self) -> str:
        return (
            f"sampling_rate={self.sampling_rate}, num_mel_bins={self.num_mel_bins}, "
            f"max_length={self.max_length}, do_normalize={self.do_normalize}"
        )

    def forward(self, waveform: Tensor) -> Tensor:
        """Args: waveform ``[B, T]``. Returns: ``[B, max_length, num_mel_bins]``."""
        dtype = _compute_dtype(waveform, type(self).__name__)
        batch, length = waveform.shape
        available = (length - self.frame_length) // self.hop_length + 1  # Kaldi's snip_edges
        frames = max(0, min(available, self.max_length))
        with torch.autocast(device_type=waveform.device.type, enabled=False):
            x = waveform.to(dtype)
            if frames > 0:
                # Only the samples the kept frames cover are framed.
                x = x[:, : (frames - 1) * self.hop_length + self.frame_length]
                x = x.unfold(-1, self.frame_length, self.hop_length)  # [B, frames, L]
                x = x - x.mean(dim=-1, keepdim=True)
                previous = torch.cat([x[..., :1], x[..., :-1]], dim=-1)
                x = (x - self.preemphasis * previous) * self.window.to(dtype)
                power = torch.fft.rfft(x, n=self.n_fft).abs().pow(2)
                fbank = torch.log(
                    torch.matmul(power, self.mel_filters.to(dtype)).clamp_min(KALDI_LOG_FLOOR)
                )
            else:
                fbank = x.new_zeros(batch, 0, self.num_mel_bins)
            fbank = F.pad(fbank, (0, 0, 0, self.max_length - frames))
            if self.do_normalize:
                fbank = (fbank - self.mean) / (2.0 * self.std)
        return fbank


class WhisperFeatures(nn.Module):
    """``WhisperFeatureExtractor`` on the device, ``[B, T] -> [B, feature_size, nb_max_frames]``.

    The waveform is cut or right-padded (with ``padding_value``) to ``n_samples``
    (``chunk_length`` seconds); with ``do_normalize`` its unpadded part is first shifted to
    zero mean and scaled by ``sqrt(var + 1e-7)``, the padding set to ``padding_value``. Then a
    centred STFT (reflect padding, periodic Hann window of ``n_fft``, hop ``hop_length``) whose
    last frame is dropped, the power spectrum, the Slaney mel filterbank
    (``extractor.mel_filters``), ``log10(max(mel, 1e-10))``, a floor at each example's maximum
    minus 8 and ``(x + 4) / 4``.

    Args:
        mel_filters: ``[n_fft // 2 + 1, feature_size]`` filterbank (the extractor's).
        sampling_rate: the waveform's rate in Hz.
        n_fft: the STFT size.
        hop_length: the STFT hop.
        chunk_length: seconds the waveform is cut or padded to.
        padding_value: value of the padding samples.
        do_normalize: zero-mean unit-variance normalisation of the waveform (the extractor's
            ``do_normalize`` call argument; off by default, as there).
        dither: standard deviation of Gaussian noise added to the padded waveform (random, as
            in the extractor; 0 turns it off).
    """

    def __init__(
        self,
        mel_filters: Tensor | Any,
        sampling_rate: int = 16000,
        n_fft: int = 400,
        hop_length: int = 160,
        chunk_length: int = 30,
        padding_value: float = 0.0,
        do_normalize: bool = False,
        dither: float = 0.0,
    ) -> None:
        super().__init__()
        mel_filters = _as_float_tensor(mel_filters)
        if mel_filters.dim() != 2 or mel_filters.shape[0] != n_fft // 2 + 1:
            raise ValueError(
                f"WhisperFeatures: mel_filters must be [n_fft // 2 + 1 = {n_fft // 2 + 1}, "
                f"n_mels], got {tuple(mel_filters.shape)}."
            )
        self.sampling_rate = int(sampling_rate)
        self.n_fft, self.hop_length = int(n_fft), int(hop_length)
        self.n_samples = int(chunk_length * sampling_rate)
        self.nb_max_frames = self.n_samples // self.hop_length
        self.feature_size = mel_filters.shape[1]
        self.padding_value = float(padding_value)
        self.do_normalize = bool(do_normalize)
        self.dither = float(dither)
        self.register_buffer("window", torch.hann_window(self.n_fft), persistent=False)
        self.register_buffer("mel_filters", mel_filters, persistent=False)

    @classmethod
    def from_extractor(cls, extractor: Any, do_normalize: bool | None = None) -> WhisperFeatures:
        """Built from a ``transformers.WhisperFeatureExtractor``.

        Args:
            extractor: the extractor; its ``mel_filters`` array is copied.
            do_normalize: the extractor's call argument of that name (None: the extractor's
                ``do_normalize`` attribute if its config sets one, else False).
        """
        padding_side = getattr(extractor, "padding_side", "right")
        if padding_side != "right":
            raise ValueError(
                f"WhisperFeatures pads on the right; the extractor has "
                f"padding_side={padding_side!r}."
            )
        if do_normalize is None:
            do_normalize = bool(getattr(extractor, "do_normalize", False))
        return cls(
            extractor.mel_filters,
            sampling_rate=extractor.sampling_rate,
            n_fft=extractor.n_fft,
            hop_length=extractor.hop_length,
            chunk_length=extractor.chunk_length,
            padding_value=extractor.padding_value,
            do_normalize=do_normalize,
            dither=getattr(extractor, "dither", 0.0),
        )

    def extra_repr(self) -> str:
        return (
            f"sampling_rate={self.sampling_rate}, feature_size={self.feature_size}, "
            f"n_samples={self.n_samples}, do_normalize={self.do_normalize}"
        )

    def forward(self, waveform: Tensor) -> Tensor:
        """Args: waveform ``[B, T]``. Returns: ``[B, feature_size, nb_max_frames]``."""
        dtype = _compute_dtype(waveform, type(self).__name__)
        length = min(waveform.shape[-1], self.n_samples)
        with torch.autocast(device_type=waveform.device.type, enabled=False):
            x = waveform[:, :length].to(dtype)
            if self.do_normalize:
                var, mean = torch.var_mean(x, dim=-1, correction=0, keepdim=True)
                x = (x - mean) / torch.sqrt(var + 1e-7)
            x = F.pad(x, (0, self.n_samples - length), value=self.padding_value)
            if self.dither != 0.0:
                x = x + self.dither * torch.randn_like(x)
            stft = torch.stft(
                x,
                self.n_fft,
                self.hop_length,
                window=self.window.to(dtype),
                center=True,
                pad_mode="reflect",
                return_complex=True,
            )
            power = stft[..., :-1].abs().pow(2)  # [B, n_fft // 2 + 1, nb_max_frames]
            mel = torch.matmul(self.mel_filters.to(dtype).T, power)
            log_spec = mel.clamp_min(1e-10).log10()
            peak = log_spec.amax(dim=(-2, -1), keepdim=True)
            log_spec = torch.maximum(log_spec, peak - 8.0)
        return (log_spec + 4.0) / 4.0


class ClapFeatures(nn.Module):
    """``ClapFeatureExtractor`` (``truncation="rand_trunc"``) on the device,
    ``[B, T] -> [B, 1, frames, feature_size]`` with ``frames = max_samples // hop_length + 1``.

    A waveform shorter than ``max_samples`` (``max_length_s`` seconds) is filled up as
    ``padding`` says: ``"repeatpad"`` repeats it ``max_samples // T`` times and zero-pads the
    rest, ``"repeat"`` repeats it until it is cut at ``max_samples``, ``"pad"`` zero-pads it. A
    longer one is cropped to ``max_samples``: the extractor picks the crop's start at random
    (uniformly); here ``crop`` decides, ``"start"`` (the default, deterministic), ``"center"``
    or ``"random"`` (the extractor's distribution, an offset per example). Then a centred STFT
    (reflect padding, periodic Hann window of ``fft_window_size``, hop ``hop_length``), the
    power spectrum, the extractor's Slaney filterbank (``mel_filters_slaney``),
    ``max(mel, 1e-10)`` and ``10 * log10`` (reference 1, no dynamic-range clip: the extractor
    does not pass its ``top_db`` on).

    The "fusion" truncation (the fused checkpoints) stacks random crops and needs the model's
    ``is_longer`` flags chosen at random for short batches; it is not supported.

    Args:
        mel_filters: ``[fft_window_size // 2 + 1, feature_size]`` filterbank.
        sampling_rate: the waveform's rate in Hz.
        hop_length: the STFT hop.
        fft_window_size: the STFT size.
        max_length_s: seconds of the model's input.
        padding: ``"repeatpad"``, ``"repeat"`` or ``"pad"``.
        crop: where longer waveforms are cropped: ``"start"``, ``"center"`` or ``"random"``.
    """

    PADDINGS = ("repeatpad", "repeat", "pad")
    CROPS = ("start", "center", "random")

    def __init__(
        self,
        mel_filters: Tensor | Any,
        sampling_rate: int = 48000,
        hop_length: int = 480,
        fft_window_size: int = 1024,
        max_length_s: float = 10,
        padding: str = "repeatpad",
        crop: str = "start",
    ) -> None:
        super().__init__()
        if padding not in self.PADDINGS:
            raise ValueError(f"ClapFeatures: padding={padding!r}; choose one of {self.PADDINGS}.")
        if crop not in self.CROPS:
            raise ValueError(f"ClapFeatures: crop={crop!r}; choose one of {self.CROPS}.")
        mel_filters = _as_float_tensor(mel_filters)
        if mel_filters.dim() != 2 or mel_filters.shape[0] != fft_window_size // 2 + 1:
            raise ValueError(
                f"ClapFeatures: mel_filters must be [fft_window_size // 2 + 1 = "
                f"{fft_window_size // 2 + 1}, n_mels], got {tuple(mel_filters.shape)}."
            )
        self.sampling_rate = int(sampling_rate)
        self.hop_length, self.n_fft = int(hop_length), int(fft_window_size)
        self.max_samples = int(max_length_s * sampling_rate)
        self.num_frames = self.max_samples // self.hop_length + 1
        self.feature_size = mel_filters.shape[1]
        self.padding, self.crop = padding, crop
        self.register_buffer("window", torch.hann_window(self.n_fft), persistent=False)
        self.register_buffer("mel_filters", mel_filters, persistent=False)

    @classmethod
    def from_extractor(cls, extractor: Any, crop: str = "start") -> ClapFeatures:
        """Built from a ``transformers.ClapFeatureExtractor`` with ``truncation="rand_trunc"``
        (laion/clap-htsat-unfused); its ``mel_filters_slaney`` array is copied."""
        if extractor.truncation != "rand_trunc":
            raise ValueError(
                f"ClapFeatures supports the extractor setting truncation='rand_trunc' (the unfused "
                f"checkpoints, e.g. laion/clap-htsat-unfused); this extractor has "
                f"truncation={extractor.truncation!r}, whose crops and is_longer flags are random: "
                f"use the transformers extractor for it."
            )
        return cls(
            extractor.mel_filters_slaney,
            sampling_rate=extractor.sampling_rate,
            hop_length=extractor.hop_length,
            fft_window_size=extractor.fft_window_size,
            max_length_s=extractor.max_length_s,
            padding=extractor.padding,
            crop=crop,
        )

    def extra_repr(self) -> str:
        return (
            f"sampling_rate={self.sampling_rate}, feature_size={self.feature_size}, "
            f"max_samples={self.max_samples}, padding={self.padding!r}, crop={self.crop!r}"
        )

    def is_longer(self, waveform: Tensor) -> Tensor:
        """The extractor's ``is_longer`` ``[B, 1]`` (bool): the waveform exceeds the model's
        length (the unfused model ignores it)."""
        longer = waveform.shape[-1] > self.max_samples
        return torch.full((waveform.shape[0], 1), longer, dtype=torch.bool, device=waveform.device)

    def fit_length(self, waveform: Tensor) -> Tensor:
        """``[B, T] -> [B, max_samples]``: the padding or crop described in the class."""
        batch, length = waveform.shape
        if length > self.max_samples:
            overflow = length - self.max_samples
            if self.crop == "random":
                starts = torch.randint(0, overflow + 1, (batch, 1), device=waveform.device)
                index = starts + torch.arange(self.max_samples, device=waveform.device)
                return torch.gather(waveform, 1, index)
            start = 0 if self.crop == "start" else overflow // 2
            return waveform[:, start : start + self.max_samples]
        if length < self.max_samples:
            repeats = self.max_samples // length
            if self.padding == "repeat":
                waveform = waveform.repeat(1, repeats + 1)[:, : self.max_samples]
            elif self.padding == "repeatpad":
                waveform = waveform.repeat(1, repeats)
            waveform = F.pad(waveform, (0, self.max_samples - waveform.shape[-1]))
        return waveform

    def forward(self, waveform: Tensor) -> Tensor:
        """Args: waveform ``[B, T]``. Returns: ``[B, 1, frames, feature_size]`` (dB)."""
        dtype = _compute_dtype(waveform, type(self).__name__)
        with torch.autocast(device_type=waveform.device.type, enabled=False):
            x = self.fit_length(waveform.to(dtype))
            stft = torch.stft(
                x,
                self.n_fft,
                self.hop_length,
                window=self.window.to(dtype),
                center=True,
                pad_mode="reflect",
                return_complex=True,
            )
            power = stft.abs().pow(2).transpose(-1, -2)  # [B, frames, n_fft // 2 + 1]
            mel = torch.matmul(power, self.mel_filters.to(dtype)).clamp_min(1e-10)
            db = 10.0 * torch.log10(mel)
        return db.unsqueeze(1)


__all__ = ["ASTFeatures", "ClapFeatures", "WhisperFeatures", "kaldi_mel_banks"]
