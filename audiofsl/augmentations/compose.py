"""Composing augmentations: in sequence, one of several, or some of several per example."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from collections.abc import Sequence as SequenceType

import torch
from torch import Tensor, nn

from audiofsl.augmentations.base import Params, check_probability


def _transforms(owner: str, transforms: Iterable[nn.Module]) -> nn.ModuleList:
    if isinstance(transforms, nn.Module):
        transforms = [transforms]
    transforms = list(transforms)
    for index, module in enumerate(transforms):
        if not isinstance(module, nn.Module):
            raise ValueError(
                f"{owner} transforms[{index}] is a {type(module).__name__}, not a "
                "torch.nn.Module; instantiate the augmentation before passing it."
            )
    return nn.ModuleList(transforms)


def apply_on_rows(function: Callable[[Tensor], Tensor], x: Tensor, rows: Tensor) -> Tensor:
    """Runs ``function`` on the rows where ``rows`` is True and leaves the others.

    Args:
        function: Maps ``[N, ...]`` to ``[N, ...]`` (a module, for instance).
        x: ``[B, ...]`` batch.
        rows: ``[B]`` bool mask.

    Returns:
        ``[B, ...]`` batch.
    """
    if bool(rows.all()):
        return function(x)
    index = rows.nonzero().squeeze(1)
    if index.numel() == 0:
        return x
    return x.index_copy(0, index, function(x[index]).to(x.dtype))


class _Composition(nn.Module):
    def __init__(self, transforms: Iterable[nn.Module], p: float = 1.0) -> None:
        super().__init__()
        check_probability(self, p)
        self.transforms = _transforms(type(self).__name__, transforms)
        self.p = float(p)
        #: Draws of the last call: ``applied`` ``[B]`` bool and the per-example choices.
        self.last_params: Params | None = None

    def _applied(self, x: Tensor) -> Tensor:
        return torch.rand(x.shape[0], device=x.device) < self.p

    def extra_repr(self) -> str:
        return f"p={self.p}"


class Sequence(_Composition):
    """Applies ``transforms`` in order to each selected example (each keeps its own ``p``).

    Args:
        transforms: Modules mapping ``[B, ...] -> [B, ...]``.
        p: Probability that an example goes through the sequence at all.
    """

    def forward(self, x: Tensor) -> Tensor:
        """Args: x ``[B, ...]``. Returns: ``[B, ...]``, same dtype and device."""
        applied = self._applied(x)
        self.last_params = {"applied": applied}

        def run(rows: Tensor) -> Tensor:
            for transform in self.transforms:
                rows = transform(rows)
            return rows

        return apply_on_rows(run, x, applied)


class OneOf(_Composition):
    """Applies one of ``transforms`` to each selected example, chosen per example.

    The choice is drawn per example with probabilities proportional to ``weights`` (uniform by
    default); each transform then runs once, on the rows that chose it, and still applies its
    own ``p`` there. ``last_params["choice"]`` (``[B]`` long) holds the choices.

    Args:
        transforms: Modules mapping ``[B, ...] -> [B, ...]``.
        weights: Relative choice weights, one per transform (default equal).
        p: Probability that an example is transformed at all.
    """

    def __init__(
        self,
        transforms: Iterable[nn.Module],
        weights: SequenceType[float] | None = None,
        p: float = 1.0,
    ) -> None:
        super().__init__(transforms, p)
        n = len(self.transforms)
        if n == 0:
            raise ValueError("OneOf needs at least one transform.")
        weights = [1.0] * n if weights is None else [float(w) for w in weights]
        if len(weights) != n or min(weights) < 0 or sum(weights) <= 0:
            raise ValueError(
                f"OneOf weights={weights} must be {n} non-negative numbers, not all zero."
            )
        self.register_buffer("weights", torch.tensor(weights), persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        """Args: x ``[B, ...]``. Returns: ``[B, ...]``, same dtype and device."""
        applied = self._applied(x)
        weights = self.weights.to(x.device)
        choice = torch.multinomial(weights.expand(x.shape[0], -1), 1).squeeze(1)
        self.last_params = {"applied": applied, "choice": choice}
        for index, transform in enumerate(self.transforms):
            x = apply_on_rows(transform, x, applied & (choice == index))
        return x


class SomeOf(_Composition):
    """Applies ``k`` distinct transforms, chosen per example, in list order.

    Each example draws how many transforms it gets (``k``, or uniform on
    ``{k, ..., max_k}``) and which ones (a uniformly random subset of that size); the chosen
    ones run in the order of ``transforms``, each on the rows that chose it and with its own
    ``p``. ``last_params["chosen"]`` (``[B, n]`` bool) holds the choices.

    Args:
        transforms: Modules mapping ``[B, ...] -> [B, ...]``.
        k: Number of transforms per example (the smallest number with ``max_k``).
        max_k: Largest number of transforms per example (default ``k``).
        p: Probability that an example is transformed at all.
    """

    def __init__(
        self, transforms: Iterable[nn.Module], k: int = 1, max_k: int | None = None, p: float = 1.0
    ) -> None:
        super().__init__(transforms, p)
        max_k = k if max_k is None else max_k
        n = len(self.transforms)
        if int(k) != k or int(max_k) != max_k or not 0 <= k <= max_k <= n:
            raise ValueError(
                f"SomeOf needs integers 0 <= k <= max_k <= {n} (the number of transforms), got "
                f"k={k}, max_k={max_k}."
            )
        self.k = int(k)
        self.max_k = int(max_k)

    def forward(self, x: Tensor) -> Tensor:
        """Args: x ``[B, ...]``. Returns: ``[B, ...]``, same dtype and device."""
        batch_size, n = x.shape[0], len(self.transforms)
        applied = self._applied(x)
        rank = torch.rand(batch_size, n, device=x.device).argsort(dim=1).argsort(dim=1)
        count = torch.randint(self.k, self.max_k + 1, (batch_size, 1), device=x.device)
        chosen = rank < count  # [B, n]: a uniformly random subset of size count
        self.last_params = {"applied": applied, "chosen": chosen}
        for index, transform in enumerate(self.transforms):
            x = apply_on_rows(transform, x, applied & chosen[:, index])
        return x

    def extra_repr(self) -> str:
        return f"k={self.k}, max_k={self.max_k}, p={self.p}"
