"""Convolutional blocks shared by the Conv4 and CRNN encoders."""

from __future__ import annotations

from itertools import pairwise

from torch import Tensor, nn


def conv_block(in_channels: int, out_channels: int) -> nn.Sequential:
    """3x3 convolution (padding 1), BatchNorm, ReLU, 2x2 max-pool (Vinyals et al., 2016).

    Args:
        in_channels: Input channels.
        out_channels: Output channels.

    Returns:
        Block mapping ``[B, in, F, L]`` to ``[B, out, F // 2, L // 2]``.
    """
    return nn.Sequential(
        # BatchNorm's shift makes a convolution bias redundant.
        nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(2),
    )


class ConvStack(nn.Module):
    """``n_blocks`` conv blocks with ``hidden_channels`` channels, checking input sizes.

    Args:
        in_channels: Channels of the input features.
        n_features: Frequency bins ``F`` of the input; at least ``2 ** n_blocks``.
        hidden_channels: Channels of every block.
        n_blocks: Number of blocks; each halves frequency and time (floor).
    """

    def __init__(
        self, in_channels: int, n_features: int, hidden_channels: int, n_blocks: int
    ) -> None:
        super().__init__()
        for name, value in {
            "in_channels": in_channels,
            "hidden_channels": hidden_channels,
            "n_blocks": n_blocks,
        }.items():
            if value < 1:
                raise ValueError(f"encoder {name} must be >= 1, got {value}.")
        self.min_size = 2**n_blocks
        if n_features < self.min_size:
            raise ValueError(
                f"encoder n_features={n_features} is too small for n_blocks={n_blocks}: each "
                f"block halves the frequency axis, so n_features must be >= {self.min_size}. "
                "Use more mel bins/coefficients in the frontend or fewer encoder blocks."
            )
        self.in_channels = in_channels
        self.n_features = n_features
        self.out_channels = hidden_channels
        self.out_features = n_features // self.min_size
        channels = [in_channels] + [hidden_channels] * n_blocks
        self.blocks = nn.Sequential(*(conv_block(a, b) for a, b in pairwise(channels)))

    def forward(self, x: Tensor) -> Tensor:
        """Applies the blocks.

        Args:
            x: ``[B, in_channels, n_features, L]`` features, ``L >= 2 ** n_blocks``.

        Returns:
            ``[B, hidden_channels, n_features // 2**n_blocks, L // 2**n_blocks]`` feature map.
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
                f"{self.min_size} (2 ** n_blocks); use longer clips or fewer blocks."
            )
        return self.blocks(x)
