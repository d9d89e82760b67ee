"""Linear classification head."""

from __future__ import annotations

from torch import Tensor, nn


class LinearHead(nn.Module):
    """Affine map from embeddings to class logits (supervised pre-training, linear probe).

    Args:
        in_dim: Embedding size ``D`` (the encoder's ``out_dim``).
        n_classes: Number of classes ``C``.
        bias: Whether to learn a bias.
        pre_activation: BatchNorm and ReLU before the linear layer (CLAR's classifier head,
            Al-Tahan & Mohsenzadeh 2021: BN, ReLU, Linear to the classes).
    """

    def __init__(
        self, in_dim: int, n_classes: int, bias: bool = True, pre_activation: bool = False
    ) -> None:
        super().__init__()
        if in_dim < 1 or n_classes < 1:
            raise ValueError(
                f"LinearHead in_dim and n_classes must be >= 1, got {in_dim} and {n_classes}."
            )
        self.in_dim = in_dim
        self.n_classes = n_classes
        self.pre = (
            nn.Sequential(nn.BatchNorm1d(in_dim), nn.ReLU()) if pre_activation else nn.Identity()
        )
        self.linear = nn.Linear(in_dim, n_classes, bias=bias)

    def forward(self, x: Tensor) -> Tensor:
        """Class logits.

        Args:
            x: ``[B, in_dim]`` embeddings.

        Returns:
            ``[B, n_classes]`` logits.
        """
        if x.shape[-1] != self.in_dim:
            raise ValueError(
                f"LinearHead expects embeddings of size in_dim={self.in_dim}, got "
                f"{tuple(x.shape)}; set head.in_dim to the encoder's out_dim."
            )
        return self.linear(self.pre(x))
