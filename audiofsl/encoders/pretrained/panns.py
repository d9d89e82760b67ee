"""PANNs CNN14 (Kong et al., "PANNs: Large-Scale Pretrained Audio Neural Networks for Audio
Pattern Recognition", IEEE/ACM TASLP 2020) with its published AudioSet weights.

The weights are ``Cnn14_mAP=0.431.pth`` of Zenodo record 3987831
(https://zenodo.org/record/3987831, from the authors' ``audioset_tagging_cnn`` repository,
MIT licence): a torch pickle ``{"model": state_dict, ...}``. :class:`CNN14Backbone` is written
from the paper; its module names differ from the published ones, and
:func:`published_to_ours` renames the published keys (:func:`ours_to_published` is the
inverse):

==========================================================  ==========================  =====
published key                                               ours (CNN14Backbone)        shape
==========================================================  ==========================  =====
``bn0.{weight,bias,running_mean,running_var}``              ``frontend.norm.*``         [64]
``bn0.num_batches_tracked``                                 ``frontend.norm.*``         []
``conv_block{i}.conv1.weight`` (i = 1..6)                   ``blocks.{i-1}.conv1.*``    (a)
``conv_block{i}.conv2.weight``                              ``blocks.{i-1}.conv2.*``    (b)
``conv_block{i}.bn{1,2}.*`` (the 5 BatchNorm entries)       ``blocks.{i-1}.bn{1,2}.*``  [C_i]
``fc1.{weight,bias}``                                       ``head.fc.*``               (c)
``spectrogram_extractor.stft.conv_{real,imag}.weight``      not loaded (d)              (e)
``logmel_extractor.melW``                                   not loaded (f)              (g)
``fc_audioset.{weight,bias}``                               not loaded (AudioSet head)  (h)
==========================================================  ==========================  =====

(a) ``[C_i, C_{i-1}, 3, 3]`` and (b) ``[C_i, C_i, 3, 3]`` with ``C_0..C_6 = 1, 64, 128, 256, 512,
1024, 2048``; (c) ``[2048, 2048]`` and ``[2048]``; (d) the STFT is ``torch.stft``, the kernels'
shapes (e) ``[513, 1, 1024]`` are checked; (f) ``frontend.mel.filterbank`` is librosa's
filterbank, which the published matrix (g) ``[513, 64]`` must match within a tolerance;
(h) ``[527, 2048]`` and ``[527]``. Every other key must be present with its shape, and
nothing else may be (:meth:`CNN14Backbone.load_published` lists what differs).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from audiofsl.encoders.pretrained.base import PretrainedEncoder, as_waveform
from audiofsl.encoders.pretrained.weights import checkpoint_file, fingerprint
from audiofsl.frontends.logmel import power_to_db
from audiofsl.frontends.mel import MelSpectrogram

log = logging.getLogger(__name__)

#: The published checkpoint's file name and address (Zenodo record 3987831).
FILE_NAME = "Cnn14_mAP=0.431.pth"
URL = "https://zenodo.org/record/3987831/files/Cnn14_mAP%3D0.431.pth"

#: CNN14's log-mel settings (the published ``Cnn14`` at 32 kHz).
SAMPLE_RATE = 32000
N_FFT = 1024
HOP_LENGTH = 320
N_MELS = 64
F_MIN, F_MAX = 50.0, 14000.0
AMIN = 1e-10
#: Output channels of the six convolutional blocks.
CHANNELS = (64, 128, 256, 512, 1024, 2048)
EMBEDDING_DIM = 2048

#: Published key prefix -> ours; the rest of a key (``conv1.weight``, ``bn2.running_mean``,
#: ``weight``, ...) is the same on both sides.
KEY_PREFIXES: tuple[tuple[str, str], ...] = (
    ("bn0.", "frontend.norm."),
    *((f"conv_block{i + 1}.", f"blocks.{i}.") for i in range(len(CHANNELS))),
    ("fc1.", "head.fc."),
)
STFT_KEYS = (
    "spectrogram_extractor.stft.conv_real.weight",
    "spectrogram_extractor.stft.conv_imag.weight",
)
MEL_KEY = "logmel_extractor.melW"
#: Published keys that are not loaded, with the shapes they must have (``None``: any shape).
IGNORED_KEYS: dict[str, tuple[int, ...] | None] = {
    **dict.fromkeys(STFT_KEYS, (N_FFT // 2 + 1, 1, N_FFT)),
    MEL_KEY: (N_FFT // 2 + 1, N_MELS),
    "fc_audioset.weight": None,
    "fc_audioset.bias": None,
}
#: Largest difference allowed between the published mel matrix and ours, as a fraction of
#: our largest weight (float32 rounding and librosa versions differ by far less; another
#: rate, FFT size or band differs by far more).
MEL_TOLERANCE = 1e-3


def _rename(key: str, pairs: tuple[tuple[str, str], ...]) -> str:
    for old, new in pairs:
        if key.startswith(old):
            return new + key[len(old) :]
    return key


def published_to_ours(state_dict: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """The published CNN14 state dict in :class:`CNN14Backbone`'s key names.

    Keys of :data:`KEY_PREFIXES` are renamed; :data:`IGNORED_KEYS` (STFT kernels, mel matrix,
    AudioSet classifier) are dropped; any other key is kept as it is, so that loading reports
    it as unexpected. Tensors are not copied.
    """
    return {
        _rename(key, KEY_PREFIXES): value
        for key, value in state_dict.items()
        if key not in IGNORED_KEYS
    }


def published_name(key: str) -> str:
    """The published name of one of :class:`CNN14Backbone`'s keys."""
    return _rename(key, tuple((new, old) for old, new in KEY_PREFIXES))


