"""EfficientAT's MobileNetV3 audio-tagging CNNs ("mn" models) as a pretrained encoder.

Schmid, Koutini & Widmer, "Efficient Large-Scale Audio Tagging via Transformer-to-CNN
Knowledge Distillation", ICASSP 2023: MobileNetV3-Large CNNs (Howard et al., ICCV 2019) on
log-mel spectrograms, trained on AudioSet by knowledge distillation from PaSST ensembles. The
checkpoints are published on the GitHub releases of fschmid56/EfficientAT (MIT licence), e.g.
``mn10_as_mAP_471.pt`` for width 1.0 (4.88 M parameters with the tagging head, 47.1 mAP). This
module is written from the paper and from the facts of that repository (its block table, its
preprocessing, its checkpoints' key names); it imports nothing from it.

Architecture (``width`` scales every channel count, rounded to a multiple of 8 as MobileNet
does, never more than 10 % down): a 3x3 stride-2 stem conv to 16 channels, 15 inverted-residual
blocks, a 1x1 head conv to 6 x the last block's channels (960 for mn10), each conv followed by
BatchNorm (eps 1e-3, momentum 0.01). The blocks (channels at width 1.0; SE: squeeze-and-
excitation over channels, bottleneck ``expanded / 4`` rounded to a multiple of 8, ReLU then
sigmoid, from the channel means; RE: ReLU, HS: hard-swish)::

    block  kernel  expanded  out  SE   act  stride
        0       3        16   16  -    RE        1
        1       3        64   24  -    RE        2
        2       3        72   24  -    RE        1
        3       5        72   40  yes  RE        2
        4       5       120   40  yes  RE        1
        5       5       120   40  yes  RE        1
        6       3       240   80  -    HS        2
        7       3       200   80  -    HS        1
        8       3       184   80  -    HS        1
        9       3       184   80  -    HS        1
       10       3       480  112  yes  HS        1
       11       3       672  112  yes  HS        1
       12       5       672  160  yes  HS        2
       13       5       960  160  yes  HS        1
       14       5       960  160  yes  HS        1

A block is 1x1 expansion conv (absent where ``expanded`` equals the input channels: block 0),
depthwise ``kernel`` conv with the stride, SE, 1x1 linear projection conv; a residual is added
where the stride is 1 and the channels match. The maps shrink 32-fold on both axes.

Embedding: the repository's models return ``(logits, features)``, ``features`` being the head
conv's output averaged over frequency and time, before the AudioSet classifier (an MLP:
Linear 960 -> 1280, hard-swish, dropout, Linear 1280 -> 527). That pooled vector (960-d for
mn10, ``6 * make_divisible(160 * width)`` in general) is this encoder's embedding; the
classifier's weights are not loaded.

Preprocessing (the repository's ``AugmentMelSTFT`` in evaluation mode, at 32 kHz): pre-emphasis
``y[n] = x[n + 1] - 0.97 x[n]`` (one sample shorter), STFT with ``n_fft`` 1024, a 800-sample
symmetric Hann window (zero-padded to 1024, centred), hop 320 (10 ms), ``center=True`` with
reflection padding, power spectrum, 128 mel bands from 0 to 15 kHz (their default ``fmax``:
``sr / 2 - 1000``), ``log(mel + 1e-5)``, then ``(x + 4.5) / 5``. Their mel matrix is Kaldi's
(``torchaudio.compliance.kaldi.get_mel_banks`` with no VTLN warp, its 512 columns padded with
a zero column for the Nyquist bin);
:func:`~audiofsl.encoders.pretrained.features.kaldi_mel_banks` computes it from its formula
(torchaudio is not needed): triangles equally spaced on the mel scale ``1127 ln(1 + f / 700)``
with ``n_mels + 2`` edges from ``fmin`` to ``fmax``, evaluated at the FFT bin frequencies
``k * sr / n_fft``, in float64 (torchaudio's float32 matrix agrees within 5e-5).

Checkpoint keys (``torch.save(model.state_dict())`` of the repository's ``MN``; every
``{conv,bn}`` pair below is ``conv.weight`` and ``bn.{weight,bias,running_mean,running_var,
num_batches_tracked}`` on our side, ``0.weight`` and ``1.*`` on theirs)::

    published (EfficientAT MN)                           ours (EfficientATMN.backbone)
    features.0.{0,1}                                     stem.{conv,bn}
    features.1.block.0.{0,1}                             blocks.0.depthwise.{conv,bn}
    features.1.block.1.{0,1}                             blocks.0.project.{conv,bn}
    features.{i}.block.0.{0,1}          (i = 2..15)      blocks.{i-1}.expand.{conv,bn}
    features.{i}.block.1.{0,1}                           blocks.{i-1}.depthwise.{conv,bn}
    features.{i}.block.2.conc_se_layers.0.fc1.{weight,bias}  (SE blocks)
                                                         blocks.{i-1}.se.fc_reduce.{weight,bias}
    features.{i}.block.2.conc_se_layers.0.fc2.{weight,bias}
                                                         blocks.{i-1}.se.fc_expand.{weight,bias}
    features.{i}.block.{2 or 3}.{0,1}   (3 after SE)     blocks.{i-1}.project.{conv,bn}
    features.16.{0,1}                                    head.{conv,bn}
    classifier.*                                         (dropped: the AudioSet tagging head)

:func:`published_to_ours` and :func:`ours_to_published` apply this table (derived from the
block table, so it holds at every width); a file without ``num_batches_tracked`` entries
(which only matter to training with momentum None) loads too.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from audiofsl.encoders.pretrained.base import PretrainedEncoder
from audiofsl.encoders.pretrained.features import kaldi_mel_banks
from audiofsl.encoders.pretrained.mobilenet import BlockSpec, MobileNetV3Backbone, block_specs
from audiofsl.encoders.pretrained.weights import checkpoint_file, fingerprint

#: Where the published checkpoints are downloaded from.
RELEASE_URL = "https://github.com/fschmid56/EfficientAT/releases/download/v0.0.1/"
#: The AudioSet checkpoint published for each width multiplier.
PUBLISHED_FILES = {
    0.1: "mn01_as_mAP_298.pt",
    0.2: "mn02_as_mAP_378.pt",
    0.4: "mn04_as_mAP_432.pt",
    0.5: "mn05_as_mAP_443.pt",
    1.0: "mn10_as_mAP_471.pt",
    2.0: "mn20_as_mAP_478.pt",
    3.0: "mn30_as_mAP_482.pt",
    4.0: "mn40_as_mAP_484.pt",
}
#: The rate the published models were trained at, in Hz.
MODEL_SAMPLE_RATE = 32000


# ---------------------------------------------------------------------------------- frontend
class EfficientATLogMel(nn.Module):
    """EfficientAT's log-mel features: ``[B, T]`` waveforms at 32 kHz -> ``[B, 128, frames]``.

    Pre-emphasis (0.97), STFT power (``n_fft`` 1024, symmetric Hann window of 800 samples,
    hop 320, centred with reflection padding), Kaldi mel filters from ``fmin`` to ``fmax``,
    ``log(mel + 1e-5)``, then ``(x + 4.5) / 5``; computed in float32 with autocast off. The
    window and the mel matrix are (non-persistent) buffers, so the features are computed on the
    waveform's device. ``frames = 1 + (T - 1) // hop``; waveforms shorter than ``n_fft // 2 + 2``
    samples (reflection padding needs more samples than it pads) are zero-padded to that length.

    Args:
        sample_rate: the waveform's rate.
        n_mels: mel bands.
        n_fft: FFT size.
        win_length: Hann window length (zero-padded to ``n_fft``).
        hop_length: hop between frames, in samples.
        fmin: lowest mel edge in Hz.
        fmax: highest mel edge in Hz (None: ``sample_rate / 2 - 1000``, EfficientAT's default).
        preemphasis: pre-emphasis coefficient.
    """

    #: Added before the log, then the log-mel is shifted and scaled: ``(x + 4.5) / 5``.
    LOG_OFFSET, SHIFT, SCALE = 1e-5, 4.5, 5.0

    def __init__(
        self,
        sample_rate: int = MODEL_SAMPLE_RATE,
        n_mels: int = 128,
        n_fft: int = 1024,
        win_length: int = 800,
        hop_length: int = 320,
        fmin: float = 0.0,
        fmax: float | None = None,
        preemphasis: float = 0.97,
    ) -> None:
        super().__init__()
        if win_length > n_fft:
            raise ValueError(f"EfficientATLogMel: win_length={win_length} > n_fft={n_fft}.")
        self.sample_rate, self.n_mels, self.n_fft = sample_rate, n_mels, n_fft
        self.win_length, self.hop_length, self.preemphasis = win_length, hop_length, preemphasis
        self.fmin = float(fmin)
        self.fmax = float(fmax) if fmax is not None else sample_rate // 2 - 1000.0
        window = torch.hann_window(win_length, periodic=False, dtype=torch.float64)
        self.register_buffer("window", window.float(), persistent=False)
        # Kaldi's triangles on the bins below Nyquist, the Nyquist column zero
        banks = kaldi_mel_banks(n_mels, n_fft, sample_rate, self.fmin, self.fmax).T
        self.register_buffer("mel_banks", banks.float(), persistent=False)

    def extra_repr(self) -> str:
        return (
            f"sample_rate={self.sample_rate}, n_mels={self.n_mels}, n_fft={self.n_fft}, "
            f"win_length={self.win_length}, hop_length={self.hop_length}, "
            f"fmin={self.fmin}, fmax={self.fmax}"
        )

    def forward(self, waveform: Tensor) -> Tensor:
        """Args: waveform ``[B, T]``. Returns: ``[B, n_mels, 1 + (T - 1) // hop_length]``."""
        with torch.autocast(device_type=waveform.device.type, enabled=False):
            x = waveform.float()
            shortest = self.n_fft // 2 + 2
            if x.shape[-1] < shortest:
                x = F.pad(x, (0, shortest - x.shape[-1]))
            x = x[:, 1:] - self.preemphasis * x[:, :-1]
            spectrum = torch.stft(
                x,
                self.n_fft,
                hop_length=self.hop_length,
                win_length=self.win_length,
                window=self.window,
                center=True,
                pad_mode="reflect",
                return_complex=True,
            )  # [B, n_fft // 2 + 1, frames]
            power = spectrum.real.square() + spectrum.imag.square()
            mel = torch.matmul(self.mel_banks, power)  # [B, n_mels, frames]
            return ((mel + self.LOG_OFFSET).log() + self.SHIFT) / self.SCALE


# ---------------------------------------------------------------------------------- key mapping
def _module_table(specs: list[BlockSpec]) -> dict[str, str]:
    """Published module path -> ours, for every module holding weights (the module docstring's
    table)."""
    table = {"features.0.0": "stem.conv", "features.0.1": "stem.bn"}
    for i, spec in enumerate(specs):
        parts = (["expand"] if spec.has_expansion else []) + ["depthwise"]
        parts += ["se"] if spec.se else []
        parts += ["project"]
        for j, part in enumerate(parts):
            theirs, ours = f"features.{i + 1}.block.{j}", f"blocks.{i}.{part}"
            if part == "se":
                table[f"{theirs}.conc_se_layers.0.fc1"] = f"{ours}.fc_reduce"
                table[f"{theirs}.conc_se_layers.0.fc2"] = f"{ours}.fc_expand"
            else:
                table[f"{theirs}.0"], table[f"{theirs}.1"] = f"{ours}.conv", f"{ours}.bn"
    head = len(specs) + 1
    table[f"features.{head}.0"], table[f"features.{head}.1"] = "head.conv", "head.bn"
    return table


def _rename(state_dict: Mapping[str, Tensor], table: dict[str, str], kind: str) -> dict:
    renamed, unknown = {}, []
    for key, value in state_dict.items():
        module, _, name = key.rpartition(".")
        if module in table:
            renamed[f"{table[module]}.{name}"] = value
        else:
            unknown.append(key)
    if unknown:
        shown = ", ".join(unknown[:6]) + (
            f", ... ({len(unknown)} in all)" if len(unknown) > 6 else ""
        )
        raise ValueError(f"unexpected {kind} keys: {shown}")
    return renamed


def published_to_ours(state_dict: Mapping[str, Tensor], width: float = 1.0) -> dict[str, Tensor]:
    """Renames a published EfficientAT state dict to :class:`MobileNetV3Backbone`'s keys.

    ``classifier.*`` (the AudioSet tagging head) is dropped; any other key outside the table
    raises a ValueError listing it.

    Args:
        state_dict: the published ``MN`` model's state dict.
        width: the model's width multiplier.
    """
    kept = {k: v for k, v in state_dict.items() if not k.startswith("classifier.")}
    return _rename(kept, _module_table(block_specs(width)), "EfficientAT checkpoint")


def ours_to_published(state_dict: Mapping[str, Tensor], width: float = 1.0) -> dict[str, Tensor]:
    """The inverse of :func:`published_to_ours` (the classifier excepted): our backbone's
    state dict under the published key names."""
    inverse = {ours: theirs for theirs, ours in _module_table(block_specs(width)).items()}
    return _rename(state_dict, inverse, "MobileNetV3Backbone")


# ---------------------------------------------------------------------------------- encoder
def model_name(width: float) -> str:
    """EfficientAT's name of a width: ``mn10`` for 1.0, ``mn04`` for 0.4."""
    tenths = width * 10
    return f"mn{round(tenths):02d}" if math.isclose(tenths, round(tenths)) else f"mn{width:g}"


class EfficientATMN(PretrainedEncoder):
    """EfficientAT's MobileNetV3 (``mn10`` at width 1.0) as an encoder: waveforms -> the
    AudioSet-distilled model's pooled features.

    Waveforms ``[B, 1, 1, T]`` at ``sample_rate`` are resampled to 32 kHz on the device, turned
    into EfficientAT's log-mel spectrogram ``[B, 1, 128, frames]`` (10 ms hop), and embedded by
    the CNN: the head conv's map averaged over frequency and time, the ``features`` the
    published model returns beside its logits (960-d for mn10), before the AudioSet classifier.
    See the module docstring for the architecture, the preprocessing and the key mapping.

    Args:
        sample_rate: the input waveform's rate (the data's); resampled to 32 kHz on the device.
        width: the width multiplier (1.0: mn10; the published AudioSet widths are
            0.1, 0.2, 0.4, 0.5, 1.0, 2.0, 3.0 and 4.0).
        checkpoint: the published checkpoint file (e.g. ``mn10_as_mAP_471.pt``); None looks
            for the published file name in the weights folder.
        sha256: the checkpoint's expected SHA-256 (checked when given).
        allow_download: fetch the published file from the GitHub release when it is missing.
        freeze: keep the CNN fixed; only the adapter and the method's head train.
        adapter: :class:`~audiofsl.encoders.pretrained.base.Adapter` settings.
        cache_dir: folder caching the frozen model's embeddings per window (None: no cache).
        pretrained: False builds a randomly initialised model (no checkpoint, no cache).
    """

    def __init__(
        self,
        sample_rate: int = 16000,
        width: float = 1.0,
        checkpoint: str | None = None,
        sha256: str | None = None,
        allow_download: bool = False,
        freeze: bool = True,
        adapter: dict | None = None,
        cache_dir: str | None = None,
        pretrained: bool = True,
    ) -> None:
        super().__init__()
        if not (isinstance(width, int | float) and width > 0):
            raise ValueError(f"encoder.width={width!r}: the width multiplier must be > 0.")
        self.width = float(width)
        self.name = model_name(self.width)
        self.frontend = EfficientATLogMel()
        self.backbone = MobileNetV3Backbone(self.width)
        self.weights_id = "random"
        if pretrained:
            path = self._checkpoint_path(checkpoint, sha256, allow_download)
            self.load_published(path)
            self.weights_id = fingerprint(path)
        setup = {
            "freeze": freeze,
            "adapter": adapter,
            "cache_dir": cache_dir if pretrained else None,
        }
        self.setup_pretrained(sample_rate, MODEL_SAMPLE_RATE, self.backbone.out_channels, **setup)

    def _checkpoint_path(self, checkpoint: str | None, sha256: str | None, download: bool) -> Path:
        published = PUBLISHED_FILES.get(self.width)
        return checkpoint_file(
            checkpoint,
            file_name=published or f"{self.name}_as.pt",
            url=RELEASE_URL + published if published else None,
            sha256=sha256,
            allow_download=download,
            setting="encoder.checkpoint",
        )

    def load_published(self, path: str | Path, setting: str = "encoder.checkpoint") -> None:
        """Loads a published EfficientAT checkpoint (a state dict saved with ``torch.save``)
        into the backbone, every tensor required and of the right shape.

        Raises:
            ValueError: naming ``setting`` and the file, when it is no state dict, holds keys
                outside the mapping, lacks some of the backbone's or has other shapes.
        """
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as error:
            raise ValueError(
                f"{setting}={path}: not a readable PyTorch checkpoint ({error})."
            ) from error
        if not isinstance(state, Mapping) or not all(isinstance(v, Tensor) for v in state.values()):
            raise ValueError(
                f"{setting}={path}: expected the state dict of an EfficientAT model "
                f"(torch.save(model.state_dict())), got {type(state).__name__}."
            )
        hint = f"is it the {self.name} AudioSet checkpoint ({PUBLISHED_FILES.get(self.width)})?"
        try:
            mapped = published_to_ours(state, self.width)
        except ValueError as error:
            raise ValueError(f"{setting}={path}: {error}; {hint}") from error
        expected = self.backbone.state_dict()
        missing = [k for k in expected if k not in mapped]
        absent = [k for k in missing if not k.endswith("num_batches_tracked")]
        if absent:
            theirs = ours_to_published({k: expected[k] for k in absent}, self.width)
            shown = ", ".join(list(theirs)[:6]) + (
                f", ... ({len(absent)} in all)" if len(absent) > 6 else ""
            )
            raise ValueError(f"{setting}={path}: missing keys {shown}; {hint}")
        mapped.update({k: expected[k] for k in missing})  # num_batches_tracked only
        wrong = [f"{k} {tuple(v.shape)} (expected {tuple(expected[k].shape)})"
                 for k, v in mapped.items() if v.shape != expected[k].shape]  # fmt: skip
        if wrong:
            raise ValueError(
                f"{setting}={path}: tensors of other shapes for width {self.width}: "
                f"{', '.join(wrong[:4])}; {hint} (encoder.width sets the width.)"
            )
        self.backbone.load_state_dict(mapped, strict=True)

    def identity(self) -> str:
        return f"{self.name}-{self.weights_id}"

    def backbone_layers(self) -> list[nn.Module]:
        """The log-mel frontend, the stem, each of the 15 blocks and the head conv."""
        return [self.frontend, self.backbone.stem, *self.backbone.blocks, self.backbone.head]

    def layer_groups(self) -> list[list[nn.Parameter]]:
        """The parameters of :meth:`backbone_layers` by layer (the frontend has none)."""
        return [group for group in super().layer_groups() if group]

    def spectrogram(self, waveform: Tensor) -> Tensor:
        """Args: waveform ``[B, T']`` at 32 kHz. Returns: ``[B, 1, 128, 1 + (T' - 1) // 320]``."""
        return self.frontend(waveform)[:, None]

    def embed_waveform(self, waveform: Tensor) -> Tensor:
        """Args: waveform ``[B, T']`` at 32 kHz. Returns: ``[B, embedding_dim]`` (960 for mn10)."""
        return self.backbone(self.spectrogram(waveform))
