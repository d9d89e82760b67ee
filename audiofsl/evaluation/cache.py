"""The representations of a val/test split, computed once per evaluation and then scored."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

GatherFn = Callable[[Tensor], Tensor]


@dataclass
class CachedSplit:
    """Every window of a split, embedded once.

    Attributes:
        representations: ``[N_windows, *R]`` what the method scores (embeddings ``[D]``,
            feature maps ``[C, H, W]``, fused views ...), ordered by window index.
        clip_of_window: ``[N_windows]`` long, the clip (0..n_clips-1) of each window.
        clip_labels: ``[n_clips]`` long, the class of each clip.
        clip_targets: ``[n_clips, C]`` float multi-hot labels of each clip, when the batches
            carried them (multi-label data), else None.
    """

    representations: Tensor
    clip_of_window: Tensor
    clip_labels: Tensor
    clip_targets: Tensor | None = None

    @property
    def n_clips(self) -> int:
        return int(self.clip_labels.numel())

    @property
    def single_window(self) -> bool:
        """Whether every clip has exactly one window."""
        return self.clip_of_window.numel() == self.n_clips


class EvaluationCache:
    """Collects the representations of evaluation batches, keyed by dataset indices.

    Each batch contributes its representations with the window index (``batch["index"]``),
    the clip of each window (``batch["segment"]``, the window index itself for one-window clips)
    and the label. :meth:`finalize` orders everything by window index and renumbers the clips,
    so the result does not depend on the batch order. Across processes (DDP), :meth:`finalize`
    takes a gather of every rank's rows (:func:`audiofsl.distributed.gather_rows`): every
    tensor is per-window, so the gathered rows are concatenated, ordered, and a window that
    several ranks embedded (the repeats that even out the ranks' shares) is kept once.
    """

    def __init__(self) -> None:
        self._parts: dict[str, list[Tensor]] = {
            "reps": [], "index": [], "clip": [], "label": [], "targets": []
        }  # fmt: skip

    def __len__(self) -> int:
        return sum(part.shape[0] for part in self._parts["index"])

    def add(self, representations: Tensor, batch: dict) -> None:
        """Store one batch.

        Args:
            representations: ``[B, *R]`` (kept in float32, on their device).
            batch: the evaluation batch with ``"index"`` ``[B]``, ``"label"`` ``[B]`` and
                optionally ``"segment"`` ``[B]`` (the clip of each window) and ``"labels"``
                ``[B, C]`` (multi-hot).
        """
        index = batch["index"]
        self._parts["reps"].append(representations.detach().float())
        self._parts["index"].append(index)
        self._parts["clip"].append(batch.get("segment", index))
        self._parts["label"].append(batch["label"])
        if "labels" in batch:
            self._parts["targets"].append(batch["labels"].float())

    def clear(self) -> None:
        for part in self._parts.values():
            part.clear()

    def finalize(self, gather: GatherFn | None = None) -> CachedSplit:
        """The cached split, ordered by window index (after ``gather``, when given).

        Raises:
            ValueError: if nothing was cached, or (without ``gather``) a window came twice.
        """
        if not self._parts["index"]:
            raise ValueError("the evaluation cache is empty: no val/test batch was embedded.")
        joined = {name: torch.cat(parts) for name, parts in self._parts.items() if parts}
        if "targets" in joined and len(joined["targets"]) != len(joined["index"]):
            raise ValueError("the evaluation cache got multi-hot labels for some batches only.")
        if gather is not None:
            joined = {name: gather(tensor) for name, tensor in joined.items()}
        index = joined["index"].to(joined["reps"].device)
        order = torch.argsort(index, stable=True)
        repeated = index[order][1:] == index[order][:-1]
        if gather is not None:
            # ranks evaluate equal shares, the last ones filled up with repeated windows
            order = order[torch.cat([repeated.new_ones(1), ~repeated])]
        elif bool(repeated.any()):
            raise ValueError(
                "the evaluation cache holds a window twice; check the loader's indices."
            )
        clips, clip_of_window = torch.unique(
            joined["clip"].to(index.device)[order], return_inverse=True
        )
        labels = torch.zeros(clips.numel(), dtype=torch.long, device=index.device)
        labels[clip_of_window] = joined["label"].to(index.device)[order].long()
        targets = None
        if "targets" in joined:
            window_targets = joined["targets"].to(index.device)[order]
            targets = torch.zeros(clips.numel(), window_targets.shape[1], device=index.device)
            targets[clip_of_window] = window_targets
        return CachedSplit(joined["reps"][order], clip_of_window, labels, targets)
