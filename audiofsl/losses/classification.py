"""Cross-entropy classification loss and the shared logits/labels check."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def check_logits_labels(logits: Tensor, labels: Tensor, loss_name: str) -> None:
    """Raises ValueError unless ``labels`` index the last dim of ``logits`` row by row.

    Args:
        logits: ``[..., N, C]`` scores.
        labels: ``[..., N]`` integer class indices in ``[0, C)``.
        loss_name: Name used in the error messages.
    """
    if logits.dim() < 2 or labels.shape != logits.shape[:-1]:
        raise ValueError(
            f"{loss_name} expects logits [N, C] and labels [N] (same leading dims), got "
            f"logits {tuple(logits.shape)} and labels {tuple(labels.shape)}."
        )
    if labels.dtype.is_floating_point or labels.dtype == torch.bool:
        raise ValueError(f"{loss_name} expects integer class labels, got dtype {labels.dtype}.")
    if labels.numel() > 0:
        low, high = labels.min().item(), labels.max().item()
        if low < 0 or high >= logits.shape[-1]:
            raise ValueError(
                f"{loss_name} labels must lie in [0, {logits.shape[-1]}) (the number of logit "
                f"columns), got values in [{low}, {high}]."
            )


class CrossEntropyLoss(nn.Module):
    """Mean softmax cross-entropy, optionally with label smoothing (Szegedy et al., 2016).

    Computed in float32. Leading dims of ``logits``/``labels`` are flattened.

    Args:
        label_smoothing: Mass in ``[0, 1)`` spread uniformly over all classes.
    """

    consumes: tuple[str, ...] = ("logits", "labels")

    def __init__(self, label_smoothing: float = 0.0) -> None:
        super().__init__()
        if not 0.0 <= label_smoothing < 1.0:
            raise ValueError(f"label_smoothing must be in [0, 1), got {label_smoothing}.")
        self.label_smoothing = float(label_smoothing)

    def forward(self, logits: Tensor, labels: Tensor) -> Tensor:
        """Scalar loss.

        Args:
            logits: ``[N, C]`` (or ``[..., N, C]``) class scores.
            labels: ``[N]`` (or ``[..., N]``) class indices.

        Returns:
            Scalar float32 loss, averaged over all rows.
        """
        check_logits_labels(logits, labels, type(self).__name__)
        return F.cross_entropy(
            logits.float().flatten(0, -2),
            labels.flatten().long(),
            label_smoothing=self.label_smoothing,
        )
