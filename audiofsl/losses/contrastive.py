"""Contrastive losses over augmented views: NT-Xent (SimCLR), SupCon, COLA.

The training step of a contrastive method gives ``views`` ``[V, B, P]``: the projections of
``V`` views (augmentations or segments) of ``B`` clips, view-major (row ``v, i`` is view
``v`` of clip ``i``), and, for the supervised variants, ``labels`` ``[V * B]`` aligned with
``views.flatten(0, 1)`` (``labels[v * B + i]`` is clip ``i``'s class; ``-1`` marks an
unlabelled clip). All losses are computed in float32 with autocast disabled.

With ``gather_distributed=True`` in a multi-process (DDP) run, each loss first concatenates the
views of every rank along the clip dimension with a gather that keeps gradients
(:func:`audiofsl.distributed.gather_with_grad`), so negatives come from the global batch of
``W * B`` clips, clip ids and pseudo-labels are global (rank ``r``'s clips are ``r * B ..``), and
the loss (the same on every rank) gives after DDP's averaging exactly the gradient of one
process holding the whole batch. In a single process the option changes nothing.
"""

from __future__ import annotations

import torch
from pytorch_metric_learning import losses, reducers
from torch import Tensor, nn

from audiofsl.distributed import gather_rows, gather_with_grad
from audiofsl.losses.classification import UNLABELLED


def check_views(views: Tensor, loss_name: str) -> None:
    """Raises ValueError unless ``views`` is a float ``[V, B, P]`` with ``V >= 2``, ``B >= 2``.

    Args:
        views: ``[V, B, P]`` projections, view-major.
        loss_name: Name used in the error messages.
    """
    if views.dim() != 3 or not views.dtype.is_floating_point:
        raise ValueError(
            f"{loss_name} expects float views [n_views, batch, dim] (view v of clip i at "
            f"[v, i]), got {tuple(views.shape)} of dtype {views.dtype}."
        )
    n_views, batch = views.shape[:2]
    if n_views < 2 or batch < 2:
        raise ValueError(
            f"{loss_name} needs views [n_views >= 2, batch >= 2, dim]: positives are other "
            f"views of the same clip, negatives other clips; got {tuple(views.shape)}."
        )


def clip_labels(views: Tensor, labels: Tensor, loss_name: str) -> Tensor:
    """The per-clip labels ``[B]`` of view-major ``labels`` ``[V * B]``, checked.

    Args:
        views: ``[V, B, P]`` projections.
        labels: ``[V * B]`` integer labels, ``labels[v * B + i]`` being clip ``i``'s class
            for every ``v``; ``-1`` (:data:`~audiofsl.losses.classification.UNLABELLED`)
            for an unlabelled clip.
        loss_name: Name used in the error messages.

    Returns:
        ``[B]`` long labels (``labels[:B]``).
    """
    n_views, batch = views.shape[:2]
    if labels.shape != (n_views * batch,):
        raise ValueError(
            f"{loss_name} expects labels [n_views * batch] = [{n_views * batch}] (view-major, "
            f"as views.flatten(0, 1)), got {tuple(labels.shape)} for views {tuple(views.shape)}."
        )
    if labels.dtype.is_floating_point or labels.dtype == torch.bool:
        raise ValueError(f"{loss_name} expects integer labels, got dtype {labels.dtype}.")
    per_view = labels.long().view(n_views, batch)
    if labels.numel() > 0 and labels.min().item() < UNLABELLED:
        raise ValueError(
            f"{loss_name} labels must be class indices >= 0 or {UNLABELLED} (unlabelled), got "
            f"minimum {labels.min().item()}."
        )
    if not torch.equal(per_view, per_view[:1].expand_as(per_view)):
        raise ValueError(
            f"{loss_name} labels must be view-major with every view of a clip labelled alike "
            "(labels[v * batch + i] is clip i's class for every v)."
        )
    return per_view[0]


