"""Mean accuracy and its 95% confidence interval over evaluation tasks."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

__all__ = ["mean_ci"]

_Z_95 = 1.96


def mean_ci(acc: Tensor | Sequence[float]) -> tuple[float, float]:
    """Mean and 95% confidence-interval half-width of per-task accuracies.

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
    values = torch.as_tensor(acc, dtype=torch.float64).detach().cpu()
    if values.dim() != 1 or values.numel() == 0:
        raise ValueError(
            f"mean_ci: acc must be a non-empty 1-D sequence of per-task accuracies, got shape "
            f"{tuple(values.shape)}."
        )
    if not torch.isfinite(values).all():
        raise ValueError("mean_ci: acc contains NaN or infinite values.")
    n = values.numel()
    mean = values.mean().item()
    if n == 1:
        return mean, 0.0
    return mean, _Z_95 * values.std(correction=1).item() / math.sqrt(n)
