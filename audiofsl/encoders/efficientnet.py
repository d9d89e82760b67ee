"""EfficientNet-B0 encoder (COLA's audio encoder)."""

from __future__ import annotations

import timm
from torch import Tensor, nn

GLOBAL_POOLING = ("max", "mean")


def check_pooling(owner: str, pooling: str) -> None:
    """Raises a ValueError naming ``owner`` when ``pooling`` is not in :data:`GLOBAL_POOLING`."""
    if pooling not in GLOBAL_POOLING:
        raise ValueError(
            f"{owner} pooling={pooling!r} is not supported; choose one of {GLOBAL_POOLING}."
        )


def global_pool(feature_map: Tensor, pooling: str) -> Tensor:
    """Max or mean over the two spatial axes, ``[B, C, H, W] -> [B, C]``."""
    if pooling == "max":
        return feature_map.amax(dim=(-2, -1))
    return feature_map.mean(dim=(-2, -1))


class EfficientNetB0(nn.Module):
    """EfficientNet-B0 (Tan & Le, ICML 2019) on spectrogram features, randomly initialised.

    COLA (Saeed, Grangier & Zeghidour, "Contrastive Learning of General-Purpose Audio
    Representations", ICASSP 2021) embeds a single-channel log-mel spectrogram with
    EfficientNet-B0 followed by global max pooling, giving a 1280-d representation. The
    backbone is timm's ``efficientnet_b0`` without classifier (``pretrained=False``: no
    ImageNet weights are downloaded), its stem taking ``in_channels`` channels; the pooling
    over (frequency, time) is done here, so clips of any length work (the map is 32 times
    smaller on each axis, rounded up).

    Args:
        in_channels: Channels of the input features (frontend ``out_channels``).
        pooling: ``"max"`` (COLA) or ``"mean"`` over the final feature map.
        drop_rate: Dropout on the pooled embedding (0: none, as COLA).
    """

    def __init__(self, in_channels: int = 1, pooling: str = "max", drop_rate: float = 0.0) -> None:
        super().__init__()
        check_pooling("EfficientNetB0", pooling)
        if not 0.0 <= drop_rate < 1.0:
            raise ValueError(f"drop_rate must be in [0, 1), got {drop_rate}.")
        self.pooling = pooling
        self.backbone = timm.create_model(
            "efficientnet_b0",
            pretrained=False,
            in_chans=in_channels,
            num_classes=0,
            global_pool="",
        )
        self.dropout = nn.Dropout(drop_rate)
        #: Channels of :meth:`forward_features`.
        self.feature_channels = self.backbone.num_features  # 1280
        self.out_dim = self.feature_channels

    def forward_features(self, x: Tensor) -> Tensor:
        """Final convolutional feature map (after the 1x1 head conv, BN and SiLU).

        Args:
            x: ``[B, in_channels, F, L]`` features.

        Returns:
            ``[B, 1280, ceil(F / 32), ceil(L / 32)]``.
        """
        return self.backbone.forward_features(x)

    def forward(self, x: Tensor) -> Tensor:
        """Embeds features.

        Args:
            x: ``[B, in_channels, F, L]`` features.

        Returns:
            ``[B, 1280]`` embeddings.
        """
        return self.dropout(global_pool(self.forward_features(x), self.pooling))