def ours_to_published(state_dict: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """The inverse of :func:`published_to_ours` on :class:`CNN14Backbone`'s own keys (the
    ignored published keys are not recreated). Tensors are not copied."""
    return {published_name(key): value for key, value in state_dict.items()}


def _numpy_safe_globals() -> list:
    """What numpy arrays in a checkpoint need from ``torch.load(weights_only=True)``.

    The published file may hold more than the weights (the authors' training script saved its
    sampler's state, numpy arrays, beside them); these globals rebuild plain arrays only,
    under the names numpy 1 (``numpy.core``) and numpy 2 (``numpy._core``) pickle them with.
    """
    import numpy as np

    core = getattr(np, "_core", None) or np.core
    multiarray = core.multiarray
    allowed: list = [np.ndarray, np.dtype]
    for module in ("numpy.core.multiarray", "numpy._core.multiarray"):
        allowed += [
            (multiarray._reconstruct, f"{module}._reconstruct"),
            (multiarray.scalar, f"{module}.scalar"),
        ]
    # numpy 2 pickles scalars with their dtype's class (numpy.dtypes.Int64DType, ...)
    allowed += [type(np.dtype(code)) for code in "?bBhHiIlLqQefdgFDG"]
    return allowed


def read_published_checkpoint(path: str | Path) -> dict[str, Tensor]:
    """The state dict of a PANNs checkpoint file: its ``"model"`` entry (or the file itself
    when it is a bare state dict), read on the CPU without running arbitrary pickled code.

    Raises:
        ValueError: naming the file, when it holds neither.
    """
    with torch.serialization.safe_globals(_numpy_safe_globals()):
        try:
            content = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as error:  # UnpicklingError, RuntimeError: not a torch file
            raise ValueError(
                f"encoder.checkpoint: {path} could not be read as a torch checkpoint with "
                f"weights_only=True ({type(error).__name__}: {error}). Use the published "
                f"{FILE_NAME}, or save its state dict alone: torch.save(torch.load(path, "
                "weights_only=False)['model'], new_path)."
            ) from error
    if isinstance(content, Mapping) and isinstance(content.get("model"), Mapping):
        content = content["model"]
    if not isinstance(content, Mapping) or not all(
        isinstance(value, Tensor) for value in content.values()
    ):
        raise ValueError(
            f"encoder.checkpoint: {path} is not a PANNs checkpoint ({{'model': state_dict}}) "
            "nor a state dict of tensors."
        )
    return dict(content)


class LogMelNorm(nn.Module):
    """CNN14's input: log-mel spectrogram, then BatchNorm over the mel bins (``bn0``).

    ``|STFT|^2`` of centred frames (reflect padding, periodic Hann window of ``n_fft``
    samples), projected on librosa's filterbank (Slaney scale, area normalisation, 50 Hz to
    14 kHz), then ``10 log10(max(mel, 1e-10))`` with no dynamic-range clamp. Computed in
    float32 on the waveform's device, also under autocast; the window and filterbank are
    (non-persistent) buffers.
    """

    def __init__(self) -> None:
        super().__init__()
        self.mel = MelSpectrogram(
            sample_rate=SAMPLE_RATE,
            n_fft=N_FFT,
            hop_length=HOP_LENGTH,
            n_mels=N_MELS,
            f_min=F_MIN,
            f_max=F_MAX,
            power=2.0,
            pad_mode="reflect",
        )
        self.norm = nn.BatchNorm2d(N_MELS)

    def log_mel(self, waveform: Tensor) -> Tensor:
        """Args: waveform ``[B, T]`` at 32 kHz. Returns: ``[B, 64, T // 320 + 1]`` float32 dB."""
        with torch.autocast(device_type=waveform.device.type, enabled=False):
            return power_to_db(self.mel(waveform.float()), power=2.0, amin=AMIN)

    def forward(self, waveform: Tensor) -> Tensor:
        """Args: waveform ``[B, T]`` at 32 kHz. Returns: ``[B, 1, L, 64]`` (time, then mel:
        the published layout), ``L = T // 320 + 1``."""
        log_mel = self.log_mel(waveform).unsqueeze(-1)  # [B, 64, L, 1]: mel bins as channels
        return self.norm(log_mel).transpose(1, 3)


class ConvBlock(nn.Module):
    """conv3x3-BN-ReLU-conv3x3-BN-ReLU (convolutions without bias), ``pool x pool`` average
    pooling (none for 1), then dropout (training only).

    Args:
        in_channels: input channels.
        out_channels: output channels.
        pool: average-pooling size over both axes (1: none).
        dropout: dropout probability after the block.
    """

    def __init__(self, in_channels: int, out_channels: int, pool: int, dropout: float) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.pool = pool
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        """Args: x ``[B, C_in, H, W]``. Returns: ``[B, C_out, H // pool, W // pool]``."""
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.relu(self.bn2(self.conv2(x)))
        if self.pool > 1:
            x = F.avg_pool2d(x, self.pool)
        return self.dropout(x)


class EmbeddingHead(nn.Module):
    """Mean over frequency, max plus mean over time, dropout, ``fc1`` and ReLU.

    Args:
        channels: the feature map's channels (and the embedding's size).
        dropout: dropout on the pooled vector (training only).
    """

    def __init__(self, channels: int = EMBEDDING_DIM, dropout: float = 0.5) -> None:
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(channels, channels)

    def forward(self, feature_map: Tensor) -> Tensor:
        """Args: feature_map ``[B, C, L', F']`` (time, then frequency). Returns: ``[B, C]``."""
        x = feature_map.mean(dim=3)
        x = x.amax(dim=2) + x.mean(dim=2)
        return F.relu(self.fc(self.dropout(x)))


class CNN14Backbone(nn.Module):
    """CNN14 from waveform to its 2048-d embedding, in the published layout.

    Log-mel with ``bn0`` (:class:`LogMelNorm`), six :class:`ConvBlock` of
    64-128-256-512-1024-2048 channels (2x2 average pooling after the first five, none after
    the sixth; dropout 0.2 after each), then :class:`EmbeddingHead` (dropout 0.5, ``fc1``).
    Maps are ``[B, C, time, mel]`` inside, as in the published model, so that the published
    3x3 kernels apply unchanged. The AudioSet classifier and the published model's
    SpecAugment and mixup (training only) are left out. Initialised as the authors' model
    (Xavier-uniform convolutions and ``fc1``, zero bias, BatchNorm at identity).
    """

    #: Shortest input: five 2x2 poolings need 32 frames, ``(32 - 1) * hop`` samples.
    min_samples = (2 ** (len(CHANNELS) - 1) - 1) * HOP_LENGTH

    def __init__(self) -> None:
        super().__init__()
        self.frontend = LogMelNorm()
        in_channels = (1, *CHANNELS[:-1])
        self.blocks = nn.ModuleList(
            ConvBlock(c_in, c_out, pool=2 if i < len(CHANNELS) - 1 else 1, dropout=0.2)
            for i, (c_in, c_out) in enumerate(zip(in_channels, CHANNELS, strict=True))
        )
        self.head = EmbeddingHead(CHANNELS[-1], dropout=0.5)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """The authors' initialisation (their training's starting point)."""
        for module in self.modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                nn.init.xavier_uniform_(module.weight)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, nn.BatchNorm2d):
                module.reset_parameters()

    def layers(self) -> list[nn.Module]:
        """Input to output: log-mel with ``bn0``, the six blocks, the head (``fc1``)."""
        return [self.frontend, *self.blocks, self.head]

    def _map(self, waveform: Tensor) -> Tensor:
        """``[B, T]`` -> the sixth block's output ``[B, 2048, L // 32, 2]`` (time, mel)."""
        if waveform.shape[-1] < self.min_samples:
            raise ValueError(
                f"CNN14 needs waveforms of at least {self.min_samples} samples at "
                f"{SAMPLE_RATE} Hz ({self.min_samples / SAMPLE_RATE:.2f} s: five 2x2 poolings "
                f"of 320-sample frames), got {waveform.shape[-1]}. Use longer windows."
            )
        x = self.frontend(waveform)
        for block in self.blocks:
            x = block(x)
        return x

    def forward_features(self, waveform: Tensor) -> Tensor:
        """The last block's feature map.

        Args:
            waveform: ``[B, T]`` at 32 kHz, ``T >= min_samples``.

        Returns:
            ``[B, 2048, 2, L // 32]`` (frequency, then time: the project's ``[B, C, F, L]``),
            with ``L = T // 320 + 1`` frames.
        """
        return self._map(waveform).transpose(2, 3)

    def forward(self, waveform: Tensor) -> Tensor:
        """Args: waveform ``[B, T]`` at 32 kHz. Returns: ``[B, 2048]`` embeddings."""
        return self.head(self._map(waveform))

    def load_published(self, state_dict: Mapping[str, Tensor], source: str = "checkpoint") -> None:
        """Loads a published CNN14 state dict (its own key names), checking it first.

        Every key of this backbone must come from the published dict with its shape, and the
        dict may hold nothing else but :data:`IGNORED_KEYS`; the STFT kernels' shapes and the
        mel matrix's values are checked where present. Nothing is loaded when a check fails.

        Raises:
            ValueError: naming ``source``, listing the missing, unexpected and misshaped keys
                in the published names, or the mel matrix's difference from ours.
        """
        problems = []
        for key, shape in IGNORED_KEYS.items():
            if shape is not None and key in state_dict and tuple(state_dict[key].shape) != shape:
                problems.append(f"{key} {list(state_dict[key].shape)} (CNN14: {list(shape)})")
        ours = self.state_dict()
        mapped = published_to_ours(state_dict)
        missing = [key for key in ours if key not in mapped]
        unexpected = [key for key in mapped if key not in ours]
        problems += [
            f"{published_name(key)} {list(mapped[key].shape)} (CNN14: {list(value.shape)})"
            for key, value in ours.items()
            if key in mapped and mapped[key].shape != value.shape
        ]
        if missing or unexpected or problems:
            parts = [
                f"{label}: {_listing([published_name(key) for key in keys])}"
                for label, keys in (("missing keys", missing), ("unexpected keys", unexpected))
                if keys
            ]
            if problems:
                parts.append(f"wrong shapes: {_listing(problems)}")
            raise ValueError(
                f"{source} is not a PANNs CNN14 checkpoint ({FILE_NAME}, 32 kHz); "
                + "; ".join(parts)
                + ". Other PANNs models (Cnn10, Cnn14_16k, Wavegram_Logmel_Cnn14, ...) have "
                "other layers or settings."
            )
        if MEL_KEY in state_dict:
            self._check_mel(state_dict[MEL_KEY], source)
        self.load_state_dict(mapped, strict=True)

    def _check_mel(self, published: Tensor, source: str) -> None:
        ours = self.frontend.mel.filterbank.T.cpu()
        difference = (published.float().cpu() - ours).abs().max().item()
        if difference > MEL_TOLERANCE * ours.abs().max().item():
            raise ValueError(
                f"{source}: {MEL_KEY} differs from CNN14's filterbank ({SAMPLE_RATE} Hz, "
                f"n_fft={N_FFT}, {N_MELS} Slaney mel bins over {F_MIN:g}-{F_MAX:g} Hz) by up to "
                f"{difference:.3g}: the checkpoint was trained on other log-mel features."
            )


