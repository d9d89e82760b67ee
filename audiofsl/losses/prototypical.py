"""Prototypical-network loss (Snell et al., 2017)."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from audiofsl.losses.classification import check_logits_labels


class PrototypicalLoss(nn.Module):
    """Cross-entropy of the softmax over negative query-prototype distances.

    ``L = -mean_q log softmax_k(-d(f(x_q), c_k))[y_q]`` (Snell et al., 2017, eq. 2). Takes
    the logits of :class:`~audiofsl.heads.PrototypeHead` (already ``-scale * distance``);
    computed in float32. Leading task dims are flattened, averaging over all queries.
    """

    consumes: tuple[str, ...] = ("logits", "labels")

    def forward(self, logits: Tensor, labels: Tensor) -> Tensor:
        """Scalar loss.

        Args:
            logits: ``[Q, W]`` (or ``[..., Q, W]``) negative distances of each query to
                each prototype.
            labels: ``[Q]`` (or ``[..., Q]``) episode labels in ``[0, W)``.

        Returns:
            Scalar float32 loss.
        """
        check_logits_labels(logits, labels, type(self).__name__)
        return F.cross_entropy(logits.float().flatten(0, -2), labels.flatten().long())