class NTXentLoss(nn.Module):
    """SimCLR's normalised temperature-scaled cross-entropy, NT-Xent (Chen et al., ICML 2020).

    Over the ``N = V * B`` projections ``z`` (cosine similarity ``s``), for ``V = 2``::

        L = 1 / (2B) * sum_a -log( exp(s(z_a, z_p(a)) / T) / sum_{k != a} exp(s(z_a, z_k) / T) )

    where ``p(a)`` is the other view of ``a``'s clip: every projection is an anchor, its other
    view is the positive and the other ``2B - 2`` projections are the negatives ("A Simple
    Framework for Contrastive Learning of Visual Representations", eq. 1, averaged over all
    ``2B`` anchors as in its Algorithm 1).

    Computed by pytorch-metric-learning's ``losses.NTXentLoss`` with the clip index as label.
    Its reduction is the mean over the *positive pairs* ``(a, p)`` of
    ``-log(exp(s_ap / T) / (exp(s_ap / T) + sum_{n: other clip} exp(s_an / T)))``. For
    ``V = 2`` each anchor has one positive, so this is exactly the formula above (checked
    against a loop in the tests). For ``V > 2`` (multi-crop style) each anchor has ``V - 1``
    positives, each scored against the negatives alone (the anchor's other positives are not
    in the denominator), and the loss is the mean over all ``V * B * (V - 1)`` pairs; this
    differs from :class:`SupConLoss` with clip labels, which puts every other sample in the
    denominator. The library adds ``finfo.tiny`` inside the log (immaterial).

    Args:
        temperature: ``T > 0``.
        gather_distributed: take the negatives from every rank's batch (see the module).
    """

    consumes: tuple[str, ...] = ("views",)

    def __init__(self, temperature: float = 0.5, gather_distributed: bool = False) -> None:
        super().__init__()
        if temperature <= 0:
            raise ValueError(f"NTXentLoss temperature must be positive, got {temperature}.")
        self.temperature = float(temperature)
        self.gather_distributed = bool(gather_distributed)
        self.loss_fn = losses.NTXentLoss(temperature=self.temperature)

    def forward(self, views: Tensor) -> Tensor:
        """Scalar loss.

        Args:
            views: ``[V, B, P]`` projections (any norm; cosine similarity is used), view
                ``v`` of clip ``i`` at ``[v, i]``.

        Returns:
            Scalar float32 loss.
        """
        check_views(views, type(self).__name__)
        if self.gather_distributed:
            views = gather_with_grad(views, dim=1)
        n_views, batch = views.shape[:2]
        clips = torch.arange(batch, device=views.device).repeat(n_views)
        with torch.autocast(device_type=views.device.type, enabled=False):
            return self.loss_fn(views.float().flatten(0, 1), clips)

    def extra_repr(self) -> str:
        return f"temperature={self.temperature}, gather_distributed={self.gather_distributed}"


class SupConLoss(nn.Module):
    """Supervised contrastive loss, SupCon (Khosla et al., NeurIPS 2020), the ``L_out`` form.

    Over the ``N = V * B`` projections ``z`` (cosine similarity ``s``) with labels ``y``::

        L = 1 / N * sum_i -1 / |P(i)| * sum_{p in P(i)}
                log( exp(s(z_i, z_p) / T) / sum_{a != i} exp(s(z_i, z_a) / T) )

    with ``P(i) = {p != i : y_p = y_i}`` ("Supervised Contrastive Learning", eq. 2): every
    other view of the same clip and every view of another clip of the same class is a
    positive; every other sample is in the denominator.

    Unlabelled clips (label ``-1``, semi-supervised training) each get a unique pseudo-label,
    so only their own other views are positives (the SimCLR case) and they are negatives of
    every other clip; they are never positives of one another.

    Computed by pytorch-metric-learning's ``losses.SupConLoss``, with its reducer replaced by
    ``MeanReducer``: the library's default ``AvgNonZeroReducer`` averages only over anchors
    whose loss is non-zero, so anchors already perfectly separated (a loss that rounds to 0,
    e.g. at a low temperature) would be dropped from the mean instead of counting as 0, which
    is not the paper's ``1 / N``. Every anchor has a positive (``V >= 2``), so the mean is over
    all ``N`` anchors. A batch with no negative pair at all (every clip of one class) gives
    0, as the library does (the formula would give at least ``log(N - 1)``, with only a pull
    towards equal similarities; there is no negative to contrast with).

    Args:
        temperature: ``T > 0`` (Khosla et al.: 0.1).
        gather_distributed: take positives and negatives from every rank's batch (see the
            module; unlabelled clips get pseudo-labels unique over all ranks).
    """

    consumes: tuple[str, ...] = ("views", "labels")

    def __init__(self, temperature: float = 0.1, gather_distributed: bool = False) -> None:
        super().__init__()
        if temperature <= 0:
            raise ValueError(f"SupConLoss temperature must be positive, got {temperature}.")
        self.temperature = float(temperature)
        self.gather_distributed = bool(gather_distributed)
        self.loss_fn = losses.SupConLoss(
            temperature=self.temperature, reducer=reducers.MeanReducer()
        )

    @staticmethod
    def pseudo_labels(clip_labels: Tensor) -> Tensor:
        """Per-clip labels ``[B]`` with each unlabelled (``-1``) clip given a class of its own.

        Unlabelled clip ``i`` gets ``max(labels) + 1 + i``; labelled clips keep their class.
        """
        offset = clip_labels.max().clamp_min(0) + 1
        own = offset + torch.arange(clip_labels.numel(), device=clip_labels.device)
        return torch.where(clip_labels == UNLABELLED, own, clip_labels)

    def forward(self, views: Tensor, labels: Tensor) -> Tensor:
        """Scalar loss.

        Args:
            views: ``[V, B, P]`` projections (any norm; cosine similarity is used).
            labels: ``[V * B]`` long, view-major (``labels[v * B + i]`` is clip ``i``'s
                class), ``-1`` for an unlabelled clip.

        Returns:
            Scalar float32 loss.
        """
        name = type(self).__name__
        check_views(views, name)
        per_clip = clip_labels(views, labels, name)
        if self.gather_distributed:
            views, per_clip = gather_with_grad(views, dim=1), gather_rows(per_clip)
        per_clip = self.pseudo_labels(per_clip)
        with torch.autocast(device_type=views.device.type, enabled=False):
            return self.loss_fn(views.float().flatten(0, 1), per_clip.repeat(views.shape[0]))

    def extra_repr(self) -> str:
        return f"temperature={self.temperature}, gather_distributed={self.gather_distributed}"


