"""Cross-entropy classification loss and the shared logits/labels check."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

UNLABELLED = -1
"""Label of an unlabelled example (semi-supervised training, e.g. CLAR)."""


def check_logits_labels(
    logits: Tensor, labels: Tensor, loss_name: str, ignore_index: int | None = None
) -> None:
    """Raises ValueError unless ``labels`` index the last dim of ``logits`` row by row.

    Args:
        logits: ``[..., N, C]`` scores.
        labels: ``[..., N]`` integer class indices in ``[0, C)``.
        loss_name: Name used in the error messages.
        ignore_index: A label value also allowed (rows the loss ignores), e.g.
            :data:`UNLABELLED`; ``None`` allows only ``[0, C)``.
    """
    if logits.dim() < 2 or labels.shape != logits.shape[:-1]:
        raise ValueError(
            f"{loss_name} expects logits [N, C] and labels [N] (same leading dims), got "
            f"logits {tuple(logits.shape)} and labels {tuple(labels.shape)}."
        )
    if labels.dtype.is_floating_point or labels.dtype == torch.bool:
        raise ValueError(f"{loss_name} expects integer class labels, got dtype {labels.dtype}.")
    if ignore_index is not None:
        labels = labels[labels != ignore_index]
    if labels.numel() > 0:
        low, high = torch.stack(torch.aminmax(labels)).tolist()  # one device sync, not two
        if low < 0 or high >= logits.shape[-1]:
            allowed = "" if ignore_index is None else f" or {ignore_index} (ignored)"
            raise ValueError(
                f"{loss_name} labels must lie in [0, {logits.shape[-1]}) (the number of logit "
                f"columns){allowed}, got values in [{low}, {high}]."
            )


class CrossEntropyLoss(nn.Module):
    """Mean softmax cross-entropy, optionally with label smoothing (Szegedy et al., 2016).

    Computed in float32. Leading dims of ``logits``/``labels`` are flattened. Rows labelled
    :data:`UNLABELLED` (``-1``; e.g. the unlabelled clips of semi-supervised CLAR,
    Al-Tahan & Mohsenzadeh, AISTATS 2021) are ignored: the loss is the mean over the labelled
    rows only, and exactly ``0.0`` (still attached to ``logits``' graph, so ``backward`` works
    and gives zero gradients) when no row is labelled.

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
            Scalar float32 loss, averaged over the labelled rows (``0.0`` if none).
        """
        check_logits_labels(logits, labels, type(self).__name__, ignore_index=UNLABELLED)
        labels = labels.flatten().long()
        labelled = labels != UNLABELLED
        losses = F.cross_entropy(
            logits.float().flatten(0, -2),
            labels.clamp_min(0),  # ignored rows: any valid index, masked out below
            reduction="none",
            label_smoothing=self.label_smoothing,
        )
        # a masked sum, so an all-unlabelled batch gives 0 / 1 = 0.0 with a graph
        return torch.where(labelled, losses, 0.0).sum() / labelled.sum().clamp_min(1)
