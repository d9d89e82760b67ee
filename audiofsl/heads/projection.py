"""Projection MLP for contrastive objectives (Chen et al., 2020; Sgouropoulos et al., 2025)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

OUTPUT_NORMS = ("none", "layer")
OUTPUT_ACTIVATIONS = ("none", "tanh")


class ProjectionHead(nn.Module):
    """MLP that maps embeddings into the space where a contrastive loss is computed.

    Each hidden layer is ``Linear -> [BatchNorm1d] -> ReLU``; a final ``Linear`` maps to
    ``out_dim``; then, in order, the optional ``output_norm`` (``LayerNorm(out_dim)``), the
    optional ``output_activation`` (``tanh``) and, when ``normalize``, L2 normalisation.
    ``hidden_dims=()`` with ``out_dim=None`` is the identity followed by L2 normalisation.

    Typical settings: the prototypical contrastive loss of Sgouropoulos et al. (2025, MLSP,
    arXiv:2509.10074) uses ``ProjectionHead(256, (128,), 256)`` (Linear-ReLU-Linear, then
    L2-normalise); CLAR (Al-Tahan & Mohsenzadeh, 2021) uses
    ``ProjectionHead(512, (512,), 128, batch_norm=True)``; COLA (Saeed et al., ICASSP 2021)
    uses a single dense layer followed by layer normalisation and tanh,
    ``ProjectionHead(D, (), 512, output_norm="layer", output_activation="tanh",
    normalize=False)``, compared with :class:`~audiofsl.heads.BilinearSimilarity`.

    Args:
        in_dim: Input embedding size ``D``.
        hidden_dims: Sizes of the hidden layers, in order.
        out_dim: Output size; ``None`` only together with ``hidden_dims=()`` (no layers).
        batch_norm: Whether each hidden layer has a ``BatchNorm1d`` before its ReLU.
        normalize: Whether to L2-normalise the output along the last dim.
        output_norm: ``"none"`` or ``"layer"`` (a learnable ``LayerNorm`` over the output).
        output_activation: ``"none"`` or ``"tanh"``, applied after ``output_norm``.
    """

    def __init__(
        self,
        in_dim: int,
        hidden_dims: Sequence[int] = (128,),
        out_dim: int | None = 256,
        batch_norm: bool = False,
        normalize: bool = True,
        output_norm: str = "none",
        output_activation: str = "none",
    ) -> None:
        super().__init__()
        hidden_dims = tuple(int(h) for h in hidden_dims)
        if in_dim < 1 or any(h < 1 for h in hidden_dims) or (out_dim is not None and out_dim < 1):
            raise ValueError(
                "ProjectionHead in_dim, hidden_dims and out_dim must be >= 1, got "
                f"in_dim={in_dim}, hidden_dims={hidden_dims}, out_dim={out_dim}."
            )
        if out_dim is None and hidden_dims:
            raise ValueError(
                f"ProjectionHead out_dim=None (no layers) needs hidden_dims=(), got {hidden_dims}; "
                "set out_dim to the size of the projection."
            )
        if output_norm not in OUTPUT_NORMS:
            raise ValueError(
                f"ProjectionHead output_norm must be one of {OUTPUT_NORMS}, got {output_norm!r}."
            )
        if output_activation not in OUTPUT_ACTIVATIONS:
            raise ValueError(
                f"ProjectionHead output_activation must be one of {OUTPUT_ACTIVATIONS}, got "
                f"{output_activation!r}."
            )
        self.in_dim = in_dim
        self.out_dim = in_dim if out_dim is None else out_dim
        self.normalize = normalize
        layers: list[nn.Module] = []
        width = in_dim
        for hidden in hidden_dims:
            layers.append(nn.Linear(width, hidden, bias=not batch_norm))
            if batch_norm:
                layers.append(nn.BatchNorm1d(hidden))
            layers.append(nn.ReLU(inplace=True))
            width = hidden
        if out_dim is not None:
            layers.append(nn.Linear(width, out_dim))
        self.mlp = nn.Sequential(*layers)
        self.output_norm = nn.LayerNorm(self.out_dim) if output_norm == "layer" else None
        self.output_activation = output_activation

    def forward(self, x: Tensor) -> Tensor:
        """Projected (and normalised) embeddings.

        Args:
            x: ``[..., in_dim]`` embeddings; leading dims are flattened for the layers
                (batch norm statistics are taken over all of them).

        Returns:
            ``[..., out_dim]`` projections (after ``output_norm`` and ``output_activation``),
            unit-norm when ``normalize``.
        """
        if x.dim() < 1 or x.shape[-1] != self.in_dim:
            raise ValueError(
                f"ProjectionHead expects embeddings [..., in_dim={self.in_dim}], got "
                f"{tuple(x.shape)}; set the projection's in_dim to the encoder's out_dim."
            )
        out = self.mlp(x.reshape(-1, self.in_dim)).reshape(*x.shape[:-1], self.out_dim)
        if self.output_norm is not None:
            out = self.output_norm(out)
        if self.output_activation == "tanh":
            out = torch.tanh(out)
        return F.normalize(out, dim=-1) if self.normalize else out
