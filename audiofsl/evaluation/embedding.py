"""A trained method's embeddings of every window a loader yields, outside the trainer's loops
(for the linear probe, the prototype classifier and plots)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from audiofsl.evaluation.cache import CachedSplit, EvaluationCache

if TYPE_CHECKING:
    from audiofsl.methods.base import FewShotMethod


@torch.no_grad()
def embed_loader(method: FewShotMethod, loader: Iterable[dict]) -> CachedSplit:
    """Embed every window a sequential loader yields, in eval mode, without augmentation.

    Args:
        method: the trained method (its mode is restored afterwards).
        loader: batches with ``audio`` [B, T] and the window bookkeeping of evaluation batches.

    Returns:
        The :class:`CachedSplit` of the encoder's embeddings [N_windows, D] (never a
        classifier's logits or a projection; the fused views of methods evaluated on views).
    """
    was_training, cache = method.training, EvaluationCache()
    method.eval()
    try:
        for batch in loader:
            moved = {k: v.to(method.device) if isinstance(v, Tensor) else v
                     for k, v in batch.items()}  # fmt: skip
            batch = method.evaluation_features(moved)
            if method.evaluator.views:
                cache.add(method.representation(batch), batch)
            else:
                cache.add(method.embed(batch["features"]), batch)
    finally:
        method.train(was_training)
    return cache.finalize()
