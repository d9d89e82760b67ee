"""Single- and multi-label classification metrics, and decision-threshold tuning.

The counting is torchmetrics' functional API (``torchmetrics.functional.classification``).
Classes without positives are handled by one rule in both settings, where torchmetrics'
defaults differ:

* **F1** of a class is ``2 TP / (2 TP + FP + FN)``. A class with no positive example and no
  positive prediction (``TP + FP + FN = 0``) has no defined F1: it is ``NaN`` in
  ``f1_per_class`` and left out of the macro average, which is the mean over the remaining
  classes (``NaN`` if none remain). A class with no positive but with false positives has
  F1 = 0 and counts. torchmetrics leaves such a class out of the multiclass macro average
  (as scikit-learn, which averages over the labels in the targets or predictions) but
  counts it as 0 in the multilabel one, so a split lacking a class would lower multi-label
  macro F1; the rule here makes both settings the same. Micro F1 pools the counts of all
  classes, so it is unaffected (it is 0, torchmetrics' ``zero_division``, only when nothing
  is labelled or predicted).
* **Average precision** (the step-wise area under the precision-recall curve,
  ``sum_n (R_n - R_{n-1}) P_n`` over the distinct scores, as torchmetrics and scikit-learn)
  needs at least one positive: recall has no denominator otherwise. Such a class is ``NaN``
  in ``ap_per_class`` and left out of ``map``, the mean over the classes with a positive.
  torchmetrics instead sets the recall to 1, gives AP = 0 with a warning and averages that
  0 in.

A multi-label prediction is positive when its probability is strictly greater than the
threshold (torchmetrics' rule). Probabilities must lie in ``[0, 1]``: torchmetrics would
silently apply a sigmoid to values outside that range, so logits are rejected here instead.
"""

from __future__ import annotations

import warnings

import torch
from torch import Tensor
from torchmetrics.functional.classification import (
    multiclass_accuracy,
    multiclass_f1_score,
    multilabel_average_precision,
    multilabel_exact_match,
    multilabel_f1_score,
    multilabel_hamming_distance,
)

__all__ = ["multi_label_metrics", "single_label_metrics", "tune_threshold"]

DEFAULT_CANDIDATES = torch.linspace(0.05, 0.95, 19)
"""Thresholds tried by :func:`tune_threshold`: 0.05, 0.10, ..., 0.95."""


def _check_probabilities(probabilities: Tensor, name: str) -> None:
    if probabilities.dim() != 2 or probabilities.shape[0] == 0 or probabilities.shape[1] < 1:
        raise ValueError(
            f"{name} expects probabilities [N, C] with N >= 1, got {tuple(probabilities.shape)}."
        )
    if not probabilities.is_floating_point():
        raise ValueError(f"{name} expects float probabilities, got dtype {probabilities.dtype}.")


def _check_multi_label(probabilities: Tensor, targets: Tensor, name: str) -> None:
    _check_probabilities(probabilities, name)
    if targets.shape != probabilities.shape:
        raise ValueError(
            f"{name} expects probabilities [N, C] and multi-hot targets [N, C] (the same shape), "
            f"got {tuple(probabilities.shape)} and {tuple(targets.shape)}."
        )
    if probabilities.min() < 0 or probabilities.max() > 1:
        raise ValueError(
            f"{name} expects probabilities in [0, 1] (apply a sigmoid to logits first), got "
            f"values in [{probabilities.min().item()}, {probabilities.max().item()}]."
        )
    if not ((targets == 0) | (targets == 1)).all():
        raise ValueError(f"{name} expects multi-hot targets of 0s and 1s.")


