"""Figures of a split's results: confusion matrix, per-class F1, precision-recall, embeddings.

Pure functions from tensors to matplotlib :class:`~matplotlib.figure.Figure` objects, built with
matplotlib's object-oriented API on the non-interactive Agg canvas: no pyplot state, no display
and no change of the global backend, so they work on headless machines and in notebooks alike.
The counting is torchmetrics' (confusion matrix, precision-recall curve); the 2-D embedding map
projects with an exact, centred PCA in torch, or t-SNE where scikit-learn is importable.

Example::

    figure = confusion_matrix_figure(probabilities, labels, class_names)
    save_figure(figure, "plots/confusion_matrix.png")
"""

from __future__ import annotations

import math
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path

import torch
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from torch import Tensor
from torchmetrics.functional.classification import (
    multiclass_confusion_matrix,
    multilabel_precision_recall_curve,
)

__all__ = [
    "EMBEDDING_MAP_METHODS",
    "confusion_matrix_figure",
    "embedding_coordinates",
    "embedding_map_figure",
    "per_class_f1_figure",
    "precision_recall_figure",
    "require_tsne",
    "save_figure",
]

#: Projections of :func:`embedding_map_figure`.
EMBEDDING_MAP_METHODS = ("pca", "tsne")
#: Classes up to which cells are annotated and legends drawn.
_MAX_ANNOTATED_CLASSES = 20
_TSNE_MISSING = (
    "embedding map method='tsne' needs scikit-learn's TSNE (sklearn.manifold), which cannot "
    "be imported here; scikit-learn is not a dependency of audiofsl. Use method='pca': set "
    "callbacks.test_plots.embedding_map=pca"
)


def _new_figure(width: float, height: float) -> Figure:
    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)  # render with Agg whatever the session's backend
    return figure


def _check_names(class_names: Sequence[str], n_classes: int, name: str) -> list[str]:
    names = [str(n) for n in class_names]
    if len(names) != n_classes:
        raise ValueError(f"{name}: {len(names)} class names for {n_classes} classes.")
    return names


def _check_scores(probabilities: Tensor, name: str) -> None:
    if probabilities.dim() != 2 or probabilities.shape[0] == 0:
        raise ValueError(
            f"{name} expects probabilities [N, C] with N >= 1, got {tuple(probabilities.shape)}."
        )


def confusion_matrix_figure(
    probabilities: Tensor, labels: Tensor, class_names: Sequence[str]
) -> Figure:
    """The single-label confusion matrix of the argmax predictions, normalised per true class.

    Row ``i``, column ``j`` is the fraction of the clips of class ``i`` predicted as ``j``
    (rows sum to 1); a class without clips has an empty (NaN) row. Cells are annotated for
    up to 20 classes.

    Args:
        probabilities: ``[N, C]`` class scores (only the argmax is used).
        labels: ``[N]`` true class indices in ``[0, C)``.
        class_names: ``C`` names, in label order.

    Returns:
        A figure with the matrix and its colour bar (two axes).
    """
    _check_scores(probabilities, "confusion_matrix_figure")
    n_classes = probabilities.shape[1]
    names = _check_names(class_names, n_classes, "confusion_matrix_figure")
    if labels.shape != probabilities.shape[:1]:
        raise ValueError(
            f"confusion_matrix_figure expects labels [N={probabilities.shape[0]}], got "
            f"{tuple(labels.shape)}."
        )
    predictions = probabilities.detach().argmax(-1).cpu()
    counts = multiclass_confusion_matrix(predictions, labels.detach().cpu().long(), n_classes)
    totals = counts.sum(1, keepdim=True).double()
    matrix = (counts.double() / totals).masked_fill(totals == 0, float("nan"))

    size = min(4.0 + 0.4 * n_classes, 30.0)
    figure = _new_figure(size + 1.0, size)
    axes = figure.subplots()
    image = axes.imshow(matrix.numpy(), cmap="Blues", vmin=0.0, vmax=1.0)
    figure.colorbar(image, ax=axes, label="fraction of the true class")
    ticks = range(n_classes)
    axes.set_xticks(ticks, names, rotation=90)
    axes.set_yticks(ticks, names)
    axes.set_xlabel("predicted class")
    axes.set_ylabel("true class")
    axes.set_title(f"Confusion matrix ({probabilities.shape[0]} clips)")
    if n_classes <= _MAX_ANNOTATED_CLASSES:
        for row, values in enumerate(matrix.tolist()):
            for column, value in enumerate(values):
                if value > 0:
                    color = "white" if value > 0.5 else "black"
                    axes.text(column, row, f"{value:.2f}", ha="center", va="center",
                              fontsize=8, color=color)  # fmt: skip
    return figure