def _listing(items: list[str], limit: int = 8) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


class CNN14(PretrainedEncoder):
    """PANNs CNN14 (Kong et al., IEEE/ACM TASLP 2020), AudioSet-pretrained: waveform
    ``[B, 1, 1, T]`` -> ``[B, 2048]`` (or the adapter's ``out_dim``).

    The waveform is resampled to 32 kHz on the device, and :class:`CNN14Backbone` gives the
    2048-d ``fc1`` + ReLU embedding (the AudioSet classifier is not used). The weights are
    read from ``checkpoint`` (see :func:`~audiofsl.encoders.pretrained.weights.checkpoint_file`)
    and checked key by key (:meth:`CNN14Backbone.load_published`). Inputs must be at least
    0.31 s long (:attr:`CNN14Backbone.min_samples` at 32 kHz).

    ``pretrained=False`` builds the same network with random weights (no file needed), for
    tests and ablations; its embeddings are never cached, since two random draws would share
    the cache's identity (``cnn14-random``).

    Args:
        sample_rate: the input waveform's rate in Hz (the data's).
        checkpoint: path to ``Cnn14_mAP=0.431.pth`` (or its folder); None: looked up in the
            weights folder (``$AUDIOFSL_WEIGHTS_DIR``, else ``~/.cache/audiofsl/weights``).
        sha256: the file's expected SHA-256 (checked when given).
        allow_download: download the file from Zenodo when it is missing.
        freeze: keep the backbone fixed, in evaluation mode (only the adapter trains).
        adapter: :class:`~audiofsl.encoders.pretrained.base.Adapter` settings (``out_dim``,
            ``hidden_dim``, ``dropout``); None or ``out_dim: null``: the 2048-d embedding.
        cache_dir: folder caching a frozen, pretrained backbone's embeddings (None: none).
        pretrained: load the published weights (False: random initialisation).
    """

    def __init__(
        self,
        sample_rate: int = 16000,
        checkpoint: str | None = None,
        sha256: str | None = None,
        allow_download: bool = False,
        freeze: bool = True,
        adapter: dict | None = None,
        cache_dir: str | None = None,
        pretrained: bool = True,
    ) -> None:
        super().__init__()
        self.pretrained = bool(pretrained)
        if not self.pretrained and checkpoint:
            raise ValueError(
                f"encoder.checkpoint={checkpoint} is set but encoder.pretrained=false (random "
                "weights); set one or the other."
            )
        #: The weights file (None: random weights), found and read before the network is built.
        self.checkpoint_path: Path | None = None
        if self.pretrained:
            self.checkpoint_path = checkpoint_file(
                checkpoint,
                file_name=FILE_NAME,
                url=URL,
                sha256=sha256,
                allow_download=allow_download,
                setting="encoder.checkpoint",
            )
            published = read_published_checkpoint(self.checkpoint_path)
        self.backbone = CNN14Backbone()
        #: Channels of :meth:`forward_features`.
        self.feature_channels = EMBEDDING_DIM
        if self.checkpoint_path is not None:
            self.backbone.load_published(published, source=str(self.checkpoint_path))
            del published
        elif cache_dir:
            log.info("CNN14 with random weights (pretrained=false): embeddings are not cached.")
            cache_dir = None
        self.setup_pretrained(
            sample_rate,
            SAMPLE_RATE,
            EMBEDDING_DIM,
            freeze=freeze,
            adapter=adapter,
            cache_dir=cache_dir,
        )

    def embed_waveform(self, waveform: Tensor) -> Tensor:
        """Args: waveform ``[B, T']`` at 32 kHz. Returns: ``[B, 2048]``."""
        return self.backbone(waveform)

    def forward_features(self, features: Tensor) -> Tensor:
        """The last block's map (no cache, no adapter).

        Args:
            features: ``[B, 1, 1, T]`` or ``[B, T]`` waveforms at ``sample_rate``.

        Returns:
            ``[B, 2048, 2, L']``: frequency, then time (``L'`` = the 32 kHz frames // 32).
        """
        waveform = self.resampler(as_waveform(features, type(self).__name__))
        return self.backbone.forward_features(waveform)

    def backbone_layers(self) -> list[nn.Module]:
        """Log-mel with ``bn0``, ``conv_block1`` ... ``conv_block6``, ``fc1``: 8 groups."""
        return self.backbone.layers()

    def train(self, mode: bool = True) -> CNN14:
        super().train(mode)
        if self.freeze:  # the container too, not only the layers the base class sets
            self.backbone.eval()
        return self

    def identity(self) -> str:
        """``cnn14-<fingerprint of the checkpoint file>``, or ``cnn14-random``."""
        if self.checkpoint_path is None:
            return "cnn14-random"
        return f"cnn14-{fingerprint(self.checkpoint_path)}"
