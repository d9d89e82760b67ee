"""Losses for multi-label classification and margin-based single-label embedding training.

* :class:`BCEWithLogitsLoss`: per-class binary cross-entropy, optionally weighting each class's
  positives (multi-label sets such as IRMAS, where most clips lack most instruments).
* :class:`SigmoidFocalLoss`: the focal loss of Lin et al. (ICCV 2017), torchvision's
  implementation.
* :class:`ArcFaceLoss`: the additive angular margin loss of Deng et al. (CVPR 2019),
  pytorch-metric-learning's implementation; it owns the class-centre matrix.

Label smoothing for single-label cross-entropy is :class:`~audiofsl.losses.CrossEntropyLoss`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from pytorch_metric_learning import losses as pml_losses
from torch import Tensor, nn
from torchvision.ops import sigmoid_focal_loss

from audiofsl.losses.classification import UNLABELLED


def check_logits_targets(logits: Tensor, targets: Tensor, loss_name: str) -> None:
    """Raises ValueError unless ``targets`` are multi-hot (or soft) targets shaped like ``logits``.

    Args:
        logits: ``[B, C]`` (or ``[..., B, C]``) per-class scores.
        targets: Same shape as ``logits``, values in ``[0, 1]`` (1 = class present).
        loss_name: Name used in the error messages.
    """
    if logits.dim() < 2 or targets.shape != logits.shape:
        raise ValueError(
            f"{loss_name} expects logits [B, C] and multi-hot targets [B, C] (the same shape), "
            f"got logits {tuple(logits.shape)} and targets {tuple(targets.shape)}."
        )
    if targets.numel() > 0:
        low, high = targets.min().item(), targets.max().item()
        if low < 0 or high > 1:
            raise ValueError(
                f"{loss_name} targets must lie in [0, 1] (multi-hot [B, C]), got values in "
                f"[{low}, {high}]."
            )


class BCEWithLogitsLoss(nn.Module):
    """Mean binary cross-entropy over every (example, class) pair, on logits.

    For logit ``x``, target ``y`` and positive weight ``w_c`` of class ``c``::

        l = -(w_c * y * log sigmoid(x) + (1 - y) * log(1 - sigmoid(x)))

    averaged over ``B * C`` entries (``torch.nn.functional.binary_cross_entropy_with_logits``,
    computed in float32). ``w_c > 1`` up-weights the rare positives of class ``c``; the usual
    choice for imbalanced multi-label sets is ``negatives / positives`` per class, from the
    training labels (:meth:`positive_weights`).

    Args:
        pos_weight: ``[C]`` positive weights (list or tensor), or ``None`` for 1 everywhere.
            Stored as a buffer (saved with the model, moved with it).
    """

    consumes: tuple[str, ...] = ("logits", "targets")

    def __init__(self, pos_weight: Sequence[float] | Tensor | None = None) -> None:
        super().__init__()
        if pos_weight is not None:
            pos_weight = torch.as_tensor(pos_weight, dtype=torch.float32).detach().clone()
            if pos_weight.dim() != 1 or not torch.isfinite(pos_weight).all():
                raise ValueError(
                    f"BCEWithLogitsLoss pos_weight must be finite and shaped [C], got shape "
                    f"{tuple(pos_weight.shape)}."
                )
            if (pos_weight < 0).any():
                raise ValueError("BCEWithLogitsLoss pos_weight must be non-negative.")
        self.register_buffer("pos_weight", pos_weight)

    @staticmethod
    def positive_weights(targets: Tensor) -> Tensor:
        """Per-class ``negatives / positives`` from training labels.

        Both counts are clamped to at least 1: a class with no positive gets ``negatives``
        (its positive term never occurs on that training set, so the value only matters on
        other data) and a class that is always present gets ``1 / positives`` rather than 0,
        which would silence its positives.

        Args:
            targets: ``[N, C]`` multi-hot training labels (bool, int or float).

        Returns:
            ``[C]`` float32 weights, for ``BCEWithLogitsLoss(pos_weight=...)``.
        """
        if targets.dim() != 2:
            raise ValueError(
                f"BCEWithLogitsLoss.positive_weights expects multi-hot targets [N, C], got shape "
                f"{tuple(targets.shape)}."
            )
        return BCEWithLogitsLoss.weights_from_counts(targets.float().sum(0), targets.shape[0])

    @staticmethod
    def weights_from_counts(positives: Tensor, n_clips: int) -> Tensor:
        """:meth:`positive_weights` from the positives of each class ``[C]`` among ``n_clips``
        training clips (e.g. :attr:`~audiofsl.data.DataFacts.label_counts`)."""
        positives = positives.float()
        negatives = n_clips - positives
        return negatives.clamp_min(1) / positives.clamp_min(1)

    def forward(self, logits: Tensor, targets: Tensor) -> Tensor:
        """Scalar loss.

        Args:
            logits: ``[B, C]`` per-class scores (before the sigmoid).
            targets: ``[B, C]`` multi-hot (or soft) targets in ``[0, 1]``.

        Returns:
            Scalar float32 loss, the mean over ``B * C`` entries.
        """
        name = type(self).__name__
        check_logits_targets(logits, targets, name)
        if self.pos_weight is not None and self.pos_weight.shape[0] != logits.shape[-1]:
            raise ValueError(
                f"{name} has pos_weight for {self.pos_weight.shape[0]} classes but logits "
                f"[B, C] have C={logits.shape[-1]}."
            )
        return F.binary_cross_entropy_with_logits(
            logits.float(), targets.float(), pos_weight=self.pos_weight
        )


class SigmoidFocalLoss(nn.Module):
    """Mean sigmoid focal loss (Lin et al., "Focal Loss for Dense Object Detection", ICCV 2017).

    For ``p = sigmoid(x)``, ``p_t = p`` if ``y = 1`` else ``1 - p``, and ``alpha_t = alpha`` if
    ``y = 1`` else ``1 - alpha``::

        FL = -alpha_t * (1 - p_t) ** gamma * log(p_t)

    averaged over every (example, class) entry. ``gamma`` down-weights the easy entries (for
    ``gamma = 0`` and no ``alpha`` it is binary cross-entropy). Computed in float32 by
    ``torchvision.ops.sigmoid_focal_loss``.

    Args:
        alpha: Weight of the positives in ``[0, 1]`` (negatives get ``1 - alpha``); ``None``
            weights both by 1. The paper's default is 0.25 (with ``gamma = 2``).
        gamma: Focusing exponent, ``>= 0``.
    """

    consumes: tuple[str, ...] = ("logits", "targets")

    def __init__(self, alpha: float | None = 0.25, gamma: float = 2.0) -> None:
        super().__init__()
        if alpha is not None and not 0.0 <= alpha <= 1.0:
            raise ValueError(f"SigmoidFocalLoss alpha must be in [0, 1] or None, got {alpha}.")
        if gamma < 0:
            raise ValueError(f"SigmoidFocalLoss gamma must be >= 0, got {gamma}.")
        self.alpha = alpha
        self.gamma = float(gamma)

    def forward(self, logits: Tensor, targets: Tensor) -> Tensor:
        """Scalar loss.

        Args:
            logits: ``[B, C]`` per-class scores (before the sigmoid).
            targets: ``[B, C]`` multi-hot (or soft) targets in ``[0, 1]``.

        Returns:
            Scalar float32 loss, the mean over ``B * C`` entries.
        """
        check_logits_targets(logits, targets, type(self).__name__)
        return sigmoid_focal_loss(
            logits.float(),
            targets.float(),
            alpha=-1.0 if self.alpha is None else self.alpha,  # torchvision: < 0 means none
            gamma=self.gamma,
            reduction="mean",
        )


class ArcFaceLoss(nn.Module):
    """Additive angular margin loss, ArcFace (Deng et al., CVPR 2019, arXiv:1801.07698).

    The loss holds one learnt centre ``W_c`` per class. With ``theta_j`` the angle between an
    embedding and ``W_j`` (both L2-normalised) and ``y`` its class::

        L = -log( exp(s f(theta_y)) / (exp(s f(theta_y)) + sum_{j != y} exp(s cos theta_j)) )
        f(theta) = cos(theta + m)             if theta <= pi - m
                   cos(theta) - m sin(m)      otherwise (keeps the target logit decreasing)

    averaged over the labelled rows. This is pytorch-metric-learning's ``losses.ArcFaceLoss``
    (its margin is in degrees: the default 28.6 degrees is the paper's ``m = 0.5`` rad;
    ``s = 64`` as in the paper), computed in float32 with autocast disabled. The centres
    (``weight``, ``[embedding_dim, n_classes]``) are this module's parameter, so they are
    trained and checkpointed with the method. Rows labelled :data:`UNLABELLED` (``-1``) are
    ignored; a batch with none labelled gives ``0.0`` attached to the graph.

    Args:
        n_classes: Number of training classes.
        embedding_dim: Size of the embeddings (the encoder's or projection's ``out_dim``).
        margin: Additive angular margin ``m``, in degrees.
        scale: Logit scale ``s``.
    """

    consumes: tuple[str, ...] = ("embeddings", "labels")

    def __init__(
        self, n_classes: int, embedding_dim: int, margin: float = 28.6, scale: float = 64.0
    ) -> None:
        super().__init__()
        if n_classes < 2 or embedding_dim < 1:
            raise ValueError(
                f"ArcFaceLoss needs n_classes >= 2 and embedding_dim >= 1, got n_classes="
                f"{n_classes} and embedding_dim={embedding_dim}."
            )
        if not 0.0 <= margin < 90.0:
            raise ValueError(f"ArcFaceLoss margin is in degrees, in [0, 90); got {margin}.")
        if scale <= 0:
            raise ValueError(f"ArcFaceLoss scale must be > 0, got {scale}.")
        self.n_classes = n_classes
        self.embedding_dim = embedding_dim
        self.loss_fn = pml_losses.ArcFaceLoss(
            num_classes=n_classes, embedding_size=embedding_dim, margin=margin, scale=scale
        )

    @property
    def weight(self) -> Tensor:
        """``[embedding_dim, n_classes]`` class centres (not normalised)."""
        return self.loss_fn.W

    def class_logits(self, embeddings: Tensor) -> Tensor:
        """Margin-free class scores ``s * cos(theta_j)`` (e.g. to classify with the centres).

        Args:
            embeddings: ``[B, embedding_dim]``.

        Returns:
            ``[B, n_classes]`` float32 scores.
        """
        self._check_embeddings(embeddings)
        with torch.autocast(device_type=embeddings.device.type, enabled=False):
            centres = F.normalize(self.weight.float(), dim=0)
            return self.loss_fn.scale * (F.normalize(embeddings.float(), dim=-1) @ centres)

    def _check_embeddings(self, embeddings: Tensor) -> None:
        if embeddings.dim() != 2 or embeddings.shape[1] != self.embedding_dim:
            raise ValueError(
                f"ArcFaceLoss expects embeddings [B, {self.embedding_dim}] (embedding_dim), got "
                f"{tuple(embeddings.shape)}."
            )

    def forward(self, embeddings: Tensor, labels: Tensor) -> Tensor:
        """Scalar loss.

        Args:
            embeddings: ``[B, embedding_dim]`` embeddings (normalised inside).
            labels: ``[B]`` class indices in ``[0, n_classes)``, or ``-1`` (ignored).

        Returns:
            Scalar float32 loss, averaged over the labelled rows (``0.0`` if none).
        """
        self._check_embeddings(embeddings)
        if labels.shape != embeddings.shape[:1]:
            raise ValueError(
                f"ArcFaceLoss expects embeddings [B, D] and labels [B], got embeddings "
                f"{tuple(embeddings.shape)} and labels {tuple(labels.shape)}."
            )
        if labels.dtype.is_floating_point or labels.dtype == torch.bool:
            raise ValueError(f"ArcFaceLoss expects integer class labels, got dtype {labels.dtype}.")
        known = labels[labels != UNLABELLED]
        if known.numel() > 0 and (known.min() < 0 or known.max() >= self.n_classes):
            raise ValueError(
                f"ArcFaceLoss labels must lie in [0, {self.n_classes}) (n_classes) or be "
                f"{UNLABELLED} (ignored), got values in [{known.min().item()}, "
                f"{known.max().item()}]."
            )
        labelled = labels != UNLABELLED
        with torch.autocast(device_type=embeddings.device.type, enabled=False):
            if not labelled.any():
                return 0.0 * (embeddings.float().sum() + self.weight.sum())
            return self.loss_fn(embeddings[labelled].float(), labels[labelled].long())