def per_class_f1_figure(
    f1_per_class: Sequence[float] | Tensor, class_names: Sequence[str], title: str | None = None
) -> Figure:
    """Horizontal bars of each class's F1, with the macro F1 as a dashed line (and in the title).

    Each bar is labelled with its value; a ``NaN`` F1 (a class neither labelled nor predicted,
    see :mod:`audiofsl.evaluation.metrics`) gets an empty bar marked "n/a" and stays out of the
    macro mean.

    Args:
        f1_per_class: ``[C]`` F1 of each class, ``NaN`` where undefined.
        class_names: ``C`` names, in label order.
        title: the figure's title (default "F1 per class").

    Returns:
        A figure with one axes holding ``C`` bars.
    """
    values = [float(v) for v in torch.as_tensor(f1_per_class).flatten().tolist()]
    names = _check_names(class_names, len(values), "per_class_f1_figure")
    if not values:
        raise ValueError("per_class_f1_figure needs at least one class.")
    undefined = [math.isnan(v) for v in values]
    figure = _new_figure(6.0, min(1.5 + 0.3 * len(values), 40.0))
    axes = figure.subplots()
    widths = [0.0 if missing else v for v, missing in zip(values, undefined, strict=True)]
    axes.barh(range(len(values)), widths, color="tab:blue")
    for row, (value, missing) in enumerate(zip(values, undefined, strict=True)):
        text = "n/a" if missing else f"{value:.2f}"
        axes.text(0.0 if missing else value, row, f" {text}", va="center", fontsize=8,
                  color="gray" if missing else "black")  # fmt: skip
    title = title or "F1 per class"
    defined = [v for v, missing in zip(values, undefined, strict=True) if not missing]
    if defined:
        macro = sum(defined) / len(defined)
        axes.axvline(macro, color="tab:red", linestyle="--")
        title += f" (macro F1 {macro:.3f}, dashed)"
    axes.set_yticks(range(len(values)), names)
    axes.invert_yaxis()  # first class on top
    axes.set_xlim(0.0, 1.1)  # room for the values
    axes.set_xticks([0.0, 0.2, 0.4, 0.6, 0.8, 1.0])
    axes.set_xlabel("F1")
    axes.set_title(title)
    return figure


