"""Gathers across ranks: with gradients for contrastive losses, of any length for evaluation."""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch import Tensor

from audiofsl.distributed.world import current_world


class _GatherWithGrad(torch.autograd.Function):
    """All-gather whose backward hands each rank the summed gradient of its own slice.

    ``torch.distributed.all_gather`` returns tensors cut off from the graph, so a loss over
    gathered embeddings would only learn through the local ones. Here the forward concatenates
    every rank's equal-shaped slice along ``dim`` and the backward all-reduces (sums) the
    gradient of the concatenation, then returns this rank's slice: each rank's loss sends
    gradient to every rank's inputs.
    """

    @staticmethod
    def forward(ctx, tensor: Tensor, dim: int) -> Tensor:  # noqa: D102
        world = current_world()
        ctx.dim, ctx.rank, ctx.length = dim, world.rank, tensor.shape[dim]
        parts = [torch.empty_like(tensor) for _ in range(world.size)]
        dist.all_gather(parts, tensor.contiguous())
        return torch.cat(parts, dim=dim)

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor, None]:  # noqa: D102
        grad = grad.contiguous()
        dist.all_reduce(grad, op=dist.ReduceOp.SUM)
        return grad.narrow(ctx.dim, ctx.rank * ctx.length, ctx.length), None


def gather_with_grad(tensor: Tensor, dim: int = 0) -> Tensor:
    """Concatenate every rank's ``tensor`` along ``dim``, in rank order, keeping gradients.

    Every rank must pass a tensor of the same shape. A loss computed on the result, the same
    on every rank, then gets through DDP's gradient averaging exactly the gradient of that
    loss on one process holding the whole batch: each rank's slice receives the sum over the
    ranks' (identical) losses, ``W`` times the full-batch gradient, and DDP divides by ``W``.

    Args:
        tensor: ``[..., n, ...]`` this rank's part (``n`` along ``dim``).
        dim: the dimension to concatenate along.

    Returns:
        ``[..., W * n, ...]``; ``tensor`` itself in a single process.
    """
    if not current_world().distributed:
        return tensor
    return _GatherWithGrad.apply(tensor, dim)


def gather_rows(tensor: Tensor) -> Tensor:
    """Concatenate every rank's rows ``[n_r, ...]`` in rank order (``n_r`` may differ), no grad.

    Args:
        tensor: ``[n_r, *S]``, the same ``S`` and dtype on every rank.

    Returns:
        ``[sum_r n_r, *S]``; ``tensor`` itself in a single process.
    """
    world = current_world()
    if not world.distributed:
        return tensor
    tensor = tensor.detach().contiguous()
    length = torch.tensor([tensor.shape[0]], device=tensor.device)
    lengths = [torch.empty_like(length) for _ in range(world.size)]
    dist.all_gather(lengths, length)
    longest = int(max(int(n) for n in lengths))
    padded = tensor.new_zeros((longest, *tensor.shape[1:]))
    padded[: tensor.shape[0]] = tensor
    parts = [torch.empty_like(padded) for _ in range(world.size)]
    dist.all_gather(parts, padded)
    return torch.cat([part[: int(n)] for part, n in zip(parts, lengths, strict=True)])
