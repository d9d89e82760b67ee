"""Mean accuracy and its 95% confidence interval: over evaluation tasks, and over seeds.

Two formulas for two situations. Over thousands of evaluation tasks the normal approximation
of the few-shot literature is accurate (:func:`mean_ci`); over a handful of training seeds it is
far too narrow, and Student's t with ``n - 1`` degrees of freedom is used instead
(:func:`mean_ci_over_seeds`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

__all__ = ["mean_ci", "mean_ci_over_seeds"]

_Z_95 = 1.96


def mean_ci(acc: Tensor | Sequence[float]) -> tuple[float, float]:
    """Mean and 95% confidence-interval half-width of per-task accuracies (many tasks).

    The one place that owns the reporting formula used across few-shot papers (e.g. Snell et
    al., 2017; Chen et al., 2019): ``ci95 = 1.96 * std / sqrt(n)``, a normal approximation
    where ``std`` is the sample standard deviation (unbiased, divisor ``n - 1``). A single
    task gives a half-width of 0.

    Args:
        acc: ``[n_tasks]`` accuracies (tensor, array or sequence of floats).

    Returns:
        ``(mean, ci95)`` as Python floats.

    Raises:
        ValueError: If ``acc`` is empty, not one-dimensional or not finite.
    """
    values = _checked(acc, "mean_ci", "acc", "per-task accuracies")
    n = values.numel()
    mean = values.mean().item()
    if n == 1:
        return mean, 0.0
    return mean, _Z_95 * values.std(correction=1).item() / math.sqrt(n)


def mean_ci_over_seeds(values: Sequence[float], confidence: float = 0.95) -> tuple[float, float]:
    """Mean and confidence-interval half-width of a result over independent training seeds.

    ``half-width = t * std / sqrt(n)`` with ``t`` the ``(1 + confidence) / 2`` quantile of
    Student's t distribution with ``n - 1`` degrees of freedom and ``std`` the sample standard
    deviation: the interval for a mean of few values (for two seeds ``t`` is 12.71, not 1.96).
    One value gives no interval: NaN. Each value must come from a different seed (average
    repeated runs of one seed first); the quantile is scipy's (a dependency of librosa).

    Args:
        values: ``[n_seeds]`` results, one per seed.
        confidence: coverage of the interval, in (0, 1).

    Returns:
        ``(mean, half_width)`` as Python floats; ``half_width`` is NaN when ``n_seeds == 1``.

    Raises:
        ValueError: If ``values`` is empty, not one-dimensional or not finite, or
            ``confidence`` is outside (0, 1).
    """
    from scipy.stats import t as student_t  # imported here: only result tables need it

    if not 0.0 < confidence < 1.0:
        raise ValueError(f"mean_ci_over_seeds: confidence={confidence} must lie in (0, 1).")
    seeds = _checked(values, "mean_ci_over_seeds", "values", "results, one per seed")
    n = seeds.numel()
    mean = seeds.mean().item()
    if n == 1:
        return mean, math.nan
    quantile = float(student_t.ppf((1.0 + confidence) / 2.0, df=n - 1))
    return mean, quantile * seeds.std(correction=1).item() / math.sqrt(n)


def _checked(values, function: str, argument: str, what: str) -> Tensor:
    """``values`` as a float64 CPU tensor, or a ValueError unless it is 1-D, non-empty, finite."""
    tensor = torch.as_tensor(values, dtype=torch.float64).detach().cpu()
    if tensor.dim() != 1 or tensor.numel() == 0:
        raise ValueError(
            f"{function}: {argument} must be a non-empty 1-D sequence of {what}, got shape "
            f"{tuple(tensor.shape)}."
        )
    if not torch.isfinite(tensor).all():
        raise ValueError(f"{function}: {argument} contains NaN or infinite values.")
    return tensor