def precision_recall_figure(
    probabilities: Tensor, targets: Tensor, class_names: Sequence[str]
) -> Figure:
    """Multi-label precision-recall curves, one per class with at least one positive.

    Each curve is torchmetrics' ``multilabel_precision_recall_curve`` over the distinct
    scores; its legend gives the class's average precision, the step-wise area
    ``sum_n (R_n - R_{n-1}) P_n`` (as :func:`~audiofsl.evaluation.metrics.multi_label_metrics`).
    Classes without a positive have no recall and no curve.

    Args:
        probabilities: ``[N, C]`` per-class probabilities in ``[0, 1]``.
        targets: ``[N, C]`` multi-hot labels (0/1).
        class_names: ``C`` names, in label order.

    Returns:
        A figure with one axes holding one line per class with a positive.
    """
    name = "precision_recall_figure"
    _check_scores(probabilities, name)
    if targets.shape != probabilities.shape:
        raise ValueError(
            f"{name} expects probabilities and targets of one shape [N, C], got "
            f"{tuple(probabilities.shape)} and {tuple(targets.shape)}."
        )
    if probabilities.min() < 0 or probabilities.max() > 1:
        raise ValueError(f"{name} expects probabilities in [0, 1] (a sigmoid of the logits).")
    n_classes = probabilities.shape[1]
    names = _check_names(class_names, n_classes, name)
    scores = probabilities.detach().float().cpu()
    labels = targets.detach().cpu().long()
    with warnings.catch_warnings():  # torchmetrics warns for classes without positives
        warnings.filterwarnings("ignore", message="No positive samples")
        precision, recall, _ = multilabel_precision_recall_curve(scores, labels, n_classes)
    figure = _new_figure(7.0, 5.0)
    axes = figure.subplots()
    has_positive = labels.sum(0) > 0
    average_precisions = []
    for index in has_positive.nonzero().flatten().tolist():
        p, r = precision[index], recall[index]  # recall decreasing, ending at (0, 1)
        ap = -torch.sum((r[1:] - r[:-1]) * p[:-1]).item()
        average_precisions.append(ap)
        axes.plot(r.numpy(), p.numpy(), drawstyle="steps-post",
                  label=f"{names[index]} (AP {ap:.2f})")  # fmt: skip
    axes.set_xlim(0.0, 1.0)
    axes.set_ylim(0.0, 1.05)
    axes.set_xlabel("recall")
    axes.set_ylabel("precision")
    title = "Precision-recall"
    if average_precisions:
        mean_ap = sum(average_precisions) / len(average_precisions)
        title += f" (mAP {mean_ap:.3f} over {len(average_precisions)} classes)"
        axes.legend(loc="center left", bbox_to_anchor=(1.02, 0.5), fontsize=8)
    axes.set_title(title)
    return figure


def require_tsne() -> type:
    """scikit-learn's ``TSNE`` class; an ImportError that suggests PCA where it is missing.

    scikit-learn is no dependency of audiofsl (pytorch-metric-learning installs it in most
    environments), so t-SNE maps are optional.
    """
    try:
        from sklearn.manifold import TSNE
    except ImportError as error:
        raise ImportError(_TSNE_MISSING) from error
    return TSNE


def _pca(embeddings: Tensor) -> tuple[Tensor, list[float]]:
    """Exact PCA by the SVD of the centred rows (deterministic, unlike ``torch.pca_lowrank``;
    the maps hold a few thousand rows). Each component's sign makes its largest loading
    positive.

    Returns:
        ``[N, 2]`` float32 coordinates (zero where fewer components exist) and the fraction of
        the variance each of the two components explains.
    """
    centred = embeddings.double() - embeddings.double().mean(0)
    _, singular, components = torch.linalg.svd(centred, full_matrices=False)
    components = components[:2]
    largest = components.abs().argmax(1)
    signs = components.gather(1, largest[:, None]).sign().clamp_min(0) * 2 - 1
    coordinates = centred @ (components * signs).T
    variance = singular.square()
    total = variance.sum().item()
    explained = [(v / total if total > 0 else 0.0) for v in variance[:2].tolist()]
    padded = torch.zeros(embeddings.shape[0], 2, dtype=torch.float64)
    padded[:, : coordinates.shape[1]] = coordinates
    return padded.float(), explained + [0.0] * (2 - len(explained))


def _tsne(embeddings: Tensor, seed: int) -> Tensor:
    n = embeddings.shape[0]
    if n < 4:
        raise ValueError(f"t-SNE needs at least 4 points, got {n}; use method='pca'.")
    tsne = require_tsne()(
        n_components=2, perplexity=min(30.0, (n - 1) / 3), init="pca", random_state=seed
    )
    return torch.from_numpy(tsne.fit_transform(embeddings.double().numpy())).float()


def embedding_coordinates(embeddings: Tensor, method: str = "pca", seed: int = 0) -> Tensor:
    """2-D coordinates of embeddings for a map.

    Args:
        embeddings: ``[N, D]`` float rows.
        method: ``"pca"`` (the first two principal components of the centred rows) or
            ``"tsne"`` (scikit-learn's t-SNE, PCA-initialised, perplexity ``min(30, (N-1)/3)``;
            raises ImportError where scikit-learn is missing).
        seed: t-SNE's random state (PCA is deterministic).

    Returns:
        ``[N, 2]`` float32 coordinates.
    """
    if method not in EMBEDDING_MAP_METHODS:
        raise ValueError(f"embedding map method={method!r}: choose one of {EMBEDDING_MAP_METHODS}.")
    embeddings = _check_embeddings(embeddings, "embedding_coordinates")
    return _pca(embeddings)[0] if method == "pca" else _tsne(embeddings, seed)


