"""Plots of a run's test results, written to the run directory and to TensorBoard.

``callbacks.test_plots`` (:class:`TestPlots`, on by default; ``callbacks.test_plots=null``
turns it off) draws, after testing, the figures of :mod:`audiofsl.evaluation.plots`:

==========================  =========================================================
``confusion_matrix.png``    single-label classifier runs (``test_by=classifier``)
``f1_per_class.png``        classifier runs; multi-label ones at the stored threshold
``precision_recall.png``    multi-label classifier runs
``embedding_map.png``       every run: the test clips' embeddings in 2-D (PCA/t-SNE)
==========================  =========================================================
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import lightning as L
import torch
from lightning.pytorch.loggers import TensorBoardLogger
from matplotlib.figure import Figure
from torch import Tensor

from audiofsl.evaluation.cache import CachedSplit
from audiofsl.evaluation.classification import clip_probabilities
from audiofsl.evaluation.embedding import embed_loader
from audiofsl.evaluation.evaluator import ClassifierEvaluator
from audiofsl.evaluation.metrics import multi_label_metrics, single_label_metrics
from audiofsl.evaluation.plots import (
    EMBEDDING_MAP_METHODS,
    confusion_matrix_figure,
    embedding_map_figure,
    per_class_f1_figure,
    precision_recall_figure,
    require_tsne,
    save_figure,
)
from audiofsl.evaluation.windows import mean_over_windows, window_table

if TYPE_CHECKING:  # methods build on evaluation, not the other way round
    from audiofsl.methods import FewShotMethod

log = logging.getLogger(__name__)

FigureBuilder = Callable[[], Figure]
_METHOD_LABELS = {"pca": "PCA", "tsne": "t-SNE"}


class TestPlots(L.Callback):
    """Write figures of the test split into ``dirpath`` and to every TensorBoard logger.

    At the end of testing it reads the test split the method's evaluator measured last
    (:attr:`~audiofsl.evaluation.evaluator.SplitEvaluator.last`) and draws:

    * runs tested by a classifier (a
      :class:`~audiofsl.evaluation.evaluator.ClassifierEvaluator`): single-label, the
      confusion matrix of the clips and their per-class F1; multi-label (a method with a
      ``decision_threshold()``), the per-class F1 at that threshold and the precision-recall
      curves, the windows' probabilities combined per clip as the evaluator combines them;
    * every run: the embedding map of the test clips (a clip's windows averaged), from the
      cached embeddings of episode runs, or from the encoder (``embed_loader`` over the test
      split) for classifier runs and methods that cache other representations; at most
      ``max_points`` clips, a seeded subsample.

    Class names come from the datamodule's test set (or the method's stored training classes
    for classifier runs), else the class indices. Images go to ``dirpath/<name>.png`` and to
    TensorBoard as ``test/<name>``. Plots are a report, not the run's result: a failing plot is
    logged as a warning and the run goes on.

    Args:
        dirpath: folder of the PNG files (default: ``trainer.default_root_dir/plots``, the run
            directory's ``plots/``).
        embedding_map: ``"pca"``, ``"tsne"`` (needs scikit-learn, checked here) or None for no
            map.
        max_points: the most clips on the embedding map.
        seed: the subsample's seed (and t-SNE's).
        dpi: resolution of the PNG files.
    """

    __test__ = False  # named Test...: not a test class for pytest

    def __init__(
        self,
        dirpath: str | Path | None = None,
        embedding_map: str | None = "pca",
        max_points: int = 2000,
        seed: int = 0,
        dpi: int = 120,
    ) -> None:
        if embedding_map is not None and embedding_map not in EMBEDDING_MAP_METHODS:
            raise ValueError(
                f"TestPlots embedding_map={embedding_map!r}: choose one of "
                f"{EMBEDDING_MAP_METHODS} or null."
            )
        if embedding_map == "tsne":
            require_tsne()  # before training, not after it
        if max_points < 2:
            raise ValueError(f"TestPlots max_points={max_points} must be at least 2.")
        self.dirpath = Path(dirpath) if dirpath is not None else None
        self.embedding_map = embedding_map
        self.max_points = int(max_points)
        self.seed = int(seed)
        self.dpi = int(dpi)

    def on_test_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not trainer.is_global_zero:
            return
        try:
            builders = self.figures(trainer, pl_module)
        except Exception as error:
            log.warning("test plots skipped: %s: %s", type(error).__name__, error, exc_info=True)
            return
        directory = self.dirpath or Path(trainer.default_root_dir) / "plots"
        written = []
        for name, build in builders.items():
            try:
                figure = build()
                for logger in trainer.loggers:
                    if isinstance(logger, TensorBoardLogger):
                        logger.experiment.add_figure(
                            f"test/{name}", figure, global_step=trainer.global_step, close=False
                        )
                written.append(save_figure(figure, directory / f"{name}.png", self.dpi))
            except Exception as error:
                log.warning("test plot %s failed: %s: %s", name, type(error).__name__, error,
                            exc_info=True)  # fmt: skip
        if written:
            log.info("test plots: %s", ", ".join(str(path) for path in written))

    def figures(self, trainer: L.Trainer, pl_module: FewShotMethod) -> dict[str, FigureBuilder]:
        """The figures of the latest test evaluation by file name, each built when called."""
        evaluator = pl_module.evaluator
        if evaluator.last is None or evaluator.last.split != "test":
            raise ValueError("the method's evaluator holds no test evaluation")
        cached = evaluator.last.cached
        builders: dict[str, FigureBuilder] = {}
        if isinstance(evaluator, ClassifierEvaluator):
            builders.update(classifier_figures(trainer, pl_module, evaluator, cached))
        if self.embedding_map is not None:
            builders["embedding_map"] = lambda: self._embedding_map(trainer, pl_module, cached)
        return builders

    def _embedding_map(
        self, trainer: L.Trainer, pl_module: FewShotMethod, cached: CachedSplit
    ) -> Figure:
        """The map of the test clips' mean embeddings (a seeded subsample of ``max_points``)."""
        by_classifier = pl_module.evaluator.by_classifier
        if by_classifier or cached.representations.dim() != 2:
            datamodule = trainer.datamodule
            if datamodule is None:
                raise ValueError("no datamodule to embed the test clips with")
            cached = embed_loader(pl_module, datamodule.sequential_dataloader("test"))
        embeddings = clip_embeddings(cached)
        labels = cached.clip_labels.cpu()
        if embeddings.dim() != 2:
            raise ValueError(f"embeddings [N, D] expected, got {tuple(embeddings.shape)}")
        n_clips = embeddings.shape[0]
        if n_clips > self.max_points:
            generator = torch.Generator().manual_seed(self.seed)
            keep = torch.randperm(n_clips, generator=generator)[: self.max_points].sort().values
            embeddings, labels = embeddings[keep], labels[keep]
        n_classes = int(cached.clip_labels.max()) + 1
        names = class_names(trainer, pl_module if by_classifier else None, n_classes, exact=False)
        return embedding_map_figure(
            embeddings, labels, names, self.embedding_map, self.seed,
            title=f"Test clips' embeddings, {_METHOD_LABELS[self.embedding_map]} "
            f"({embeddings.shape[0]} of {n_clips} clips)",
        )  # fmt: skip


