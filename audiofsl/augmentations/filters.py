"""Low-pass, high-pass, band-pass and band-stop filters with per-example cut-offs."""

from __future__ import annotations

import math
from abc import abstractmethod

import torch
import torch.nn.functional as F
from torch import Tensor

from audiofsl.augmentations.base import (
    Params,
    WaveformAugmentation,
    check_range,
    log_uniform,
    uniform,
)
from audiofsl.augmentations.spectral import filter_in_frequency

#: Impulse-response lengths (in periods of the lowest cut-off) kept clear of wrap-around.
RINGING_PERIODS = 8


def butterworth_gain(log_x: Tensor, order: int) -> Tensor:
    """Butterworth magnitude ``1 / sqrt(1 + x^(2n))`` from ``log |x|``, safe at 0 and inf."""
    return torch.exp(-0.5 * F.softplus(2.0 * order * log_x))


class _FrequencyFilter(WaveformAugmentation):
    """Zero-phase filtering by a per-example analog Butterworth magnitude response.

    Each example's spectrum (rFFT of the zero-padded clip) is multiplied by the magnitude
    response of an ``order``-th order Butterworth filter with the example's cut-off(s); the
    phase is left unchanged, so nothing is delayed (the impulse response is symmetric, as for
    forward-backward filtering). The roll-off is ``6 * order`` dB per octave and the gain at
    each cut-off is -3 dB.
    """

    def __init__(self, sample_rate: int, order: int, p: float) -> None:
        super().__init__(p)
        if sample_rate is None or sample_rate <= 0:
            raise ValueError(
                f"{type(self).__name__} sample_rate must be positive, got {sample_rate}."
            )
        if int(order) != order or order < 1:
            raise ValueError(f"{type(self).__name__} order must be an integer >= 1, got {order}.")
        self.sample_rate = int(sample_rate)
        self.order = int(order)

    def _check_below_nyquist(self, name: str, value: float) -> None:
        if value >= self.sample_rate / 2:
            raise ValueError(
                f"{type(self).__name__} {name}={value} Hz must be below the Nyquist frequency "
                f"{self.sample_rate / 2} Hz of sample_rate={self.sample_rate}."
            )

    @abstractmethod
    def log_x(self, freqs: Tensor, params: Params) -> Tensor:
        """``log |x|`` of the normalised frequency per example: ``[F] -> [N, F]``."""

    @abstractmethod
    def lowest_frequency(self) -> float:
        """Lowest cut-off or bandwidth (Hz) the filter can have; sets the zero padding."""

    def apply_params(self, audio: Tensor, params: Params) -> Tensor:
        pad = math.ceil(RINGING_PERIODS * self.sample_rate / self.lowest_frequency())

        def response(freqs: Tensor) -> Tensor:
            params_ = {k: v.to(freqs.dtype)[:, None] for k, v in params.items()}
            return butterworth_gain(self.log_x(freqs, params_), self.order)

        return filter_in_frequency(audio, response, self.sample_rate, pad)


class _CutoffFilter(_FrequencyFilter):
    def __init__(
        self, sample_rate: int, min_cutoff_hz: float, max_cutoff_hz: float, order: int, p: float
    ) -> None:
        super().__init__(sample_rate, order, p)
        check_range(self, "cutoff_hz", min_cutoff_hz, max_cutoff_hz, positive=True)
        self._check_below_nyquist("max_cutoff_hz", max_cutoff_hz)
        self.min_cutoff_hz = float(min_cutoff_hz)
        self.max_cutoff_hz = float(max_cutoff_hz)

    def sample_params(self, batch_size: int, length: int, device: torch.device) -> Params:
        cutoff = log_uniform(batch_size, self.min_cutoff_hz, self.max_cutoff_hz, device)
        return {"cutoff_hz": cutoff}

    def lowest_frequency(self) -> float:
        return self.min_cutoff_hz

    def extra_repr(self) -> str:
        return (
            f"sample_rate={self.sample_rate}, min_cutoff_hz={self.min_cutoff_hz}, "
            f"max_cutoff_hz={self.max_cutoff_hz}, order={self.order}, p={self.p}"
        )