def _check_embeddings(embeddings: Tensor, name: str) -> Tensor:
    if embeddings.dim() != 2 or embeddings.shape[0] == 0:
        raise ValueError(
            f"{name} expects embeddings [N, D] with N >= 1, got {tuple(embeddings.shape)}."
        )
    return embeddings.detach().cpu()


def _class_colors(n_classes: int) -> list:
    if n_classes <= 10:
        return [colormaps["tab10"](i) for i in range(n_classes)]
    if n_classes <= 20:
        return [colormaps["tab20"](i) for i in range(n_classes)]
    return [colormaps["turbo"](i / (n_classes - 1)) for i in range(n_classes)]


def embedding_map_figure(
    embeddings: Tensor,
    labels: Tensor,
    class_names: Sequence[str],
    method: str = "pca",
    seed: int = 0,
    title: str | None = None,
) -> Figure:
    """A 2-D map of embeddings (see :func:`embedding_coordinates`), coloured by class.

    Args:
        embeddings: ``[N, D]`` e.g. one embedding per clip.
        labels: ``[N]`` class indices in ``[0, C)``.
        class_names: ``C`` names, in label order (a legend is drawn for up to 20 classes).
        method: ``"pca"`` or ``"tsne"``.
        seed: t-SNE's random state.
        title: the figure's title (default: the method and the number of points).

    Returns:
        A figure with one axes holding one scatter per class present.
    """
    embeddings = _check_embeddings(embeddings, "embedding_map_figure")
    labels = labels.detach().cpu().long()
    if labels.shape != embeddings.shape[:1]:
        raise ValueError(
            f"embedding_map_figure expects labels [N={embeddings.shape[0]}], got "
            f"{tuple(labels.shape)}."
        )
    names = [str(n) for n in class_names]
    if labels.numel() and (labels.min() < 0 or labels.max() >= len(names)):
        raise ValueError(f"embedding_map_figure: labels must lie in [0, {len(names)}).")
    if method == "pca":
        coordinates, explained = _pca(embeddings)
        axis_names = [f"PC{i + 1} ({100 * v:.0f} % of the variance)" for i, v in
                      enumerate(explained)]  # fmt: skip
    else:
        coordinates = embedding_coordinates(embeddings, method, seed)
        axis_names = ["t-SNE 1", "t-SNE 2"]
    colors = _class_colors(len(names))
    figure = _new_figure(7.0, 6.0)
    axes = figure.subplots()
    for index in labels.unique().tolist():
        points = coordinates[labels == index]
        axes.scatter(points[:, 0].numpy(), points[:, 1].numpy(), s=14, alpha=0.8,
                     color=colors[index], label=names[index], linewidths=0)  # fmt: skip
    if len(labels.unique()) <= _MAX_ANNOTATED_CLASSES:
        axes.legend(loc="center left", bbox_to_anchor=(1.02, 0.5), fontsize=8, markerscale=1.5)
    axes.set_xlabel(axis_names[0])
    axes.set_ylabel(axis_names[1])
    label = "PCA" if method == "pca" else "t-SNE"
    axes.set_title(title or f"Embeddings, {label} ({embeddings.shape[0]} points)")
    return figure


def save_figure(figure: Figure, path: str | Path, dpi: int = 120) -> Path:
    """Write ``figure`` as an image (format from the suffix, e.g. PNG) and close it.

    Creates the parent folders. Closing clears the figure's artists and, where pyplot manages
    the figure, closes its window.

    Returns:
        The path written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=dpi)
    pyplot = sys.modules.get("matplotlib.pyplot")  # never imported here just to close
    if pyplot is not None:
        pyplot.close(figure)
    figure.clear()
    return path
