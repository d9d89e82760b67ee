"""Relation module of relation networks (Sung et al., 2018, "Learning to Compare")."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

REDUCTIONS = ("mean", "sum")


class RelationModule(nn.Module):
    """Learned similarity between a class feature map and a query feature map.

    Sung et al. (CVPR 2018) score a query against a class by concatenating the two feature
    maps along the channels and passing the pair through a small CNN ending in a sigmoid:
    ``n_blocks`` of ``conv3x3 (padding 1) -> BatchNorm -> ReLU -> MaxPool2d(2)`` with
    ``hidden_channels`` channels, then ``Linear(hidden_channels, hidden_units) -> ReLU ->
    Linear(hidden_units, 1) -> sigmoid``. Here the pooling uses ``ceil_mode`` and the blocks
    are followed by global average pooling over the map, so any map size works (a Conv4
    map, or a CRNN conv map of any length, down to 1 x 1); the first linear layer therefore
    takes ``hidden_channels`` inputs instead of a fixed flattened size.

    For K-shot tasks the class feature map is the mean of its support maps
    (:meth:`feature_prototypes`); Sung et al. sum them, which ``reduction="sum"`` reproduces.

    Args:
        in_channels: Channels ``C`` of the encoder's feature map (the module concatenates
            prototype and query itself, so its first conv sees ``2 * C`` channels).
        hidden_channels: Channels of each conv block.
        hidden_units: Width of the hidden fully connected layer.
        n_blocks: Number of conv blocks.
    """

    def __init__(
        self, in_channels: int, hidden_channels: int = 64, hidden_units: int = 8, n_blocks: int = 2
    ) -> None:
        super().__init__()
        if min(in_channels, hidden_channels, hidden_units, n_blocks) < 1:
            raise ValueError(
                "RelationModule in_channels, hidden_channels, hidden_units and n_blocks must be "
                f">= 1, got {in_channels}, {hidden_channels}, {hidden_units} and {n_blocks}."
            )
        self.in_channels = in_channels
        blocks: list[nn.Module] = []
        width = 2 * in_channels
        for _ in range(n_blocks):
            blocks += [
                nn.Conv2d(width, hidden_channels, kernel_size=3, padding=1),
                nn.BatchNorm2d(hidden_channels),
                nn.ReLU(inplace=True),
                nn.MaxPool2d(2, ceil_mode=True),
            ]
            width = hidden_channels
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Sequential(
            nn.Linear(hidden_channels, hidden_units),
            nn.ReLU(inplace=True),
            nn.Linear(hidden_units, 1),
        )

    def forward(self, pairs: Tensor, logits: bool = False) -> Tensor:
        """Relation scores of concatenated (prototype, query) pairs.

        Args:
            pairs: ``[N, 2C, H, W]`` channel concatenations ``cat([prototype, query], 1)``.
            logits: Return the pre-sigmoid outputs (for a cross-entropy loss) instead of
                the scores.

        Returns:
            ``[N]`` relation scores in ``(0, 1)``, or their logits.
        """
        if pairs.dim() != 4 or pairs.shape[1] != 2 * self.in_channels:
            raise ValueError(
                f"RelationModule expects pairs [N, 2 * in_channels={2 * self.in_channels}, H, W], "
                f"got {tuple(pairs.shape)}; set in_channels to the encoder's feature-map channels."
            )
        out = self.fc(self.blocks(pairs).mean(dim=(-2, -1))).squeeze(-1)
        return out if logits else torch.sigmoid(out)

    def score(self, prototypes: Tensor, query: Tensor, logits: bool = False) -> Tensor:
        """Relation score of every query with every class, batched over leading task dims.

        Args:
            prototypes: ``[..., W, C, H, W']`` class feature maps (see
                :meth:`feature_prototypes`).
            query: ``[..., Q, C, H, W']`` query feature maps; leading dims broadcast with
                ``prototypes``'.
            logits: Return pre-sigmoid outputs instead of scores.

        Returns:
            ``[..., Q, W]`` relation scores (or logits); row ``q``, column ``w`` scores query
            ``q`` against class ``w``.
        """
        if (
            prototypes.dim() < 4
            or query.dim() < 4
            or prototypes.shape[-3:] != query.shape[-3:]
            or prototypes.shape[-3] != self.in_channels
        ):
            raise ValueError(
                "RelationModule.score expects prototypes [..., n_way, C, H, W] and query "
                f"[..., n_query, C, H, W] with the same C={self.in_channels}, H and W, got "
                f"{tuple(prototypes.shape)} and {tuple(query.shape)}."
            )
        # The first convolution is linear in its input channels: on a concatenated pair it is
        # the prototype half's convolution plus the query half's. Each prototype and each query
        # is convolved once; only the sum and the later layers run per (query, class) pair.
        first = self.blocks[0]
        c = self.in_channels
        lead = torch.broadcast_shapes(prototypes.shape[:-4], query.shape[:-4])
        p = F.conv2d(prototypes.flatten(0, -4), first.weight[:, :c], None, padding=1)
        q = F.conv2d(query.flatten(0, -4), first.weight[:, c:], first.bias, padding=1)
        p = p.reshape(*prototypes.shape[:-3], *p.shape[1:]).unsqueeze(-5)  # [..., 1, W, C', H, W']
        q = q.reshape(*query.shape[:-3], *q.shape[1:]).unsqueeze(-4)  # [..., Q, 1, C', H, W']
        pairs = (p + q).expand(*lead, q.shape[-5], p.shape[-4], *p.shape[-3:])
        hidden = self.blocks[1:](pairs.flatten(0, -4))
        out = self.fc(hidden.mean(dim=(-2, -1))).squeeze(-1)
        out = out if logits else torch.sigmoid(out)
        return out.reshape(*lead, q.shape[-5], p.shape[-4])

    @staticmethod
    def feature_prototypes(support: Tensor, reduction: str = "mean") -> Tensor:
        """Class feature maps: the mean (or sum, as Sung et al.) of each class's support maps.

        Args:
            support: ``[..., W, S, C, H, W']`` support feature maps, class-major.
            reduction: ``"mean"`` or ``"sum"`` over the ``S`` shots.

        Returns:
            ``[..., W, C, H, W']`` class feature maps.
        """
        if reduction not in REDUCTIONS:
            raise ValueError(
                f"RelationModule reduction={reduction!r} is not supported; choose one of "
                f"{REDUCTIONS}."
            )
        if support.dim() < 5:
            raise ValueError(
                "RelationModule.feature_prototypes expects support [..., n_way, n_shot, C, H, W], "
                f"got {tuple(support.shape)}."
            )
        return support.mean(dim=-4) if reduction == "mean" else support.sum(dim=-4)
