"""Pairwise similarity heads for contrastive objectives (Saeed et al., 2021; Chen et al., 2020)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

BILINEAR_INITS = ("normal", "identity", "xavier")


def _check_pair(a: Tensor, b: Tensor, dim: int | None, name: str) -> None:
    """Raises ValueError unless ``a`` is ``[B, P]`` and ``b`` is ``[N, P]`` (``P = dim`` if set)."""
    width = a.shape[-1] if dim is None and a.dim() == 2 else dim
    if a.dim() != 2 or b.dim() != 2 or a.shape[1] != width or b.shape[1] != width:
        expected = "P" if dim is None else f"P={dim}"
        raise ValueError(
            f"{name} expects a [B, {expected}] and b [N, {expected}], got a {tuple(a.shape)} "
            f"and b {tuple(b.shape)}."
        )


class BilinearSimilarity(nn.Module):
    """Learned bilinear similarity ``s(a, b) = a^T W b`` of every pair of rows.

    COLA (Saeed, Grangier & Zeghidour, ICASSP 2021, "Contrastive learning of general-purpose
    audio representations", arXiv:2010.10915) scores an anchor against the positives of the
    batch with this form and finds it better than the (temperature-scaled) cosine
    similarity; ``W`` is trained with the encoder (a :class:`~audiofsl.losses.ColaLoss` holds
    this module, so its parameters are trained and checkpointed with the method).

    Initialisation (``init``):

    - ``"normal"`` (default): ``W_ij ~ N(0, 0.05^2)``, the Keras ``random_normal`` default the
      authors' public TensorFlow code uses for ``W``.
    - ``"identity"``: ``W = I``, so training starts from the plain dot product.
    - ``"xavier"``: Glorot-uniform, ``U(-a, a)`` with ``a = sqrt(6 / (2 P))``.

    Args:
        dim: ``P``, the size of the projections being compared.
        init: One of ``"normal"``, ``"identity"``, ``"xavier"``.
    """

    def __init__(self, dim: int, init: str = "normal") -> None:
        super().__init__()
        if dim < 1:
            raise ValueError(f"BilinearSimilarity dim must be >= 1, got {dim}.")
        if init not in BILINEAR_INITS:
            raise ValueError(
                f"BilinearSimilarity init must be one of {BILINEAR_INITS}, got {init!r}."
            )
        self.dim = int(dim)
        self.init = init
        self.weight = nn.Parameter(torch.empty(self.dim, self.dim))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Re-draws ``W`` as ``init`` says."""
        with torch.no_grad():
            if self.init == "normal":
                nn.init.normal_(self.weight, mean=0.0, std=0.05)
            elif self.init == "identity":
                nn.init.eye_(self.weight)
            else:
                nn.init.xavier_uniform_(self.weight)

    def forward(self, a: Tensor, b: Tensor) -> Tensor:
        """Similarity of every row of ``a`` to every row of ``b``.

        Args:
            a: ``[B, P]`` e.g. anchors.
            b: ``[N, P]`` e.g. positives/candidates.

        Returns:
            ``[B, N]`` with entry ``[i, j] = a_i^T W b_j`` (i.e. ``a W b^T``).
        """
        _check_pair(a, b, self.dim, type(self).__name__)
        return a @ (self.weight @ b.transpose(0, 1))

    def extra_repr(self) -> str:
        return f"dim={self.dim}, init={self.init!r}"


class CosineSimilarity(nn.Module):
    """Temperature-scaled cosine similarity ``cos(a_i, b_j) / T`` of every pair of rows.

    The similarity of SimCLR's NT-Xent (Chen et al., ICML 2020) and COLA's non-learned
    alternative (Saeed et al., 2021). No parameters. Rows are L2-normalised with
    ``F.normalize`` (a zero row has similarity 0 to everything).

    Args:
        temperature: ``T > 0``.
    """

    def __init__(self, temperature: float = 0.1) -> None:
        super().__init__()
        if temperature <= 0:
            raise ValueError(f"CosineSimilarity temperature must be positive, got {temperature}.")
        self.temperature = float(temperature)

    def forward(self, a: Tensor, b: Tensor) -> Tensor:
        """Similarity of every row of ``a`` to every row of ``b``.

        Args:
            a: ``[B, P]``.
            b: ``[N, P]``.

        Returns:
            ``[B, N]`` with entry ``[i, j] = cos(a_i, b_j) / T``.
        """
        _check_pair(a, b, None, type(self).__name__)
        return F.normalize(a, dim=-1) @ F.normalize(b, dim=-1).transpose(0, 1) / self.temperature

    def extra_repr(self) -> str:
        return f"temperature={self.temperature}"
