"""ResNet-18 encoders of CLAR: 2-D on spectrograms, 1-D on raw waveforms."""

from __future__ import annotations

import timm
from torch import Tensor, nn

from audiofsl.encoders.efficientnet import check_pooling, global_pool

RESNET_STAGES = ((64, 1), (128, 2), (256, 2), (512, 2))  # (channels, stride) of each stage


class ResNet18(nn.Module):
    """ResNet-18 (He et al., CVPR 2016) on features ``[B, C, F, L]``, randomly initialised.

    CLAR (Al-Tahan & Mohsenzadeh, "CLAR: Contrastive Learning of Auditory Representations",
    AISTATS 2021) embeds its three-channel spectrogram stack with ResNet-18 followed by
    global average pooling (512-d). The backbone is timm's ``resnet18`` without classifier
    (``pretrained=False``), its stem taking ``in_channels`` channels (any number); the pooling
    over (frequency, time) is done here, so clips of any length work.

    Args:
        in_channels: Channels of the input features (frontend ``out_channels``).
        pooling: ``"mean"`` (CLAR) or ``"max"`` over the final feature map.
    """

    def __init__(self, in_channels: int = 1, pooling: str = "mean") -> None:
        super().__init__()
        check_pooling("ResNet18", pooling)
        self.pooling = pooling
        self.backbone = timm.create_model(
            "resnet18", pretrained=False, in_chans=in_channels, num_classes=0, global_pool=""
        )
        #: Channels of :meth:`forward_features`.
        self.feature_channels = self.backbone.num_features  # 512
        self.out_dim = self.feature_channels

    def forward_features(self, x: Tensor) -> Tensor:
        """Output of the last residual stage.

        Args:
            x: ``[B, in_channels, F, L]`` features.

        Returns:
            ``[B, 512, F', L']``, each axis about 32 times smaller (rounded up).
        """
        return self.backbone.forward_features(x)

    def forward(self, x: Tensor) -> Tensor:
        """Embeds features.

        Args:
            x: ``[B, in_channels, F, L]`` features.

        Returns:
            ``[B, 512]`` embeddings.
        """
        return global_pool(self.forward_features(x), self.pooling)


