"""Time stretch and pitch shift with a batched phase vocoder, per-example rates."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

from audiofsl.augmentations.base import Params, WaveformAugmentation, check_range, uniform
from audiofsl.augmentations.spectral import filter_in_frequency, inverse_stft

STRETCH_FILLS = ("zero", "loop")
#: Zeros appended before the anti-aliasing FFT filter of :class:`PitchShift`.
ANTIALIAS_PAD = 256
#: Energy ratio between consecutive STFT frames taken as an onset (6 dB): phase reset there.
ONSET_RATIO = 4.0


def phase_vocoder(
    spec: Tensor, positions: Tensor, hop_length: int, end: float | None = None
) -> Tensor:
    """Resamples a batch of STFTs along time at per-example fractional frame positions.

    Output frame ``m`` of row ``i`` takes the magnitude linearly interpolated between input
    frames ``floor(p)`` and ``floor(p) + 1`` at ``p = positions[i, m]``; its phase is the
    previous output frame's phase plus the phase advance measured between the input frames
    that the previous output frame read (the classic phase vocoder: Flanagan & Golden, 1966;
    Laroche & Dolson, 1999). To keep transients sharp, the phase is reset to the input's
    phase (of frame ``round(p)``) at the first output frame and whenever an onset was passed:
    an input frame whose energy exceeds ``ONSET_RATIO`` times that of the frame before (a
    simple form of the phase reset of Röbel, 2003). Batched: the computation runs on
    frame-major ``[N, L, F]`` tensors, picks whole frames with ``index_select`` and sums
    phase advances with ``cumsum``; there is no loop.

    Args:
        spec: ``[N, F, L]`` complex STFT (``L >= 2`` frames, one-sided), as ``torch.stft``
            returns it.
        positions: ``[N, M]`` non-negative frame positions read by the output frames.
        hop_length: Hop of the STFT in samples.
        end: Output frames reading past this frame position are silent (None: none are).

    Returns:
        ``[N, F, M]`` complex STFT (a transposed view of a frame-major tensor, as
        ``torch.istft`` takes it).
    """
    n_rows, n_bins, n_frames = spec.shape
    n_out = positions.shape[1]
    frames = spec.transpose(1, 2)  # [N, L, F]: contiguous for torch.stft's output
    real, imag = torch.view_as_real(frames).movedim(-1, 0).contiguous()  # faster maths
    magnitude, phase = torch.hypot(real, imag), torch.atan2(imag, real)
    # advances[:, j] = phase[:, j] - phase[:, j - 1]; advances[:, 0] = 0 (before frame 0)
    advances = torch.empty_like(phase)
    advances[:, 0] = 0.0
    torch.sub(phase[:, 1:], phase[:, :-1], out=advances[:, 1:])
    rows = torch.arange(n_rows, device=spec.device)[:, None]

    def pick(table: Tensor, index: Tensor) -> Tensor:
        """Frames ``index`` ``[N, M]`` of a frame-major ``[N, K, F]`` table -> ``[N, M, F]``."""
        flat_index = (index + rows * table.shape[1]).reshape(-1)
        return table.reshape(-1, n_bins).index_select(0, flat_index).view(n_rows, -1, n_bins)

    first = positions.floor().long().clamp(0, n_frames - 2)  # [N, M]
    weight = (positions - first).clamp(0.0, 1.0).to(magnitude.dtype)[..., None]
    out_magnitude = torch.lerp(pick(magnitude, first), pick(magnitude, first + 1), weight)
    if end is not None:
        out_magnitude.mul_((positions <= end)[..., None])
    # the advance applied before output frame m is the one read by frame m - 1
    previous = torch.cat([torch.full_like(first[:, :1], -1), first[:, :-1]], dim=1) + 1
    before = pick(advances, previous).cumsum_(dim=1)  # phase accumulated up to frame m
    # phase resets: the last output frame (at or before m) that passed an input onset
    nearest = positions.round().long().clamp(0, n_frames - 1)  # [N, M]
    energy = torch.linalg.vector_norm(magnitude, dim=2)  # [N, L], root of the energy
    onset = torch.zeros_like(energy, dtype=torch.long)
    onset[:, 1:] = (energy[:, 1:] > math.sqrt(ONSET_RATIO) * energy[:, :-1]).long()
    passed = onset.cumsum(dim=1).gather(1, nearest)  # onsets up to each output frame
    reset = passed[:, 1:] != passed[:, :-1]  # at output frames 1, 2, ...
    if bool(reset.any()):
        out_frames = torch.arange(1, n_out, device=spec.device)
        last_reset = torch.where(reset, out_frames, 0).cummax(dim=1).values
        last_reset = torch.cat([torch.zeros_like(last_reset[:, :1]), last_reset], dim=1)
        anchor = pick(phase, nearest.gather(1, last_reset)) - pick(before, last_reset)
        out_phase = before.add_(anchor)  # input phase at the last reset + advances since
    else:  # no onset: only the first frame takes the input phase
        out_phase = before.add_(pick(phase, nearest[:, :1]))
    # magnitude * exp(i phase), written into one interleaved buffer (faster than torch.polar)
    out = torch.empty(*out_phase.shape, 2, device=spec.device, dtype=out_phase.dtype)
    torch.cos(out_phase, out=out[..., 0])
    torch.sin(out_phase, out=out[..., 1])
    out.mul_(out_magnitude[..., None])
    return torch.view_as_complex(out).transpose(1, 2)


def read_at_rate(audio: Tensor, rate: Tensor) -> Tensor:
    """Reads each row at ``rate`` times its speed: ``y[t] = x(rate * t)``, linear interpolation.

    Positions past the last sample read zeros. A rate of exactly 1 returns the row unchanged.

    Args:
        audio: ``[N, T]`` waveforms.
        rate: ``[N]`` positive reading rates.

    Returns:
        ``[N, T]`` resampled waveforms.
    """
    n_rows, length = audio.shape
    position = torch.arange(length, device=audio.device, dtype=audio.dtype) * rate[:, None]
    position.clamp_(max=length)  # past the end: reads the zeros appended below
    first = position.int()  # floor, positions are >= 0
    weight = position.sub_(first)
    flat = torch.nn.functional.pad(audio, (0, 2)).view(-1)  # rows of T + 2 samples
    rows = torch.arange(n_rows, device=audio.device, dtype=torch.int32)[:, None] * (length + 2)
    first = first.add_(rows).view(-1)
    low, high = flat.index_select(0, first), flat.index_select(0, first + 1)
    return torch.lerp(low, high, weight.view(-1)).view(n_rows, length)


class _PhaseVocoderAugmentation(WaveformAugmentation):
    """STFT settings and the shared stretch of :class:`TimeStretch` and :class:`PitchShift`."""

    def __init__(self, n_fft: int, hop_length: int | None, p: float) -> None:
        super().__init__(p)
        hop_length = n_fft // 4 if hop_length is None else hop_length
        if int(n_fft) != n_fft or n_fft < 4:
            raise ValueError(f"{type(self).__name__} n_fft must be an integer >= 4, got {n_fft}.")
        if int(hop_length) != hop_length or not 1 <= hop_length <= n_fft // 2:
            raise ValueError(
                f"{type(self).__name__} hop_length must be an integer in [1, n_fft / 2], got "
                f"{hop_length}."
            )
        self.n_fft = int(n_fft)
        self.hop_length = int(hop_length)
        self.register_buffer("window", torch.hann_window(self.n_fft), persistent=False)

    def stretch(self, audio: Tensor, rate: Tensor, loop: bool) -> Tensor:
        """Plays each row ``rate`` times faster at unchanged pitch, cut or padded to ``T``.

        Args:
            audio: ``[N, T]`` waveforms.
            rate: ``[N]`` positive rates (> 1 faster and shorter).
            loop: Loop the stretched clip to fill ``T`` (else pad it with zeros).

        Returns:
            ``[N, T]`` stretched waveforms.
        """
        length = audio.shape[-1]
        if length <= self.hop_length:
            raise ValueError(
                f"{type(self).__name__} needs clips longer than hop_length={self.hop_length} "
                f"samples, got {length}; lower n_fft or hop_length."
            )
        window = self.window.to(audio.device, audio.dtype)
        stft = dict(n_fft=self.n_fft, hop_length=self.hop_length, window=window, center=True)
        spec = torch.stft(audio, **stft, pad_mode="constant", return_complex=True)
        frames = torch.arange(spec.shape[-1], device=audio.device, dtype=audio.dtype)
        positions = frames * rate.to(audio.dtype)[:, None]  # [N, L]
        end = length / self.hop_length  # frame position of the clip's end
        if loop:
            positions = torch.where(positions > end, positions.remainder(end), positions)
        out = phase_vocoder(spec, positions, self.hop_length, end=None if loop else end)
        return inverse_stft(out, self.n_fft, self.hop_length, window, length)


class TimeStretch(_PhaseVocoderAugmentation):
    """Changes the speed of each example by its own rate, keeping pitch and length.

    The rate ``r`` is uniform in ``[min_rate, max_rate]`` per example (``r > 1`` faster). The
    clip's STFT (Hann window ``n_fft``, hop ``hop_length``) is resampled along time at frame
    positions ``m r`` by a batched phase vocoder (:func:`phase_vocoder`) and inverted; the
    result is cut to ``T`` samples (``r < 1``) or, for ``r > 1``, filled up to ``T`` with zeros
    or with the stretched clip looped (``fill``). Typical phase-vocoder artefacts: sounds get
    slightly "phasey" or reverberant, increasingly so as ``r`` moves away from 1, and
    transients that follow each other within a window are blurred; isolated transients stay
    sharp (phase reset at onsets) but land on the hop grid (``hop_length`` samples). A rate
    of exactly 1 returns the clip (up to float rounding). Parameters: ``rate`` ``[B]``.

    Args:
        min_rate: Lowest rate.
        max_rate: Highest rate.
        fill: ``"zero"`` or ``"loop"``: how a shortened clip is brought back to ``T``.
        n_fft: STFT window length in samples.
        hop_length: STFT hop in samples (default ``n_fft // 4``).
        p: Probability that an example is transformed.
    """

    def __init__(
        self,
        min_rate: float = 0.8,
        max_rate: float = 1.25,
        fill: str = "zero",
        n_fft: int = 512,
        hop_length: int | None = None,
        p: float = 0.5,
    ) -> None:
        super().__init__(n_fft, hop_length, p)
        check_range(self, "rate", min_rate, max_rate, positive=True)
        if fill not in STRETCH_FILLS:
            raise ValueError(f"TimeStretch fill={fill!r} must be one of {STRETCH_FILLS}.")
        self.min_rate = float(min_rate)
        self.max_rate = float(max_rate)
        self.fill = fill

    def sample_params(self, batch_size: int, length: int, device: torch.device) -> Params:
        return {"rate": uniform(batch_size, self.min_rate, self.max_rate, device)}

    def apply_params(self, audio: Tensor, params: Params) -> Tensor:
        return self.stretch(audio, params["rate"], loop=self.fill == "loop")

    def extra_repr(self) -> str:
        return (
            f"min_rate={self.min_rate}, max_rate={self.max_rate}, fill={self.fill!r}, "
            f"n_fft={self.n_fft}, hop_length={self.hop_length}, p={self.p}"
        )


class PitchShift(_PhaseVocoderAugmentation):
    """Shifts the pitch of each example by its own number of semitones, keeping its length.

    With ``s`` uniform in ``[min_semitones, max_semitones]`` and the frequency ratio
    ``a = 2^(s / 12)``, three steps, each batched over the rows it concerns:

    1. rows with ``a > 1`` are low-passed below ``1 / a`` of the Nyquist frequency (a
       raised-cosine edge in the rFFT domain, against aliasing) and read ``a`` times faster
       (linear interpolation): higher by ``a``, ``T / a`` samples long;
    2. every row is time-stretched by the rate ``1 / a`` with the phase vocoder of
       :class:`TimeStretch` (a ``> 1`` back to ``T`` samples; ``a < 1`` down to ``a T``);
    3. rows with ``a < 1`` are read ``a`` times slower: lower by ``a``, ``T`` samples long.

    No intermediate signal is longer than the clip, whatever ``a``. Artefacts: those of the
    phase vocoder (smeared transients, phasiness), the loss of the content above
    ``Nyquist / a`` when shifting up, a soft high-frequency roll-off from the linear
    interpolation, and a short fade at the clip's end when shifting up (the read-out reaches
    the clip's end there). Parameters: ``semitones`` ``[B]``.

    Args:
        min_semitones: Lowest shift in semitones.
        max_semitones: Highest shift in semitones.
        n_fft: STFT window length in samples.
        hop_length: STFT hop in samples (default ``n_fft // 4``).
        p: Probability that an example is transformed.
    """

    def __init__(
        self,
        min_semitones: float = -4.0,
        max_semitones: float = 4.0,
        n_fft: int = 512,
        hop_length: int | None = None,
        p: float = 0.5,
    ) -> None:
        super().__init__(n_fft, hop_length, p)
        check_range(self, "semitones", min_semitones, max_semitones)
        self.min_semitones = float(min_semitones)
        self.max_semitones = float(max_semitones)

    def sample_params(self, batch_size: int, length: int, device: torch.device) -> Params:
        return {"semitones": uniform(batch_size, self.min_semitones, self.max_semitones, device)}

    def apply_params(self, audio: Tensor, params: Params) -> Tensor:
        ratio = torch.pow(2.0, params["semitones"].to(audio.dtype) / 12.0)
        audio = _on_rows(audio, ratio > 1.0, _raise, ratio)
        audio = self.stretch(audio, 1.0 / ratio, loop=False)
        return _on_rows(audio, ratio < 1.0, read_at_rate, ratio)

    def extra_repr(self) -> str:
        return (
            f"min_semitones={self.min_semitones}, max_semitones={self.max_semitones}, "
            f"n_fft={self.n_fft}, hop_length={self.hop_length}, p={self.p}"
        )


def _antialias(audio: Tensor, ratio: Tensor) -> Tensor:
    """Low-passes each row below ``1 / ratio`` of Nyquist (raised-cosine edge, rFFT domain)."""
    stop = 0.5 / ratio[:, None]  # cycles per sample

    def response(freqs: Tensor) -> Tensor:
        edge = ((stop - freqs) / (0.1 * stop)).clamp(0.0, 1.0)  # 0 at stop, 1 below 0.9 stop
        return 0.5 - 0.5 * torch.cos(math.pi * edge)

    return filter_in_frequency(audio, response, 1.0, ANTIALIAS_PAD)


def _raise(audio: Tensor, ratio: Tensor) -> Tensor:
    """Pitch and speed up by ``ratio > 1`` (band-limited first): ``T / ratio`` samples left."""
    return read_at_rate(_antialias(audio, ratio), ratio)


def _on_rows(
    audio: Tensor, rows: Tensor, function: Callable[[Tensor, Tensor], Tensor], ratio: Tensor
) -> Tensor:
    """Applies ``function(audio[rows], ratio[rows])`` to the selected rows only."""
    index = rows.nonzero().squeeze(1)
    if index.numel() == 0:
        return audio
    changed = function(audio.index_select(0, index), ratio.index_select(0, index))
    return audio.index_copy(0, index, changed)
