"""A trained run's classifier over its training classes, applied to audio files."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import Tensor

from audiofsl.evaluation.cache import CachedSplit
from audiofsl.evaluation.classification import CLIP_COMBINATIONS, clip_probabilities
from audiofsl.inference.files import Failure, FileEmbedder, PathLike
from audiofsl.inference.outputs import FilePrediction
from audiofsl.methods import FewShotMethod

__all__ = ["FileClassifier"]

log = logging.getLogger(__name__)


class FileClassifier:
    """The most probable training classes of audio files.

    Args:
        method: the trained method; its :meth:`~FewShotMethod.training_classifier` (None: the
            run cannot predict its classes, and :meth:`predict` says so) and
            :meth:`~FewShotMethod.decision_threshold` (multi-label runs).
        files: embeds the files' windows.
        checkpoint: where the method was loaded from (named in messages).
        class_names: the classes' names in label order (None: those saved in the checkpoint).
    """

    def __init__(
        self,
        method: FewShotMethod,
        files: FileEmbedder,
        checkpoint: Path,
        class_names: Sequence[str] | None = None,
    ) -> None:
        self.method = method
        self.files = files
        self.checkpoint = checkpoint
        self.classifier = method.training_classifier()
        threshold = method.decision_threshold()
        self.threshold = None if threshold is None else threshold.detach().float().cpu()
        self._given_names = None if class_names is None else [str(n) for n in class_names]
        self._class_names: list[str] | None = None

    @property
    def class_names(self) -> list[str]:
        """Names of the classes in label order: those given, else those saved in the
        checkpoint (every run saves its training classes), else ``class_0``, ``class_1``, ...
        with a warning."""
        if self._class_names is None:
            self._class_names = self._resolve_class_names()
        return self._class_names

    def _resolve_class_names(self) -> list[str]:
        n_classes = self._n_classes()
        if self._given_names is not None:
            if len(self._given_names) != n_classes:
                raise ValueError(
                    f"class_names: {len(self._given_names)} names given for the run's "
                    f"{n_classes} classes."
                )
            return self._given_names
        stored = self.method.class_names
        if stored is not None and len(stored) == n_classes:
            return list(stored)
        log.warning(
            "class names: %s holds no names for its %d classes (%s); they are named "
            "class_0..class_%d. Add class_names=[NAME,...] (in label order) to the command.",
            self.checkpoint, n_classes,
            "none saved" if stored is None else f"{len(stored)} saved", n_classes - 1,
        )  # fmt: skip
        return [f"class_{i}" for i in range(n_classes)]

    def _n_classes(self) -> int:
        if self.classifier is None:
            raise ValueError(
                f"{self.checkpoint}: this run's {type(self.method).__name__} has no classifier "
                "over its training classes, so it cannot predict them; train one (e.g. "
                "+experiment=synthetic_supervised), or name new classes from a few examples "
                "with enrol/classify (python -m audiofsl.enrol)."
            )
        if isinstance(self.method.n_classes, int):
            return self.method.n_classes
        probe = torch.zeros(2, self.method.encoder.out_dim, device=self.files.device)
        with torch.inference_mode():
            return int(self.classifier(probe).shape[-1])

    def predict(
        self, paths: Sequence[PathLike], top_k: int = 3, combine: str = "mean"
    ) -> tuple[list[FilePrediction], list[Failure]]:
        """The ``top_k`` most probable classes of each readable file (windows' probabilities
        combined by ``combine``: ``"mean"``, ``"max"`` or ``"mean_logits"``, see
        :func:`clip_probabilities`), in the order of ``paths``, and the unusable files."""
        names = self.class_names  # refuses a run without a classifier
        if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1:
            raise ValueError(f"top_k={top_k!r} must be a positive integer.")
        if combine not in CLIP_COMBINATIONS:
            raise ValueError(f"combine={combine!r}: choose one of {CLIP_COMBINATIONS}.")
        logits, clip_of_window, kept, failures = self.files.window_outputs(paths, self.classifier)
        if not kept:
            return [], failures
        split = CachedSplit(logits, clip_of_window, torch.zeros(len(kept), dtype=torch.long))
        multi_label = {"multi_label": True} if self.threshold is not None else {}
        probabilities = clip_probabilities(split, combine, **multi_label)  # [N, C]
        top = probabilities.topk(min(top_k, probabilities.shape[1]), dim=-1)
        rows = []
        for row, position in enumerate(kept):
            best = zip(top.indices[row].tolist(), top.values[row].tolist(), strict=True)
            rows.append(FilePrediction(
                path=str(paths[position]),
                top=[(names[c], p) for c, p in best],
                labels=self._labels(probabilities[row], names),
            ))  # fmt: skip
        return rows, failures

    def _labels(self, probabilities: Tensor, names: list[str]) -> list[str]:
        """The top class, or (multi-label) every class over the threshold, best first."""
        if self.threshold is None:
            return [names[int(probabilities.argmax())]]
        over = (probabilities > self.threshold).nonzero().flatten()
        order = over[probabilities[over].argsort(descending=True)]
        return [names[int(c)] for c in order]
