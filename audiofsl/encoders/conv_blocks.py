"""Parts shared by the Conv4 and CRNN encoders: convolutional blocks and the output block."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from itertools import pairwise

import torch
from torch import Tensor, nn


def conv_block(
    in_channels: int, out_channels: int, pool: tuple[int, int] = (2, 2)
) -> nn.Sequential:
    """3x3 convolution (padding 1), BatchNorm, ReLU, max-pool (Vinyals et al., 2016).

    The max-pool runs before the ReLU: the two commute (ReLU is monotone), so outputs and
    gradients are those of conv -> BN -> ReLU -> pool, but the ReLU and its backward touch a
    ``pool[0] * pool[1]`` times smaller map (these memory-bound passes over the full-size
    map, not the convolutions, dominate a CPU training step on 5 s clips).

    Args:
        in_channels: Input channels.
        out_channels: Output channels.
        pool: max-pool size (and stride) over (frequency, time); MetaAudio uses (3, 3).

    Returns:
        Block mapping ``[B, in, F, L]`` to ``[B, out, F // pool[0], L // pool[1]]``.
    """
    return nn.Sequential(
        # BatchNorm's shift makes a convolution bias redundant.
        nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.MaxPool2d(pool),
        nn.ReLU(inplace=True),
    )


class ConvStack(nn.Module):
    """``n_blocks`` conv blocks with ``hidden_channels`` channels, checking input sizes.

    Weights and activations are kept channels-last (NHWC in memory; shapes and values are
    unchanged): oneDNN's NHWC convolutions train Conv4 and the CRNNs about 1.5x faster on CPU
    than NCHW (``benchmarks/methods.py``), and NHWC is the layout tensor cores use under
    mixed precision on GPUs. The output map is channels-last too; reshape, not view, it.

    Args:
        in_channels: Channels of the input features.
        n_features: Frequency bins ``F`` of the input; at least ``pool[0] ** n_blocks``.
        hidden_channels: Channels of every block.
        n_blocks: Number of blocks; each divides frequency and time by the pool size (floor).
        pool: max-pool size over (frequency, time), or one int for both (default 2).
    """

    def __init__(
        self,
        in_channels: int,
        n_features: int,
        hidden_channels: int,
        n_blocks: int,
        pool: int | tuple[int, int] | list[int] = 2,
    ) -> None:
        super().__init__()
        for name, value in {
            "in_channels": in_channels,
            "hidden_channels": hidden_channels,
            "n_blocks": n_blocks,
        }.items():
            if value < 1:
                raise ValueError(f"encoder {name} must be >= 1, got {value}.")
        pool = (pool, pool) if isinstance(pool, int) else tuple(pool)
        if len(pool) != 2 or any(not isinstance(p, int) or p < 1 for p in pool):
            raise ValueError(f"encoder pool={pool!r} must be a positive int or [freq, time].")
        self.pool = pool
        self.min_features, self.min_size = pool[0] ** n_blocks, pool[1] ** n_blocks
        if n_features < self.min_features:
            raise ValueError(
                f"encoder n_features={n_features} is too small for n_blocks={n_blocks} and "
                f"pool={list(pool)}: each block divides the frequency axis by {pool[0]}, so "
                f"n_features must be >= {self.min_features}. Use more mel bins/coefficients "
                "in the frontend, a smaller pool or fewer encoder blocks."
            )
        self.in_channels = in_channels
        self.n_features = n_features
        self.out_channels = hidden_channels
        self.out_features = n_features
        for _ in range(n_blocks):
            self.out_features //= pool[0]
        channels = [in_channels] + [hidden_channels] * n_blocks
        self.blocks = nn.Sequential(*(conv_block(a, b, pool) for a, b in pairwise(channels)))
        self.blocks.to(memory_format=torch.channels_last)

    def forward(self, x: Tensor) -> Tensor:
        """Applies the blocks.

        Args:
            x: ``[B, in_channels, n_features, L]`` features, ``L >= pool[1] ** n_blocks``.

        Returns:
            ``[B, hidden_channels, F', L']`` feature map (each axis divided by its pool size
            ``n_blocks`` times).
        """
        if x.dim() != 4 or x.shape[1] != self.in_channels or x.shape[2] != self.n_features:
            raise ValueError(
                f"encoder expects features [B, {self.in_channels}, {self.n_features}, L], got "
                f"{tuple(x.shape)}; set the encoder's in_channels/n_features to the frontend's "
                "out_channels/n_features."
            )
        if x.shape[3] < self.min_size:
            raise ValueError(
                f"encoder input length {x.shape[3]} frames is shorter than the minimum "
                f"{self.min_size} (pool ** n_blocks); use longer clips, a smaller pool or fewer "
                "blocks."
            )
        return self.blocks(x.contiguous(memory_format=torch.channels_last))


@dataclass(frozen=True)
class OutputBlockSettings:
    """Settings of an encoder's optional :class:`OutputBlock` (``output_block`` in the encoder's
    config: a mapping with these keys, or null for no block).

    Args:
        out_dim: Size of the embedding after the block (the Linear layer's output).
        dropout: Dropout probability on the pooled embedding, in ``[0, 1)``.
    """

    out_dim: int
    dropout: float = 0.0

    def __post_init__(self) -> None:
        if isinstance(self.out_dim, bool) or not isinstance(self.out_dim, int) or self.out_dim < 1:
            raise ValueError(
                f"encoder output_block.out_dim must be a positive integer, got {self.out_dim!r}."
            )
        number = isinstance(self.dropout, int | float) and not isinstance(self.dropout, bool)
        if not number or not 0 <= self.dropout < 1:
            raise ValueError(
                f"encoder output_block.dropout must be in [0, 1), got {self.dropout!r}."
            )

    @classmethod
    def of(cls, value: OutputBlockSettings | Mapping | None) -> OutputBlockSettings | None:
        """The settings from a mapping (as a config gives them), the settings, or None."""
        if value is None or isinstance(value, cls):
            return value
        if not isinstance(value, Mapping):
            raise ValueError(
                f"encoder output_block must be null or a mapping such as "
                f"{{out_dim: 64, dropout: 0.3}}, got {value!r}."
            )
        names = {field.name for field in fields(cls)}
        unknown = sorted(set(value) - names)
        if unknown or "out_dim" not in value:
            raise ValueError(
                f"encoder output_block={dict(value)!r} needs out_dim and may set dropout "
                f"(unknown keys: {unknown or 'none'})."
            )
        return cls(**value)


class OutputBlock(nn.Sequential):
    """Dropout, BatchNorm1d, Linear on a pooled embedding: the end of MetaAudio's encoders
    (Heggan et al., 2022; their ``logits`` block), which the prototypical contrastive learning
    reference (Sgouropoulos et al., 2025) trains with ``dropout=0.3``.

    Its modules are numbered as the reference's (``0`` Dropout, ``1`` BatchNorm1d, ``2``
    Linear), so state dict keys map one to one. In training mode the BatchNorm normalises over
    the batch and needs more than one row.

    Args:
        in_dim: Size ``D`` of the pooled embedding.
        out_dim: Size of the output embedding.
        dropout: Dropout probability.
    """

    def __init__(self, in_dim: int, out_dim: int, dropout: float = 0.0) -> None:
        super().__init__(nn.Dropout(dropout), nn.BatchNorm1d(in_dim), nn.Linear(in_dim, out_dim))
        self.out_dim = out_dim

    def forward(self, x: Tensor) -> Tensor:
        """Maps ``[B, in_dim]`` embeddings to ``[B, out_dim]``."""
        return super().forward(x)


def build_output_block(
    in_dim: int, settings: OutputBlockSettings | Mapping | None
) -> OutputBlock | None:
    """The :class:`OutputBlock` of ``settings`` on ``in_dim`` features, or None for no block.

    Args:
        in_dim: Size of the pooled embedding.
        settings: :class:`OutputBlockSettings`, a mapping of its fields, or None.

    Returns:
        Module mapping ``[B, in_dim]`` to ``[B, settings.out_dim]``, or None.
    """
    settings = OutputBlockSettings.of(settings)
    if settings is None:
        return None
    return OutputBlock(in_dim, settings.out_dim, settings.dropout)
