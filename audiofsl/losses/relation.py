"""Mean squared error of relation scores (Sung et al., 2018, "Learning to Compare")."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from audiofsl.losses.classification import check_logits_labels


class RelationMSELoss(nn.Module):
    """Regresses relation scores onto the one-hot match indicator.

    ``L = mean_{i, j} (r_ij - 1[y_i == j])^2`` over the ``N`` queries and ``W`` classes of
    :meth:`~audiofsl.heads.RelationModule.score` (Sung et al., CVPR 2018, eq. 2, which writes a
    sum; the mean only rescales it and matches the authors' code). It consumes the sigmoid
    ``scores``; to train relation networks with cross-entropy instead, use
    :class:`~audiofsl.losses.CrossEntropyLoss`, which consumes the pre-sigmoid ``logits``
    (``RelationModule.score(..., logits=True)``). Computed in float32; leading dims of
    ``scores``/``labels`` are flattened.
    """

    consumes: tuple[str, ...] = ("scores", "labels")

    def forward(self, scores: Tensor, labels: Tensor) -> Tensor:
        """Scalar loss.

        Args:
            scores: ``[N, W]`` (or ``[..., N, W]``) relation scores in ``[0, 1]``.
            labels: ``[N]`` (or ``[..., N]``) class indices in ``[0, W)``.

        Returns:
            Scalar float32 loss.
        """
        check_logits_labels(scores, labels, type(self).__name__)
        scores = scores.float().flatten(0, -2)
        target = F.one_hot(labels.flatten().long(), scores.shape[-1]).float()
        return F.mse_loss(scores, target)
