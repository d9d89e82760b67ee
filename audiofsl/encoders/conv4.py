"""Four-block convolutional encoder ("CNN" of MetaAudio)."""

from __future__ import annotations

from collections.abc import Mapping

from torch import Tensor, nn

from audiofsl.encoders.conv_blocks import ConvStack, OutputBlockSettings, build_output_block

CONV4_POOLING = ("time_mean", "global_mean")


class Conv4(nn.Module):
    """Conv-4 backbone of Vinyals et al. (2016) / Snell et al. (2017), as used on audio by
    MetaAudio (Heggan et al., 2022): ``n_blocks`` x [conv3x3, BatchNorm, ReLU, MaxPool2].

    The feature map is pooled so that any clip length works:
    ``"time_mean"`` averages over time and flattens channels x remaining frequency bins
    (``out_dim = hidden_channels * F'``), keeping the spectral
    layout; ``"global_mean"`` averages over frequency and time (``out_dim = hidden_channels``).

    An optional output block (``output_block``, off by default) ends the encoder as MetaAudio's
    "CNN" does: Dropout -> BatchNorm1d -> Linear on the pooled embedding, then
    ``out_dim = output_block.out_dim``. MetaAudio flattens the whole ``C x F' x L'`` map of a
    fixed input length instead of pooling; with ``pool=3`` on 128 bins x 157 frames
    (``F' = L' = 1``) that is the same 64 values as ``"time_mean"``.

    Args:
        in_channels: Channels of the input features (frontend ``out_channels``).
        n_features: Frequency bins of the input (frontend ``n_features``).
        hidden_channels: Channels of every block.
        n_blocks: Number of conv blocks.
        pooling: ``"time_mean"`` or ``"global_mean"``.
        pool: max-pool size of each block over (frequency, time), e.g. ``[3, 3]`` as MetaAudio.
        output_block: None (default: the pooled embedding is the output), or
            :class:`~audiofsl.encoders.conv_blocks.OutputBlockSettings` or a mapping of them,
            e.g. ``{"out_dim": 64, "dropout": 0.3}`` as MetaAudio.
    """

    def __init__(
        self,
        in_channels: int = 1,
        n_features: int = 128,
        hidden_channels: int = 64,
        n_blocks: int = 4,
        pooling: str = "time_mean",
        pool: int | tuple[int, int] | list[int] = 2,
        output_block: OutputBlockSettings | Mapping | None = None,
    ) -> None:
        super().__init__()
        if pooling not in CONV4_POOLING:
            raise ValueError(
                f"Conv4 pooling={pooling!r} is not supported; choose one of {CONV4_POOLING}."
            )
        self.pooling = pooling
        self.stack = ConvStack(in_channels, n_features, hidden_channels, n_blocks, pool)
        #: Channels of :meth:`forward_features` (e.g. a relation module's input).
        self.feature_channels = hidden_channels
        if pooling == "time_mean":
            pooled_dim = hidden_channels * self.stack.out_features
        else:
            pooled_dim = hidden_channels
        self.output_block = build_output_block(pooled_dim, output_block)
        self.out_dim = self.output_block.out_dim if self.output_block else pooled_dim

    def forward_features(self, x: Tensor) -> Tensor:
        """Convolutional feature map.

        Args:
            x: ``[B, in_channels, n_features, L]`` features, ``L >= pool[1] ** n_blocks``.

        Returns:
            ``[B, hidden_channels, F', L']``, each axis divided ``n_blocks`` times by its pool.
        """
        return self.stack(x)

    def forward(self, x: Tensor) -> Tensor:
        """Embeds features.

        Args:
            x: ``[B, in_channels, n_features, L]`` features, ``L >= pool[1] ** n_blocks``.

        Returns:
            ``[B, out_dim]`` embeddings.
        """
        feature_map = self.forward_features(x)
        if self.pooling == "time_mean":
            embedding = feature_map.mean(dim=-1).flatten(1)
        else:
            embedding = feature_map.mean(dim=(-2, -1))
        return embedding if self.output_block is None else self.output_block(embedding)
