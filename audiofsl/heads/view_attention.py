"""Self-attention over the augmented views of a clip (Sgouropoulos et al., 2025)."""

from __future__ import annotations

from torch import Tensor, nn


def from_view_major(x: Tensor, n_views: int) -> Tensor:
    """Regroups view-major embeddings by clip.

    Args:
        x: ``[V * B, D]`` embeddings, view-major: rows ``v * B .. (v + 1) * B - 1`` hold
            view ``v`` of clips ``0 .. B - 1`` (the layout of a batch repeated to ``n_views``).
        n_views: Number of views ``V``.

    Returns:
        ``[B, V, D]`` embeddings, one row of views per clip.
    """
    if n_views < 1 or x.dim() != 2 or x.shape[0] % n_views != 0:
        raise ValueError(
            f"from_view_major expects view-major embeddings [n_views * B, D] with "
            f"n_views={n_views}, got {tuple(x.shape)}."
        )
    return x.reshape(n_views, x.shape[0] // n_views, x.shape[1]).transpose(0, 1)


class ViewAttention(nn.Module):
    """Fuses the ``V`` views of a clip by self-attention, then concatenates them.

    One transformer encoder layer (multi-head self-attention and a feed-forward block, each
    with a residual connection and layer norm; Vaswani et al., 2017) runs over the views of
    each clip, ``[B, V, D]``; the ``V`` outputs are concatenated to one ``[B, V * D]``
    embedding, as in the few-shot audio model of Sgouropoulos et al. (2025, MLSP,
    arXiv:2509.10074), whose public configuration uses one head, ``ffn_dim=256`` and
    ``dropout=0.1``. There is no positional encoding, so the layer is permutation-equivariant
    over the views: reordering the views reorders the output blocks the same way.

    Args:
        dim: Embedding size ``D`` of each view (the encoder's ``out_dim``).
        n_views: Number of views ``V`` per clip.
        n_heads: Attention heads; must divide ``dim``.
        ffn_dim: Hidden size of the feed-forward block.
        dropout: Dropout inside the layer.
    """

    def __init__(
        self, dim: int, n_views: int, n_heads: int = 4, ffn_dim: int = 256, dropout: float = 0.1
    ) -> None:
        super().__init__()
        if dim < 1 or n_views < 1 or n_heads < 1 or ffn_dim < 1:
            raise ValueError(
                f"ViewAttention dim, n_views, n_heads and ffn_dim must be >= 1, got dim={dim}, "
                f"n_views={n_views}, n_heads={n_heads}, ffn_dim={ffn_dim}."
            )
        if dim % n_heads != 0:
            raise ValueError(
                f"ViewAttention n_heads={n_heads} must divide the embedding size dim={dim}; "
                "choose n_heads among the divisors of the encoder's out_dim."
            )
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"ViewAttention dropout must be in [0, 1), got {dropout}.")
        self.dim = dim
        self.n_views = n_views
        self.out_dim = n_views * dim
        self.layer = nn.TransformerEncoderLayer(
            d_model=dim,
            nhead=n_heads,
            dim_feedforward=ffn_dim,
            dropout=dropout,
            batch_first=True,
        )

    def forward(self, x: Tensor) -> Tensor:
        """Fused clip embeddings.

        Args:
            x: ``[B, V, D]`` view embeddings per clip, or view-major ``[V * B, D]``
                (see :func:`from_view_major`).

        Returns:
            ``[B, V * D]`` embeddings: the attended views concatenated in view order.
        """
        if x.dim() == 2:
            x = from_view_major(x, self.n_views)
        if x.dim() != 3 or x.shape[1:] != (self.n_views, self.dim):
            raise ValueError(
                f"ViewAttention expects [B, n_views={self.n_views}, dim={self.dim}] or "
                f"[n_views * B, dim], got {tuple(x.shape)}; set n_views to the number of "
                "augmented views and dim to the encoder's out_dim."
            )
        return self.layer(x).flatten(1)

    from_view_major = staticmethod(from_view_major)
