"""Regularised VGG-like encoder of Pons, Serrà & Serra (ICASSP 2019)."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from audiofsl.encoders.efficientnet import check_pooling, global_pool


class PonsVGG(nn.Module):
    """VGG-like CNN of Pons, Serrà & Serra, "Training neural audio classifiers with few data"
    (ICASSP 2019, arXiv:1810.10274), their regularised small-data baseline.

    Layers, as in the paper and the authors' released TensorFlow code
    (``jordipons/neural-classifiers-with-few-audio``, ``models_sl.vgg``)::

        BatchNorm(input)
        n_blocks x [conv 3x3 (same padding, bias) -> ELU -> BatchNorm -> max-pool 2x2]
        global pooling over (frequency, time) -> dropout(0.5)

    The order is conv -> ELU -> BatchNorm (normalisation *after* the non-linearity), not the
    more common conv -> BN -> activation of :func:`~audiofsl.encoders.conv_block`; the
    convolution keeps its bias since no BatchNorm directly follows it. Convolutions are
    Glorot-uniform initialised with zero bias, as in the released code. Defaults: 5 blocks of
    128 filters.

    Changes for this library's encoder contract (an embedding of any clip length):

    * The paper flattens the last map into a dense softmax layer, which fixes the input size;
      here the map is pooled globally (``"mean"`` or ``"max"`` over frequency and time) into
      an ``hidden_channels``-d embedding, and the dropout (the paper's, before its output
      layer) acts on that embedding. The classifier is a separate head.
    * Each max-pool halves an axis only while it has at least ``pool`` bins; an axis already
      smaller is left unpooled, so tiny inputs (down to 1 x 1) pass and no axis shrinks
      below 1.

    Args:
        in_channels: Channels of the input features (frontend ``out_channels``).
        n_features: Frequency bins of the input (frontend ``n_features``), checked at run time;
            ``None`` accepts any.
        hidden_channels: Filters of every conv layer (the paper: 128).
        n_blocks: Conv blocks (the paper: 5).
        pool: max-pool size over (frequency, time), or one int for both (the paper: 2).
        dropout: Dropout probability on the embedding in training (the paper: 0.5).
        pooling: Global pooling, ``"mean"`` or ``"max"``.
        input_norm: BatchNorm on the input features, as the released code ("BN input").
    """

    def __init__(
        self,
        in_channels: int = 1,
        n_features: int | None = None,
        hidden_channels: int = 128,
        n_blocks: int = 5,
        pool: int | tuple[int, int] | list[int] = 2,
        dropout: float = 0.5,
        pooling: str = "mean",
        input_norm: bool = True,
    ) -> None:
        super().__init__()
        check_pooling("PonsVGG", pooling)
        for name, value in {
            "in_channels": in_channels,
            "hidden_channels": hidden_channels,
            "n_blocks": n_blocks,
        }.items():
            if value < 1:
                raise ValueError(f"PonsVGG {name} must be >= 1, got {value}.")
        if n_features is not None and n_features < 1:
            raise ValueError(f"PonsVGG n_features must be >= 1 or None, got {n_features}.")
        pool = (pool, pool) if isinstance(pool, int) else tuple(pool)
        if len(pool) != 2 or any(not isinstance(p, int) or p < 1 for p in pool):
            raise ValueError(f"PonsVGG pool={pool!r} must be a positive int or [freq, time].")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"PonsVGG dropout must be in [0, 1), got {dropout}.")
        self.in_channels = in_channels
        self.n_features = n_features
        self.pool = pool
        self.pooling = pooling
        self.input_norm = nn.BatchNorm2d(in_channels) if input_norm else nn.Identity()
        self.blocks = nn.ModuleList()
        channels = in_channels
        for _ in range(n_blocks):
            conv = nn.Conv2d(channels, hidden_channels, kernel_size=3, padding=1)
            nn.init.xavier_uniform_(conv.weight)
            nn.init.zeros_(conv.bias)
            self.blocks.append(nn.Sequential(conv, nn.ELU(), nn.BatchNorm2d(hidden_channels)))
            channels = hidden_channels
        self.dropout = nn.Dropout(dropout)
        #: Channels of :meth:`forward_features`.
        self.feature_channels = hidden_channels
        self.out_dim = hidden_channels

    def _pool(self, x: Tensor) -> Tensor:
        """Max-pool by ``pool`` on each axis that has at least ``pool`` bins (floor)."""
        kernel = tuple(
            p if size >= p else 1 for p, size in zip(self.pool, x.shape[-2:], strict=True)
        )
        return x if kernel == (1, 1) else F.max_pool2d(x, kernel_size=kernel, stride=kernel)

    def forward_features(self, x: Tensor) -> Tensor:
        """Convolutional feature map.

        Args:
            x: ``[B, in_channels, n_features, L]`` features, any ``L >= 1``.

        Returns:
            ``[B, hidden_channels, F', L']``: each block divides an axis by its pool size
            (floor) while the axis has at least that many bins.
        """
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"PonsVGG expects features [B, {self.in_channels}, F, L] (in_channels="
                f"{self.in_channels}), got {tuple(x.shape)}."
            )
        if self.n_features is not None and x.shape[2] != self.n_features:
            raise ValueError(
                f"PonsVGG expects features [B, {self.in_channels}, {self.n_features}, L] "
                f"(n_features={self.n_features}), got {tuple(x.shape)}; set the encoder's "
                "n_features to the frontend's."
            )
        x = self.input_norm(x)
        for block in self.blocks:
            x = self._pool(block(x))
        return x

    def forward(self, x: Tensor) -> Tensor:
        """Embeds features.

        Args:
            x: ``[B, in_channels, n_features, L]`` features, any ``L >= 1``.

        Returns:
            ``[B, hidden_channels]`` embeddings (dropout applied in training mode only).
        """
        return self.dropout(global_pool(self.forward_features(x), self.pooling))