class ColaLoss(nn.Module):
    """COLA's loss: pick each anchor's positive among the batch's positives (Saeed et al., 2021).

    With anchors ``a_i = views[0, i]`` and positives ``p_j = views[1, j]`` (two segments of
    each clip) and a similarity ``s``::

        logits[i, j] = s(a_i, p_j)   ([B, B])
        L = 1 / B * sum_i -log softmax_j(logits[i, :])[i]

    i.e. a ``B``-way cross-entropy whose target is the anchor's own positive; the positives of
    the other clips are its distractors (Saeed, Grangier & Zeghidour, ICASSP 2021,
    "Contrastive learning of general-purpose audio representations", arXiv:2010.10915, eq. 1).
    Only ``views[0]`` are anchors (the loss is not symmetrised), as in the paper.

    ``similarity`` is e.g. :class:`~audiofsl.heads.BilinearSimilarity` (the paper's best,
    with a learned ``W``) or :class:`~audiofsl.heads.CosineSimilarity` (cosine over a
    temperature). It is a submodule, so its parameters are trained and checkpointed with the
    method. Written here because no maintained library offers COLA's loss with a pluggable,
    learned similarity (pytorch-metric-learning's losses take a fixed distance); it is a
    ``logsumexp`` minus the diagonal of the ``[B, B]`` logits.

    Args:
        similarity: Module mapping ``(a [B, P], b [N, P])`` to ``[B, N]`` scores.
        gather_distributed: score every rank's anchors against every rank's positives, a
            ``W * B``-way cross-entropy (see the module).
    """

    consumes: tuple[str, ...] = ("views",)

    def __init__(self, similarity: nn.Module, gather_distributed: bool = False) -> None:
        super().__init__()
        if not isinstance(similarity, nn.Module):
            raise ValueError(
                "ColaLoss similarity must be a module mapping (a [B, P], b [N, P]) to [B, N], "
                f"e.g. audiofsl.heads.BilinearSimilarity; got {type(similarity).__name__}."
            )
        self.similarity = similarity
        self.gather_distributed = bool(gather_distributed)

    def forward(self, views: Tensor) -> Tensor:
        """Scalar loss.

        Args:
            views: ``[2, B, P]`` projections: ``views[0]`` anchors, ``views[1]`` positives
                (row ``i`` of each from clip ``i``).

        Returns:
            Scalar float32 loss.
        """
        check_views(views, type(self).__name__)
        if views.shape[0] != 2:
            raise ValueError(
                "ColaLoss expects views [2, batch, dim] (anchors, positives), got "
                f"{tuple(views.shape)}."
            )
        if self.gather_distributed:
            views = gather_with_grad(views, dim=1)
        batch = views.shape[1]
        with torch.autocast(device_type=views.device.type, enabled=False):
            logits = self.similarity(views[0].float(), views[1].float())
            if logits.shape != (batch, batch):
                raise ValueError(
                    f"ColaLoss similarity must map anchors [{batch}, P] and positives "
                    f"[{batch}, P] to [{batch}, {batch}], got {tuple(logits.shape)}."
                )
            logits = logits.float()
            # logsumexp, not cross_entropy: log_softmax's threaded CPU kernel stalls on busy hosts
            return (logits.logsumexp(dim=1) - logits.diagonal()).mean()
