"""Linear probe: a logistic-regression classifier on frozen, cached embeddings.

The standard measurement of a learned representation (COLA, CLAR, SimCLR all report it): the
encoder is frozen, its embeddings of labelled clips train a linear classifier, and the
classifier's accuracy on held-out clips is the score. Here the classifier is fitted full-batch
with L-BFGS on standardised window embeddings (a convex problem: the same data gives the same
probe, whatever the order), and a clip's windows are combined like a classifier's.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from audiofsl.evaluation.cache import CachedSplit
from audiofsl.evaluation.classification import classification_accuracy
from audiofsl.evaluation.embedding import embed_loader


@dataclass(frozen=True)
class ProbeSettings:
    """How the probe is fitted and measured.

    Attributes:
        l2: weight of the L2 penalty on the classifier's weights (per example).
        max_iter: L-BFGS iterations.
        fit_fraction: for class-disjoint splits (few-shot data), the fraction of each test
            class's clips the probe is fitted on; it is measured on the others.
        seed: seed of that draw.
        combine: how a clip's windows are combined: "mean" or "max" of the probabilities, or
            "mean_logits" (COLA's average of the windows' logits).
    """

    l2: float = 1e-3
    max_iter: int = 200
    fit_fraction: float = 0.5
    seed: int = 0
    combine: str = "mean"

    def __post_init__(self) -> None:
        if not self.l2 >= 0 or self.max_iter < 1 or not 0 < self.fit_fraction < 1:
            raise ValueError(
                f"probe settings: l2={self.l2} must be >= 0, max_iter={self.max_iter} >= 1 and "
                f"fit_fraction={self.fit_fraction} in (0, 1)."
            )


class LinearProbe(nn.Module):
    """Standardisation (fitted statistics) followed by a linear layer: [N, D] -> [N, C]."""

    def __init__(self, mean: Tensor, std: Tensor, n_classes: int) -> None:
        super().__init__()
        self.register_buffer("mean", mean)
        self.register_buffer("std", std)
        self.linear = nn.Linear(mean.numel(), n_classes)
        nn.init.zeros_(self.linear.weight)
        nn.init.zeros_(self.linear.bias)

    def forward(self, embeddings: Tensor) -> Tensor:
        return self.linear((embeddings.float() - self.mean) / self.std)


def fit_linear_probe(
    embeddings: Tensor, labels: Tensor, n_classes: int, settings: ProbeSettings | None = None
) -> LinearProbe:
    """Fit a multinomial logistic regression on frozen embeddings.

    Args:
        embeddings: [N, D] training embeddings (one per window).
        labels: [N] long class indices in 0..n_classes-1.
        n_classes: number of classes C.
        settings: L2 penalty and iterations.

    Returns:
        The fitted :class:`LinearProbe` (on the embeddings' device), in eval mode.
    """
    settings = settings if settings is not None else ProbeSettings()
    if embeddings.dim() != 2 or labels.shape != embeddings.shape[:1]:
        raise ValueError(
            f"fit_linear_probe: embeddings [N, D] and labels [N] expected, got "
            f"{tuple(embeddings.shape)} and {tuple(labels.shape)}."
        )
    if labels.numel() == 0 or int(labels.min()) < 0 or int(labels.max()) >= n_classes:
        raise ValueError(f"fit_linear_probe: labels must lie in 0..{n_classes - 1}.")
    x = embeddings.detach().float()
    mean, std = x.mean(0), x.std(0, unbiased=False).clamp_min(1e-6)
    probe = LinearProbe(mean, std, n_classes).to(x.device)
    optimizer = torch.optim.LBFGS(
        probe.parameters(), lr=1.0, max_iter=settings.max_iter, line_search_fn="strong_wolfe"
    )
    labels = labels.to(x.device)

    def closure() -> Tensor:
        optimizer.zero_grad()
        logits = probe(x)
        loss = F.cross_entropy(logits, labels) + settings.l2 * probe.linear.weight.square().sum()
        loss.backward()
        return loss

    with torch.enable_grad():
        optimizer.step(closure)
    return probe.eval()


def select_clips(split: CachedSplit, clips: Tensor) -> CachedSplit:
    """The windows of the given clips, clips renumbered in the given order.

    Args:
        split: a cached split.
        clips: [K] long, distinct clip numbers of ``split``.
    """
    new_number = torch.full((split.n_clips,), -1, dtype=torch.long, device=clips.device)
    new_number[clips] = torch.arange(clips.numel(), device=clips.device)
    renumbered = new_number.to(split.clip_of_window.device)[split.clip_of_window]
    keep = renumbered >= 0
    return CachedSplit(
        split.representations[keep], renumbered[keep], split.clip_labels[clips.to(keep.device)]
    )


def stratified_halves(
    split: CachedSplit, fraction: float = 0.5, seed: int = 0
) -> tuple[CachedSplit, CachedSplit]:
    """Split the clips of every class into a fitting part and a measuring part (seeded).

    Each class keeps at least one clip on either side when it has two or more.

    Returns:
        (fit, measure) cached splits.
    """
    generator = torch.Generator().manual_seed(seed)
    labels = split.clip_labels.cpu()
    fit, measure = [], []
    for label in torch.unique(labels).tolist():
        members = torch.nonzero(labels == label).flatten()
        members = members[torch.randperm(members.numel(), generator=generator)]
        n_fit = min(max(1, round(fraction * members.numel())), max(1, members.numel() - 1))
        fit.append(members[:n_fit])
        measure.append(members[n_fit:])
    fit_clips, measure_clips = torch.cat(fit).sort().values, torch.cat(measure).sort().values
    if measure_clips.numel() == 0:
        raise ValueError("linear probe: every class has a single clip; nothing left to measure.")
    return select_clips(split, fit_clips), select_clips(split, measure_clips)


def probe_accuracy(
    fit: CachedSplit, measure: CachedSplit, settings: ProbeSettings | None = None
) -> dict[str, float]:
    """Fit a probe on ``fit``'s windows and report its clip accuracy on ``measure``.

    Both splits number their classes alike (the same classes). Clips labelled -1 (no label)
    are left out of the fit.

    Returns:
        ``{"acc": mean, "acc_ci95": 95% CI over the measured clips}``.
    """
    settings = settings if settings is not None else ProbeSettings()
    window_labels = fit.clip_labels[fit.clip_of_window]
    labelled = window_labels >= 0
    n_classes = int(max(fit.clip_labels.max(), measure.clip_labels.max())) + 1
    probe = fit_linear_probe(
        fit.representations[labelled], window_labels[labelled], n_classes, settings
    )
    with torch.no_grad():
        logits = probe(measure.representations.to(probe.mean.device))
    scored = CachedSplit(logits, measure.clip_of_window, measure.clip_labels)
    return classification_accuracy(scored, settings.combine)


def linear_probe(
    method, datamodule, settings: ProbeSettings | None = None, split: str = "test"
) -> dict[str, float]:
    """Linear-probe accuracy of a method's frozen encoder on a data module's clips.

    When the splits share their classes (folds, official splits), the probe is fitted on the
    training split's labelled clips and measured on ``split``. When the classes of ``split``
    are novel (few-shot class splits), it is fitted on a seeded, stratified ``fit_fraction`` of
    that split's clips and measured on the rest.

    Args:
        method: a trained method (see :func:`~audiofsl.evaluation.embedding.embed_loader`).
        datamodule: an audiofsl data module (``split.class_disjoint``,
            ``sequential_dataloader(split)``).
        settings: probe settings.
        split: the split measured: ``"test"``, or ``"val"`` for an online evaluation during
            training.

    Returns:
        ``{"acc": ..., "acc_ci95": ...}`` over the measured clips.
    """
    settings = settings if settings is not None else ProbeSettings()
    measured = embed_loader(method, datamodule.sequential_dataloader(split))
    if datamodule.split.class_disjoint:
        fit, measure = stratified_halves(measured, settings.fit_fraction, settings.seed)
    else:
        fit, measure = embed_loader(method, datamodule.sequential_dataloader("train")), measured
    return probe_accuracy(fit, measure, settings)