def clip_embeddings(cached: CachedSplit) -> Tensor:
    """``[n_clips, D]`` the mean of each clip's window embeddings ``[N_windows, D]`` (CPU)."""
    representations = cached.representations.detach().float().cpu()
    table, mask = window_table(cached.clip_of_window.cpu(), cached.n_clips)
    return mean_over_windows(representations, table, mask)


def class_names(
    trainer: L.Trainer, pl_module: FewShotMethod | None, n: int, exact: bool = True
) -> list[str]:
    """Class names in label order: the test set's, else (with ``pl_module``) the method's
    stored training classes, else the indices ``0..n-1``; a list counts when it holds ``n``
    names (at least ``n`` unless ``exact``)."""
    test_set = getattr(getattr(trainer, "datamodule", None), "test_set", None)
    candidates = [getattr(test_set, "class_names", None)]
    if pl_module is not None:
        candidates.append(pl_module.class_names)
    for names in candidates:
        if names is not None and (len(names) == n or (not exact and len(names) > n)):
            return [str(name) for name in names]
    return [str(index) for index in range(n)]


def classifier_figures(
    trainer: L.Trainer,
    pl_module: FewShotMethod,
    evaluator: ClassifierEvaluator,
    cached: CachedSplit,
) -> dict[str, FigureBuilder]:
    """A classifier's figures from its cached test logits ``[N_windows, C]``, by file name
    (windows combined per clip as ``evaluator`` does)."""
    combine = evaluator.clip_combination
    names = class_names(trainer, pl_module, cached.representations.shape[-1])
    threshold = pl_module.decision_threshold()
    if threshold is None:
        return {
            "confusion_matrix": lambda: _confusion_matrix(cached, combine, names),
            "f1_per_class": lambda: _single_label_f1(cached, combine, names),
        }
    threshold = threshold.detach().cpu()
    return {
        "f1_per_class": lambda: _multi_label_f1(cached, combine, threshold, names),
        "precision_recall": lambda: precision_recall_figure(
            *_multi_label_scores(cached, combine), names
        ),
    }


def _confusion_matrix(cached: CachedSplit, combine: str, names: list[str]) -> Figure:
    probabilities = clip_probabilities(cached, combine)
    return confusion_matrix_figure(probabilities, cached.clip_labels, names)


def _single_label_f1(cached: CachedSplit, combine: str, names: list[str]) -> Figure:
    probabilities = clip_probabilities(cached, combine)
    labels = cached.clip_labels.to(probabilities.device)
    return per_class_f1_figure(single_label_metrics(probabilities, labels)["f1_per_class"], names)


def _multi_label_scores(cached: CachedSplit, combine: str) -> tuple[Tensor, Tensor]:
    """Clip probabilities and multi-hot targets, both ``[n_clips, C]`` on the CPU."""
    if cached.clip_targets is None:
        raise ValueError("the multi-label test split holds no multi-hot labels")
    probabilities = clip_probabilities(cached, combine, multi_label=True).cpu()
    return probabilities, cached.clip_targets.cpu()


def _multi_label_f1(
    cached: CachedSplit, combine: str, threshold: Tensor, names: list[str]
) -> Figure:
    """Per-class F1 at ``threshold`` (one value, or ``[C]`` one per class)."""
    probabilities, targets = _multi_label_scores(cached, combine)
    f1 = multi_label_metrics(probabilities, targets, threshold)["f1_per_class"]
    if bool((threshold == threshold.flatten()[0]).all()):
        at = f"threshold {threshold.flatten()[0].item():.2f}"
    else:
        at = "the per-class thresholds"
    return per_class_f1_figure(f1, names, title=f"F1 per class at {at}")
