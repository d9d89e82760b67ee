"""The class-major episode layout shared by the collate and the episodic methods."""

from __future__ import annotations

from torch import Tensor


def split_episode(
    x: Tensor, n_way: int, n_shot: int, n_query: int, feature_dims: int = 1
) -> tuple[Tensor, Tensor]:
    """Split class-major episode rows into support and query blocks.

    Args:
        x: [..., n_way * (n_shot + n_query), *feature] rows in the layout produced by
            ``EpisodeCollate``: class ``c`` occupies rows ``c*K .. (c+1)*K - 1`` with
            ``K = n_shot + n_query``, its support first.
        n_way, n_shot, n_query: the episode shape.
        feature_dims: how many trailing dimensions form one row's feature
            (1 for embeddings [D], 3 for feature maps [C, H, W]).

    Returns:
        support [..., n_way, n_shot, *feature] and query [..., n_way, n_query, *feature].
    """
    per_class = n_shot + n_query
    row_dim = x.dim() - 1 - feature_dims
    if row_dim < 0 or x.shape[row_dim] != n_way * per_class:
        rows = x.shape[row_dim] if row_dim >= 0 else None
        raise ValueError(
            f"episode has {rows} rows but n_way={n_way} x (n_shot={n_shot} + "
            f"n_query={n_query}) = {n_way * per_class} were expected"
        )
    shape = (*x.shape[:row_dim], n_way, per_class, *x.shape[row_dim + 1 :])
    blocks = x.reshape(shape)
    support = blocks.narrow(row_dim + 1, 0, n_shot)
    query = blocks.narrow(row_dim + 1, n_shot, n_query)
    return support, query


def episode_blocks(rows: Tensor, batch: dict) -> Tensor:
    """One block of rows per view and episode of an episodic training batch.

    Args:
        rows: ``[V * E * W * (S + Q), *feature]`` per-clip rows of the batch's features,
            view-major, then episode by episode (``E = batch["episodes_per_batch"]``, 1 if
            absent; ``V = batch["n_views"]``).
        batch: the episodic batch.

    Returns:
        ``[V * E, W * (S + Q), *feature]``: each block one episode under one view, the layout
        :func:`split_episode` takes (the episodic losses treat every block as an episode).
    """
    blocks = batch["n_views"] * batch.get("episodes_per_batch", 1)
    return rows.reshape(blocks, -1, *rows.shape[1:])