def _binarise(probabilities: Tensor, threshold: float | Tensor, name: str) -> Tensor:
    """``[N, C]`` long predictions ``probabilities > threshold`` (scalar or per class ``[C]``)."""
    threshold = torch.as_tensor(threshold, dtype=probabilities.dtype, device=probabilities.device)
    if threshold.dim() > 1 or (
        threshold.dim() == 1 and threshold.shape[0] != probabilities.shape[1]
    ):
        raise ValueError(
            f"{name} expects a float threshold or one per class [C={probabilities.shape[1]}], "
            f"got shape {tuple(threshold.shape)}."
        )
    return (probabilities > threshold).long()


def _macro_over_defined(per_class: Tensor, defined: Tensor) -> float:
    """Mean of ``per_class`` where ``defined`` (NaN when no class is defined)."""
    if not defined.any():
        return float("nan")
    return per_class[defined].mean().item()


def single_label_metrics(probabilities: Tensor, labels: Tensor) -> dict[str, float | list[float]]:
    """Accuracy and F1 of single-label predictions (the argmax class).

    Args:
        probabilities: ``[N, C]`` class probabilities (any scores: only the argmax is used).
        labels: ``[N]`` class indices in ``[0, C)``.

    Returns:
        ``acc``: fraction of rows whose argmax is the label; ``f1_macro``: mean per-class F1
        over the classes that occur in the labels or the predictions; ``f1_micro``: F1 of the
        pooled counts (equal to ``acc`` here, every row giving one prediction and one label);
        ``f1_per_class``: ``C`` floats, ``NaN`` for a class neither labelled nor predicted.
    """
    name = "single_label_metrics"
    _check_probabilities(probabilities, name)
    if labels.shape != probabilities.shape[:1] or labels.dtype.is_floating_point:
        raise ValueError(
            f"{name} expects probabilities [N, C] and integer labels [N], got "
            f"{tuple(probabilities.shape)} and {tuple(labels.shape)} ({labels.dtype})."
        )
    n_classes = probabilities.shape[1]
    if labels.min() < 0 or labels.max() >= n_classes:
        raise ValueError(f"{name} labels must lie in [0, {n_classes}) (the number of columns).")
    predictions = probabilities.argmax(-1)
    labels = labels.to(predictions.device).long()
    kwargs = {"num_classes": n_classes, "validate_args": False}
    per_class = multiclass_f1_score(predictions, labels, average="none", **kwargs).float()
    occurs = torch.zeros(n_classes, dtype=torch.bool, device=predictions.device)
    occurs[labels] = True
    occurs[predictions] = True
    per_class = per_class.masked_fill(~occurs, float("nan"))
    return {
        "acc": multiclass_accuracy(predictions, labels, average="micro", **kwargs).item(),
        "f1_macro": _macro_over_defined(per_class, occurs),
        "f1_micro": multiclass_f1_score(predictions, labels, average="micro", **kwargs).item(),
        "f1_per_class": per_class.tolist(),
    }


def _multi_label_f1(predictions: Tensor, targets: Tensor) -> tuple[Tensor, Tensor]:
    """Per-class F1 ``[C]`` (NaN where undefined) and the ``[C]`` mask of defined classes."""
    per_class = multilabel_f1_score(
        predictions, targets, num_labels=targets.shape[1], average="none", validate_args=False
    ).float()
    defined = (targets.sum(0) > 0) | (predictions.sum(0) > 0)
    return per_class.masked_fill(~defined, float("nan")), defined


