"""Optimiser and learning-rate schedule factories: LARS, linear warm-up then cosine decay.

Both are meant as Hydra partials: a method calls ``optimizer(self.parameters())`` and
``scheduler(optimizer)``, and steps the scheduler once per epoch.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor


def lars(
    params: Iterable[Tensor] | Iterable[dict[str, Any]],
    lr: float,
    momentum: float = 0.9,
    weight_decay: float = 1e-6,
    trust_coeff: float = 0.001,
    exclude_bias_and_norm: bool = True,
    nesterov: bool = False,
    trust_clip: bool = False,
    eps: float = 1e-8,
) -> torch.optim.Optimizer:
    """LARS, layer-wise adaptive rate scaling (You, Gitman & Ginsburg, 2017, arXiv:1708.03888).

    A thin factory around timm's ``timm.optim.Lars`` (a maintained implementation; none is
    written here). Each adapted parameter ``w`` with gradient ``g`` is updated by momentum SGD
    on ``trust * (g + weight_decay * w)``, with the layer-wise trust ratio::

        trust = trust_coeff * |w| / (|g| + weight_decay * |w| + eps)

    (1 when ``|w|`` or ``|g|`` is 0; with ``trust_clip``, LARC's ``min(trust / lr, 1)``).
    SimCLR (Chen et al., 2020) and CLAR (Al-Tahan & Mohsenzadeh, 2021) train with LARS.

    Like SimCLR, biases and normalisation parameters are excluded from both weight decay
    and the adaptation when ``exclude_bias_and_norm``: they are recognised as the parameters
    with at most one dimension (biases, BatchNorm/LayerNorm scales and shifts, scalars such
    as a learned temperature), since a method passes ``self.parameters()`` without names.
    They form a second parameter group with ``weight_decay=0`` and ``always_adapt=False``,
    i.e. plain momentum SGD at the group's learning rate. The adapted group sets timm's
    ``always_adapt=True`` so that it is adapted even with ``weight_decay=0`` (timm otherwise
    skips the adaptation of groups without weight decay).

    Args:
        params: Parameters, or parameter-group dicts (each is split the same way; its own
            options are kept).
        lr: Base learning rate (SimCLR: ``0.3 * batch / 256``; scale it, then schedule it,
            e.g. with :func:`warmup_cosine`).
        momentum: Momentum factor.
        weight_decay: L2 penalty of the adapted parameters (SimCLR: 1e-6).
        trust_coeff: ``trust_coeff`` (the LARS paper's ``eta``; 0.001).
        exclude_bias_and_norm: Exclude parameters with ``ndim <= 1`` as above.
        nesterov: Nesterov momentum.
        trust_clip: LARC clipping of the trust ratio.
        eps: Added to the trust ratio's denominator.

    Returns:
        A ``timm.optim.Lars`` optimiser.
    """
    from timm.optim import Lars

    groups = list(params)
    if not groups:
        raise ValueError("lars got no parameters to optimise.")
    if not isinstance(groups[0], dict):
        groups = [{"params": groups}]
    split: list[dict[str, Any]] = []
    for group in groups:
        tensors = [group["params"]] if isinstance(group["params"], Tensor) else group["params"]
        tensors = list(tensors)
        options = {key: value for key, value in group.items() if key != "params"}
        excluded = [p for p in tensors if exclude_bias_and_norm and p.ndim <= 1]
        adapted = [p for p in tensors if not (exclude_bias_and_norm and p.ndim <= 1)]
        if adapted:
            split.append({"always_adapt": True, **options, "params": adapted})
        if excluded:
            split.append(
                {**options, "params": excluded, "weight_decay": 0.0, "always_adapt": False}
            )
    return Lars(
        split,
        lr=lr,
        momentum=momentum,
        weight_decay=weight_decay,
        trust_coeff=trust_coeff,
        nesterov=nesterov,
        trust_clip=trust_clip,
        eps=eps,
    )


@dataclass
class WarmupCosine:
    """Learning-rate factor of epoch ``e``: linear warm-up, then cosine decay.

    With ``W = warmup_epochs``, ``E = max_epochs`` and ``r = min_lr_ratio``::

        factor(e) = (e + 1) / (W + 1)                                   for 0 <= e < W
        factor(e) = r + (1 - r) * (1 + cos(pi * (e - W) / (E - W))) / 2  for W <= e <= E
        factor(e) = r                                                   for e > E

    The warm-up rises linearly from ``1 / (W + 1)`` (no epoch is wasted at a zero learning
    rate) to 1 at epoch ``W``, where the half-cosine of SGDR (Loshchilov & Hutter, ICLR 2017)
    takes over and reaches ``r`` at epoch ``E``. ``W = 0`` is a plain cosine decay. SimCLR
    (Chen et al., 2020) uses this shape per step with a 10-epoch warm-up.

    A dataclass rather than a closure so ``LambdaLR.state_dict`` saves it.
    """

    warmup_epochs: int
    max_epochs: int
    min_lr_ratio: float = 0.0

    def __call__(self, epoch: int) -> float:
        warmup, total, low = self.warmup_epochs, self.max_epochs, self.min_lr_ratio
        if epoch < warmup:
            return (epoch + 1) / (warmup + 1)
        progress = min(1.0, (epoch - warmup) / (total - warmup))
        return low + (1.0 - low) * 0.5 * (1.0 + math.cos(math.pi * progress))


def warmup_cosine(
    optimizer: torch.optim.Optimizer,
    warmup_epochs: int,
    max_epochs: int,
    min_lr_ratio: float = 0.0,
) -> torch.optim.lr_scheduler.LambdaLR:
    """Linear warm-up to the base learning rate, then cosine decay (see :class:`WarmupCosine`).

    Stepped once per epoch: during epoch ``e`` every group's learning rate is
    ``base_lr * WarmupCosine(warmup_epochs, max_epochs, min_lr_ratio)(e)``, i.e. it rises
    linearly over the first ``warmup_epochs`` epochs to the base rate at epoch
    ``warmup_epochs`` and then decays along a half-cosine to ``min_lr_ratio * base_lr`` at
    epoch ``max_epochs`` (usually the trainer's ``max_epochs``; later epochs stay there).

    Args:
        optimizer: The optimiser whose groups' ``lr`` are the base rates.
        warmup_epochs: ``W >= 0`` epochs of linear warm-up.
        max_epochs: ``E > W``, the epoch at which the decay ends.
        min_lr_ratio: ``r`` in ``[0, 1]``, the final rate as a fraction of the base rate.

    Returns:
        A ``torch.optim.lr_scheduler.LambdaLR``.
    """
    if warmup_epochs < 0 or max_epochs <= warmup_epochs:
        raise ValueError(
            "warmup_cosine needs 0 <= warmup_epochs < max_epochs, got "
            f"warmup_epochs={warmup_epochs}, max_epochs={max_epochs}."
        )
    if not 0.0 <= min_lr_ratio <= 1.0:
        raise ValueError(f"warmup_cosine min_lr_ratio must be in [0, 1], got {min_lr_ratio}.")
    factor = WarmupCosine(int(warmup_epochs), int(max_epochs), float(min_lr_ratio))
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda=factor)


def optimizer_configuration(
    parameters: Iterable[Tensor],
    optimizer: Callable[..., torch.optim.Optimizer] | None = None,
    scheduler: Callable[..., Any] | None = None,
) -> Any:
    """What a LightningModule's ``configure_optimizers`` returns: ``optimizer(parameters)``
    (default Adam, lr 1e-3), with ``scheduler(optimizer)`` stepped each epoch when given."""
    built = torch.optim.Adam(parameters, lr=1e-3) if optimizer is None else optimizer(parameters)
    if scheduler is None:
        return built
    return {"optimizer": built, "lr_scheduler": {"scheduler": scheduler(built)}}