class BasicBlock1d(nn.Module):
    """ResNet basic block in 1-D: two ``conv1d-BN`` layers (ReLU between) plus a shortcut,
    then ReLU. The first conv and the shortcut (1x1 conv + BN, when shape changes) stride.

    Args:
        in_channels: Input channels.
        out_channels: Output channels.
        stride: Stride of the first conv (and of the shortcut).
        kernel_size: Odd kernel size of both convs.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int, kernel_size: int) -> None:
        super().__init__()
        padding = kernel_size // 2
        self.conv1 = nn.Conv1d(in_channels, out_channels, kernel_size, stride, padding, bias=False)
        self.bn1 = nn.BatchNorm1d(out_channels)
        self.conv2 = nn.Conv1d(out_channels, out_channels, kernel_size, 1, padding, bias=False)
        self.bn2 = nn.BatchNorm1d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(
                nn.Conv1d(in_channels, out_channels, 1, stride, bias=False),
                nn.BatchNorm1d(out_channels),
            )

    def forward(self, x: Tensor) -> Tensor:
        """``[B, in_channels, T] -> [B, out_channels, ceil(T / stride)]``."""
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + self.shortcut(x))


class ResNet1D18(nn.Module):
    """ResNet-18 on raw waveforms with every 2-D operation made 1-D (CLAR's raw-signal model).

    CLAR (Al-Tahan & Mohsenzadeh, AISTATS 2021) compares its spectrogram model with a 1-D
    ResNet-18 fed the waveform: the same architecture (He et al., CVPR 2016) with conv1d,
    batchnorm1d, maxpool1d and 1-D adaptive pooling, and a first convolution of kernel 9.
    PyTorch, torchvision and timm have no 1-D ResNet, so this one is written here:
    stem ``conv1d(first_kernel, stride 2) - BN - ReLU - maxpool1d(3, stride 2)``, then four
    stages of two :class:`BasicBlock1d` with 64, 128, 256, 512 channels (strides 1, 2, 2, 2),
    then global pooling over time: ``out_dim = 512``, time reduced 32 times (rounded up).
    Convs use He (fan-out) initialisation, BN starts at identity. The authors' released
    code (``models.py``) also widens the residual blocks' convs to 9 taps:
    ``kernel_size=9`` gives that.

    Input comes from :class:`audiofsl.frontends.Waveform`, ``[B, C, 1, T]``. Another
    frontend also works: its ``C * F`` feature rows become the conv's input channels (a 1-D
    conv over time), hence ``n_features``.

    Args:
        in_channels: Channels of the input features (frontend ``out_channels``).
        n_features: Feature rows of the input (frontend ``n_features``; 1 for waveforms).
        first_kernel: Kernel size of the stem conv (9 in CLAR).
        kernel_size: Kernel size of the residual blocks' convs (3 as ResNet-18).
        pooling: ``"mean"`` (CLAR) or ``"max"`` over time.
    """

    def __init__(
        self,
        in_channels: int = 1,
        n_features: int = 1,
        first_kernel: int = 9,
        kernel_size: int = 3,
        pooling: str = "mean",
    ) -> None:
        super().__init__()
        check_pooling("ResNet1D18", pooling)
        for name, value in {"first_kernel": first_kernel, "kernel_size": kernel_size}.items():
            if value < 1 or value % 2 == 0:
                raise ValueError(f"ResNet1D18 {name} must be a positive odd number, got {value}.")
        if in_channels < 1 or n_features < 1:
            raise ValueError(
                f"ResNet1D18 in_channels and n_features must be >= 1, got {in_channels}, "
                f"{n_features}."
            )
        self.in_channels = in_channels
        self.n_features = n_features
        self.pooling = pooling
        width = RESNET_STAGES[0][0]
        self.stem = nn.Sequential(
            nn.Conv1d(
                in_channels * n_features, width, first_kernel, 2, first_kernel // 2, bias=False
            ),
            nn.BatchNorm1d(width),
            nn.ReLU(inplace=True),
            nn.MaxPool1d(kernel_size=3, stride=2, padding=1),
        )
        stages = []
        for channels, stride in RESNET_STAGES:
            stages.append(
                nn.Sequential(
                    BasicBlock1d(width, channels, stride, kernel_size),
                    BasicBlock1d(channels, channels, 1, kernel_size),
                )
            )
            width = channels
        self.stages = nn.Sequential(*stages)
        self.pool = nn.AdaptiveMaxPool1d(1) if pooling == "max" else nn.AdaptiveAvgPool1d(1)
        #: Channels of :meth:`forward_features`.
        self.feature_channels = width  # 512
        self.out_dim = width
        self._initialise()

    def _initialise(self) -> None:
        for module in self.modules():
            if isinstance(module, nn.Conv1d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(module, nn.BatchNorm1d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)

    def _sequence(self, x: Tensor) -> Tensor:
        """``[B, C, F, T] -> [B, 512, T']`` (the 1-D feature sequence)."""
        if x.dim() != 4 or tuple(x.shape[1:3]) != (self.in_channels, self.n_features):
            raise ValueError(
                f"ResNet1D18 expects features [B, {self.in_channels}, {self.n_features}, T] "
                f"(in_channels, n_features), got {tuple(x.shape)}."
            )
        return self.stages(self.stem(x.flatten(1, 2)))

    def forward_features(self, x: Tensor) -> Tensor:
        """Output of the last residual stage, as a one-row map (the 4-D encoder contract).

        Args:
            x: ``[B, in_channels, n_features, T]`` features, e.g. ``[B, 1, 1, T]`` waveforms.

        Returns:
            ``[B, 512, 1, T']`` with ``T'`` about ``T / 32`` (rounded up).
        """
        return self._sequence(x).unsqueeze(2)

    def forward(self, x: Tensor) -> Tensor:
        """Embeds features.

        Args:
            x: ``[B, in_channels, n_features, T]`` features, e.g. ``[B, 1, 1, T]`` waveforms.

        Returns:
            ``[B, 512]`` embeddings.
        """
        return self.pool(self._sequence(x)).flatten(1)