def multi_label_metrics(
    probabilities: Tensor, targets: Tensor, threshold: float | Tensor = 0.5
) -> dict[str, float | list[float]]:
    """F1, Hamming distance, mAP and exact match of multi-label predictions.

    Args:
        probabilities: ``[N, C]`` per-class probabilities in ``[0, 1]``.
        targets: ``[N, C]`` multi-hot labels (0/1, any dtype).
        threshold: A class is predicted when its probability is ``> threshold``; a float, or
            ``[C]`` one per class (e.g. from :func:`tune_threshold`).

    Returns:
        ``f1_macro`` / ``f1_micro`` / ``f1_per_class`` (``C`` floats): see the module notes
        for classes without positives; ``hamming``: fraction of the ``N * C`` entries
        predicted wrongly; ``map``: mean average precision over the classes with a positive
        (threshold-free); ``ap_per_class``: ``C`` floats, ``NaN`` without positives;
        ``exact_match``: fraction of rows whose whole label set is predicted exactly (subset
        accuracy).
    """
    name = "multi_label_metrics"
    _check_multi_label(probabilities, targets, name)
    predictions = _binarise(probabilities, threshold, name)
    targets = targets.to(predictions.device).long()
    n_classes = targets.shape[1]
    kwargs = {"num_labels": n_classes, "validate_args": False}
    f1_per_class, defined = _multi_label_f1(predictions, targets)
    has_positive = targets.sum(0) > 0
    ap_per_class = torch.full((n_classes,), float("nan"), device=targets.device)
    if has_positive.any():
        with warnings.catch_warnings():  # torchmetrics warns for classes without positives
            warnings.filterwarnings("ignore", message="No positive samples")
            ap = multilabel_average_precision(
                probabilities.float(), targets, average="none", **kwargs
            )
        ap_per_class = ap.float().masked_fill(~has_positive, float("nan"))
    return {
        "f1_macro": _macro_over_defined(f1_per_class, defined),
        "f1_micro": multilabel_f1_score(predictions, targets, average="micro", **kwargs).item(),
        "f1_per_class": f1_per_class.tolist(),
        "hamming": multilabel_hamming_distance(
            predictions, targets, average="micro", **kwargs
        ).item(),
        "map": _macro_over_defined(ap_per_class, has_positive),
        "ap_per_class": ap_per_class.tolist(),
        "exact_match": multilabel_exact_match(predictions, targets, **kwargs).item(),
    }


def tune_threshold(
    probabilities: Tensor,
    targets: Tensor,
    candidates: Tensor | None = None,
    per_class: bool = False,
) -> float | Tensor:
    """The decision threshold that maximises macro F1 on validation predictions.

    Global: the candidate with the highest macro F1 (as in :func:`multi_label_metrics`).
    Per class: for each class the candidate with the highest F1 of that class, chosen
    independently (macro F1 is the mean of these, up to the classes left out of it); for a
    class without positives, predicting nothing (F1 undefined, so the class leaves the macro
    average) ranks above any false positive (F1 = 0). Ties go to the smallest candidate.

    Args:
        probabilities: ``[N, C]`` validation probabilities in ``[0, 1]``.
        targets: ``[N, C]`` multi-hot validation labels.
        candidates: ``[K]`` thresholds to try; default 0.05, 0.10, ..., 0.95.
        per_class: Tune one threshold per class instead of one for all.

    Returns:
        A float, or a ``[C]`` float tensor when ``per_class`` (on ``probabilities``' device).
    """
    name = "tune_threshold"
    _check_multi_label(probabilities, targets, name)
    if not targets.bool().any():
        raise ValueError(f"{name}: the targets have no positive at all; nothing to tune.")
    candidates = DEFAULT_CANDIDATES if candidates is None else torch.as_tensor(candidates)
    candidates = candidates.to(probabilities.device, torch.float32).flatten()
    if candidates.numel() == 0:
        raise ValueError(f"{name} needs at least one candidate threshold.")
    targets = targets.to(probabilities.device).long()
    scores = []  # [K, C] per-class F1, undefined (no positive, none predicted) ranked as 1
    macro = []  # [K]
    for candidate in candidates:
        f1, defined = _multi_label_f1(_binarise(probabilities, candidate, name), targets)
        scores.append(f1.nan_to_num(1.0))
        macro.append(f1[defined].mean())
    if not per_class:
        # argmax gives the first (smallest) of tied maxima
        return candidates[torch.stack(macro).argmax()].item()
    best = torch.stack(scores).argmax(0)
    return candidates[best]
