"""Convolutional blocks shared by the Conv4 and CRNN encoders."""

from __future__ import annotations

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