class LowPass(_CutoffFilter):
    """Low-pass filter, cut-off ``f_c`` log-uniform in ``[min_cutoff_hz, max_cutoff_hz]``.

    Zero-phase, frequency-domain: ``|H(f)| = 1 / sqrt(1 + (f / f_c)^(2 order))`` (the
    magnitude of an analog Butterworth low-pass: flat pass band, -3 dB at ``f_c``,
    ``-6 order`` dB per octave above). Parameters: ``cutoff_hz`` ``[B]``.

    Args:
        sample_rate: Sample rate in Hz.
        min_cutoff_hz: Lowest cut-off in Hz.
        max_cutoff_hz: Highest cut-off in Hz (below Nyquist).
        order: Butterworth order.
        p: Probability that an example is transformed.
    """

    def __init__(
        self,
        sample_rate: int,
        min_cutoff_hz: float = 150.0,
        max_cutoff_hz: float = 7500.0,
        order: int = 4,
        p: float = 0.5,
    ) -> None:
        super().__init__(sample_rate, min_cutoff_hz, max_cutoff_hz, order, p)

    def log_x(self, freqs: Tensor, params: Params) -> Tensor:
        return torch.log(freqs) - torch.log(params["cutoff_hz"])


class HighPass(_CutoffFilter):
    """High-pass filter, cut-off ``f_c`` log-uniform in ``[min_cutoff_hz, max_cutoff_hz]``.

    Zero-phase, frequency-domain: ``|H(f)| = 1 / sqrt(1 + (f_c / f)^(2 order))`` (analog
    Butterworth high-pass magnitude: -3 dB at ``f_c``, ``-6 order`` dB per octave below,
    no DC). Parameters: ``cutoff_hz`` ``[B]``.

    Args:
        sample_rate: Sample rate in Hz.
        min_cutoff_hz: Lowest cut-off in Hz.
        max_cutoff_hz: Highest cut-off in Hz (below Nyquist).
        order: Butterworth order.
        p: Probability that an example is transformed.
    """

    def __init__(
        self,
        sample_rate: int,
        min_cutoff_hz: float = 20.0,
        max_cutoff_hz: float = 2400.0,
        order: int = 4,
        p: float = 0.5,
    ) -> None:
        super().__init__(sample_rate, min_cutoff_hz, max_cutoff_hz, order, p)

    def log_x(self, freqs: Tensor, params: Params) -> Tensor:
        return torch.log(params["cutoff_hz"]) - torch.log(freqs)


class _BandFilter(_FrequencyFilter):
    def __init__(
        self,
        sample_rate: int,
        min_center_hz: float = 200.0,
        max_center_hz: float = 4000.0,
        min_bandwidth_fraction: float = 0.5,
        max_bandwidth_fraction: float = 1.99,
        order: int = 4,
        p: float = 0.5,
    ) -> None:
        super().__init__(sample_rate, order, p)
        check_range(self, "center_hz", min_center_hz, max_center_hz, positive=True)
        check_range(
            self, "bandwidth_fraction", min_bandwidth_fraction, max_bandwidth_fraction, True
        )
        self._check_below_nyquist("max_center_hz", max_center_hz)
        self.min_center_hz = float(min_center_hz)
        self.max_center_hz = float(max_center_hz)
        self.min_bandwidth_fraction = float(min_bandwidth_fraction)
        self.max_bandwidth_fraction = float(max_bandwidth_fraction)

    def sample_params(self, batch_size: int, length: int, device: torch.device) -> Params:
        center = log_uniform(batch_size, self.min_center_hz, self.max_center_hz, device)
        fraction = uniform(
            batch_size, self.min_bandwidth_fraction, self.max_bandwidth_fraction, device
        )
        return {"center_hz": center, "bandwidth_hz": center * fraction}

    def lowest_frequency(self) -> float:
        bandwidth = self.min_center_hz * self.min_bandwidth_fraction
        ratio = self.max_bandwidth_fraction / 2
        lower_edge = self.min_center_hz * (math.sqrt(ratio**2 + 1) - ratio)
        return min(bandwidth, lower_edge)

    def band_log_x(self, freqs: Tensor, params: Params) -> Tensor:
        """``log |(f^2 - f_0^2) / (f B)|``, the band-pass transform of the frequency."""
        center, bandwidth = params["center_hz"], params["bandwidth_hz"]
        distance = (freqs.square() - center.square()).abs()
        return torch.log(distance) - torch.log(freqs) - torch.log(bandwidth)

    def extra_repr(self) -> str:
        return (
            f"sample_rate={self.sample_rate}, min_center_hz={self.min_center_hz}, "
            f"max_center_hz={self.max_center_hz}, "
            f"min_bandwidth_fraction={self.min_bandwidth_fraction}, "
            f"max_bandwidth_fraction={self.max_bandwidth_fraction}, order={self.order}, p={self.p}"
        )


