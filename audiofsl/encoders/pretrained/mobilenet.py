"""MobileNetV3-Large (Howard et al., "Searching for MobileNetV3", ICCV 2019) as EfficientAT's
mn models build it on spectrograms: the block table, the blocks and the backbone without its
classifier (see :mod:`audiofsl.encoders.pretrained.efficientat` for the table and the weights)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

BN_EPS, BN_MOMENTUM = 1e-3, 0.01


def make_divisible(value: float, divisor: int = 8) -> int:
    """MobileNet's channel rounding: ``value`` to the nearest multiple of ``divisor`` (at least
    ``divisor``), one step up where rounding would lose more than 10 %."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


@dataclass(frozen=True)
class BlockSpec:
    """One inverted-residual block of the table (channels at width 1.0)."""

    in_channels: int
    kernel: int
    expanded: int
    out_channels: int
    se: bool
    hardswish: bool
    stride: int

    def scaled(self, width: float) -> BlockSpec:
        """The block with every channel count scaled by ``width`` and rounded."""
        return BlockSpec(
            make_divisible(self.in_channels * width),
            self.kernel,
            make_divisible(self.expanded * width),
            make_divisible(self.out_channels * width),
            self.se,
            self.hardswish,
            self.stride,
        )

    @property
    def has_expansion(self) -> bool:
        return self.expanded != self.in_channels


#: MobileNetV3-Large's blocks (Howard et al. 2019, Table 1), as EfficientAT's mn models use them.
MOBILENET_V3_LARGE = tuple(
    BlockSpec(i, k, e, o, se, act == "HS", s)
    for i, k, e, o, se, act, s in [
        (16, 3, 16, 16, False, "RE", 1),
        (16, 3, 64, 24, False, "RE", 2),
        (24, 3, 72, 24, False, "RE", 1),
        (24, 5, 72, 40, True, "RE", 2),
        (40, 5, 120, 40, True, "RE", 1),
        (40, 5, 120, 40, True, "RE", 1),
        (40, 3, 240, 80, False, "HS", 2),
        (80, 3, 200, 80, False, "HS", 1),
        (80, 3, 184, 80, False, "HS", 1),
        (80, 3, 184, 80, False, "HS", 1),
        (80, 3, 480, 112, True, "HS", 1),
        (112, 3, 672, 112, True, "HS", 1),
        (112, 5, 672, 160, True, "HS", 2),
        (160, 5, 960, 160, True, "HS", 1),
        (160, 5, 960, 160, True, "HS", 1),
    ]
)
#: The head conv's channels relative to the last block's.
HEAD_EXPANSION = 6


def block_specs(width: float) -> list[BlockSpec]:
    """The block table at ``width``."""
    return [spec.scaled(width) for spec in MOBILENET_V3_LARGE]


class ConvBNAct(nn.Sequential):
    """Conv2d (no bias, "same" padding) -> BatchNorm2d -> activation (``None``: none)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel: int = 1,
        stride: int = 1,
        groups: int = 1,
        activation: type[nn.Module] | None = None,
    ) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel, stride, (kernel - 1) // 2,
                              groups=groups, bias=False)  # fmt: skip
        self.bn = nn.BatchNorm2d(out_channels, eps=BN_EPS, momentum=BN_MOMENTUM)
        self.act = activation() if activation is not None else nn.Identity()


class SqueezeExcite(nn.Module):
    """Channel squeeze-and-excitation (Hu et al. 2018) with linear layers: the channel means
    through ``channels -> squeeze`` (ReLU) ``-> channels`` (sigmoid) rescale the map."""

    def __init__(self, channels: int, squeeze: int) -> None:
        super().__init__()
        self.fc_reduce = nn.Linear(channels, squeeze)
        self.fc_expand = nn.Linear(squeeze, channels)

    def forward(self, x: Tensor) -> Tensor:
        """Args: x ``[B, C, F, L]``. Returns: ``[B, C, F, L]``."""
        scale = torch.relu(self.fc_reduce(x.mean(dim=(2, 3))))
        return x * torch.sigmoid(self.fc_expand(scale))[:, :, None, None]


class InvertedResidual(nn.Module):
    """MobileNetV3's block: [1x1 expand] -> depthwise conv -> [SE] -> 1x1 projection
    (+ the input where the shape is kept)."""

    def __init__(self, spec: BlockSpec) -> None:
        super().__init__()
        act = nn.Hardswish if spec.hardswish else nn.ReLU
        self.spec = spec
        if spec.has_expansion:
            self.expand = ConvBNAct(spec.in_channels, spec.expanded, activation=act)
        self.depthwise = ConvBNAct(spec.expanded, spec.expanded, spec.kernel, spec.stride,
                                   groups=spec.expanded, activation=act)  # fmt: skip
        if spec.se:
            self.se = SqueezeExcite(spec.expanded, make_divisible(spec.expanded // 4))
        self.project = ConvBNAct(spec.expanded, spec.out_channels)
        self.residual = spec.stride == 1 and spec.in_channels == spec.out_channels

    def forward(self, x: Tensor) -> Tensor:
        """Args: x ``[B, in, F, L]``. Returns: ``[B, out, ceil(F / s), ceil(L / s)]``."""
        out = self.expand(x) if self.spec.has_expansion else x
        out = self.depthwise(out)
        if self.spec.se:
            out = self.se(out)
        out = self.project(out)
        return out + x if self.residual else out


class MobileNetV3Backbone(nn.Module):
    """EfficientAT's feature extractor: stem, the 15 blocks, the head conv (no classifier).

    Args:
        width: the width multiplier (1.0: mn10).
    """

    def __init__(self, width: float = 1.0) -> None:
        super().__init__()
        self.specs = block_specs(width)
        self.stem = ConvBNAct(1, self.specs[0].in_channels, 3, 2, activation=nn.Hardswish)
        self.blocks = nn.ModuleList(InvertedResidual(spec) for spec in self.specs)
        last = self.specs[-1].out_channels
        self.out_channels = HEAD_EXPANSION * last
        self.head = ConvBNAct(last, self.out_channels, activation=nn.Hardswish)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """MobileNet's initialisation: He-normal convs (fan out), unit BatchNorm, N(0, 0.01)
        linear weights, zero biases."""
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out")
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
            elif isinstance(module, nn.Linear):
                nn.init.normal_(module.weight, 0.0, 0.01)
                nn.init.zeros_(module.bias)

    def forward_features(self, spectrogram: Tensor) -> Tensor:
        """Args: spectrogram ``[B, 1, F, L]``. Returns: ``[B, out_channels, ceil(F / 32),
        ceil(L / 32)]``."""
        x = self.stem(spectrogram)
        for block in self.blocks:
            x = block(x)
        return self.head(x)

    def forward(self, spectrogram: Tensor) -> Tensor:
        """Args: spectrogram ``[B, 1, F, L]``. Returns: ``[B, out_channels]`` (mean pooled)."""
        return self.forward_features(spectrogram).mean(dim=(2, 3))
