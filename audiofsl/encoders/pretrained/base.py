"""What every pretrained encoder shares: waveform input, resampling, freezing, an adapter, a
cache of frozen embeddings and layer groups for layer-wise learning rates."""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod

import torch
from torch import Tensor, nn

from audiofsl.encoders.pretrained.cache import EmbeddingCache, window_keys
from audiofsl.encoders.pretrained.resample import DeviceResampler


class Adapter(nn.Module):
    """What a frozen encoder's method trains: ``Linear`` (or ``Linear-ReLU-Linear`` with a
    hidden layer) from the backbone's embedding to ``out_dim``, dropout in front.

    Args:
        in_dim: the backbone's embedding size.
        out_dim: the adapted embedding size.
        hidden_dim: a hidden layer's size (None: one linear map).
        dropout: dropout on the backbone's embedding during training.
    """

    def __init__(
        self, in_dim: int, out_dim: int, hidden_dim: int | None = None, dropout: float = 0.0
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Dropout(dropout)]
        if hidden_dim:
            layers += [nn.Linear(in_dim, hidden_dim), nn.ReLU(inplace=True)]
            in_dim = hidden_dim
        layers.append(nn.Linear(in_dim, out_dim))
        self.layers = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        """Args: x ``[B, in_dim]``. Returns: ``[B, out_dim]``."""
        return self.layers(x)


def as_waveform(features: Tensor, owner: str) -> Tensor:
    """``[B, 1, 1, T]`` (the ``waveform`` frontend's output) or ``[B, T]`` -> ``[B, T]``."""
    if features.dim() == 4 and features.shape[1] == 1 and features.shape[2] == 1:
        return features[:, 0, 0, :]
    if features.dim() == 2:
        return features
    raise ValueError(
        f"{owner} computes its own features from the waveform; it got features of shape "
        f"{tuple(features.shape)}. Use frontend=waveform (a [B, 1, 1, T] waveform) with it."
    )


class PretrainedEncoder(nn.Module, ABC):
    """Base of encoders with published weights: waveform ``[B, 1, 1, T]`` -> ``[B, out_dim]``.

    A subclass builds its backbone, then calls :meth:`setup_pretrained`, and implements
    :meth:`embed_waveform` (waveforms at ``model_sample_rate`` -> ``[B, D]``), the backbone's
    own feature extraction included, and :meth:`backbone_layers`. This class resamples from
    the data's rate on the device, freezes the backbone (``freeze=True``: no gradients, kept
    in evaluation mode, so dropout and batch statistics never change it), adds the trainable
    :class:`Adapter` (what ProtoNet trains over a frozen encoder) and, for a frozen backbone,
    reads and writes an :class:`EmbeddingCache` so that each audio window is embedded once.
    """

    #: Rate the published weights were trained at, in Hz (set by the subclass).
    model_sample_rate: int
    #: The backbone's embedding size (before the adapter).
    embedding_dim: int

    def setup_pretrained(
        self,
        sample_rate: int,
        model_sample_rate: int,
        embedding_dim: int,
        freeze: bool = True,
        adapter: dict | None = None,
        cache_dir: str | None = None,
    ) -> None:
        """Finish construction once the backbone exists.

        Args:
            sample_rate: the input waveform's rate (the data's), resampled on the device.
            model_sample_rate: the rate the weights expect.
            embedding_dim: the backbone's embedding size.
            freeze: keep the backbone fixed (only the adapter and the method's head train).
            adapter: :class:`Adapter` settings (``out_dim``, ``hidden_dim``, ``dropout``);
                None or ``{out_dim: null}``: the backbone's embedding as it is.
            cache_dir: a folder caching the frozen backbone's embeddings (None: no cache).
        """
        self.sample_rate, self.model_sample_rate = int(sample_rate), int(model_sample_rate)
        self.embedding_dim = int(embedding_dim)
        self.resampler = DeviceResampler(self.sample_rate, self.model_sample_rate)
        adapter = dict(adapter or {})
        out_dim = adapter.pop("out_dim", None)
        self.adapter = Adapter(self.embedding_dim, out_dim, **adapter) if out_dim else None
        self.out_dim = int(out_dim) if out_dim else self.embedding_dim
        self.freeze = bool(freeze)
        if self.freeze:
            for parameter in self.backbone_parameters():
                parameter.requires_grad_(False)
        self.cache = None
        if cache_dir and self.freeze:
            identity = f"{self.identity()}-{self.sample_rate}hz"
            self.cache = EmbeddingCache(cache_dir, identity)

    @abstractmethod
    def embed_waveform(self, waveform: Tensor) -> Tensor:
        """Args: waveform ``[B, T']`` at ``model_sample_rate``. Returns: ``[B, embedding_dim]``."""

    @abstractmethod
    def backbone_layers(self) -> list[nn.Module]:
        """The backbone's modules from input to output, one per learning-rate group."""

    @abstractmethod
    def identity(self) -> str:
        """A file-name-safe string naming the weights and every setting that changes the
        embedding (the cache's folder)."""

    def backbone_parameters(self) -> list[nn.Parameter]:
        """Every parameter of the backbone (the adapter's excluded)."""
        return [p for layer in self.backbone_layers() for p in layer.parameters()]

    def layer_groups(self) -> list[list[nn.Parameter]]:
        """The backbone's parameters by layer, from input to output (layer-wise learning rates,
        :class:`~audiofsl.methods.finetuning.HeadFirstFinetuning`)."""
        return [list(layer.parameters()) for layer in self.backbone_layers()]

    def train(self, mode: bool = True) -> PretrainedEncoder:
        super().train(mode)
        if self.freeze:  # everything but the adapter keeps its inference behaviour
            for child in self.children():
                if child is not self.adapter:
                    child.eval()
        return self

    def backbone_embedding(self, waveform: Tensor) -> Tensor:
        """The backbone's embeddings ``[B, embedding_dim]`` of waveforms ``[B, T]`` at the data's
        rate, read from the cache where a frozen backbone has seen a window before."""
        if self.cache is None:
            return self._compute(waveform)
        keys = window_keys(waveform)
        found, cached = self.cache.lookup(keys)
        if len(found) == len(keys):
            return cached.to(waveform.device)
        missing = [i for i in range(len(keys)) if i not in set(found)]
        computed = self._compute(waveform[missing])
        self.cache.store([keys[i] for i in missing], computed)
        out = torch.empty(len(keys), computed.shape[1], dtype=computed.dtype,
                          device=computed.device)  # fmt: skip
        out[missing] = computed
        if found:
            out[found] = cached.to(out)
        return out

    def _compute(self, waveform: Tensor) -> Tensor:
        grad = contextlib.nullcontext() if not self.freeze else torch.no_grad()
        with grad:
            return self.embed_waveform(self.resampler(waveform)).float()

    def forward(self, features: Tensor) -> Tensor:
        """Args: features ``[B, 1, 1, T]`` (frontend=waveform) or ``[B, T]``, at ``sample_rate``.
        Returns: ``[B, out_dim]`` embeddings (adapted when an adapter is set)."""
        embedding = self.backbone_embedding(as_waveform(features, type(self).__name__))
        return self.adapter(embedding) if self.adapter is not None else embedding