class BandPass(_BandFilter):
    """Band-pass filter with a per-example band.

    The centre ``f_0`` is log-uniform in ``[min_center_hz, max_center_hz]`` and the bandwidth
    ``B = r f_0`` with ``r`` uniform in ``[min_bandwidth_fraction, max_bandwidth_fraction]``,
    per example. Zero-phase, frequency-domain response: the magnitude of the analog
    Butterworth band-pass obtained from the low-pass prototype of order ``order`` by
    ``s -> (s^2 + w_0^2) / (s B)``: ``|H(f)| = 1 / sqrt(1 + x^(2 order))`` with
    ``x = (f^2 - f_0^2) / (f B)``. The band edges (``f_1 f_2 = f_0^2``, ``f_2 - f_1 = B``) are at
    -3 dB. Parameters: ``center_hz``, ``bandwidth_hz`` ``[B]``.

    Args:
        sample_rate: Sample rate in Hz.
        min_center_hz: Lowest centre frequency in Hz.
        max_center_hz: Highest centre frequency in Hz (below Nyquist).
        min_bandwidth_fraction: Smallest bandwidth as a fraction of the centre frequency.
        max_bandwidth_fraction: Largest bandwidth as a fraction of the centre frequency.
        order: Butterworth order of the prototype.
        p: Probability that an example is transformed.
    """

    def log_x(self, freqs: Tensor, params: Params) -> Tensor:
        return self.band_log_x(freqs, params)


class BandStop(_BandFilter):
    """Band-stop (notch) filter with a per-example band.

    The centre ``f_0`` is log-uniform in ``[min_center_hz, max_center_hz]`` and the bandwidth
    ``B = r f_0`` with ``r`` uniform in ``[min_bandwidth_fraction, max_bandwidth_fraction]``,
    per example. Zero-phase, frequency-domain response: the magnitude of the analog
    Butterworth band-stop obtained from the low-pass prototype of order ``order`` by
    ``s -> s B / (s^2 + w_0^2)``: ``|H(f)| = 1 / sqrt(1 + x^(2 order))`` with
    ``x = f B / (f^2 - f_0^2)``. The band edges (``f_1 f_2 = f_0^2``, ``f_2 - f_1 = B``) are at
    -3 dB. Parameters: ``center_hz``, ``bandwidth_hz`` ``[B]``.

    Args:
        sample_rate: Sample rate in Hz.
        min_center_hz: Lowest centre frequency in Hz.
        max_center_hz: Highest centre frequency in Hz (below Nyquist).
        min_bandwidth_fraction: Smallest bandwidth as a fraction of the centre frequency.
        max_bandwidth_fraction: Largest bandwidth as a fraction of the centre frequency.
        order: Butterworth order of the prototype.
        p: Probability that an example is transformed.
    """

    def log_x(self, freqs: Tensor, params: Params) -> Tensor:
        return -self.band_log_x(freqs, params)
