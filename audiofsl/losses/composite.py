"""Weighted sums of losses that consume different outputs of a training step."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from torch import Tensor, nn


@dataclass
class LossTerm:
    """One term of a :class:`CompositeLoss`: a loss module and its weight."""

    loss: nn.Module
    weight: float = 1.0


class CompositeLoss(nn.Module):
    """``total = sum_i weight_i * loss_i(**inputs the loss consumes)``, with every term reported.

    Each loss names the step outputs it reads in its class attribute ``consumes`` (e.g.
    ``("logits", "labels")`` or ``("support", "query")``); a method's training step builds one
    dict of outputs and every term takes what it needs from it. The result is
    ``{"loss": total, "<name>": unweighted term, ...}``, which methods log as ``train/loss`` and
    ``train/loss_<name>``. The loss modules are submodules, so parameters they hold (e.g. a
    projection head) are trained and checkpointed with the method.

    Args:
        terms: name -> :class:`LossTerm`, a loss module (weight 1), or a mapping
            ``{"loss": module, "weight": w}`` (as written in configs).
    """

    def __init__(self, terms: Mapping[str, LossTerm | nn.Module | Mapping]) -> None:
        super().__init__()
        if not terms:
            raise ValueError("CompositeLoss needs at least one term (loss.terms is empty).")
        self.losses = nn.ModuleDict()
        self.weights: dict[str, float] = {}
        for name, term in terms.items():
            term = _as_term(name, term)
            if name == "loss":
                raise ValueError("loss.terms: 'loss' is reserved for the total; rename the term.")
            if not getattr(term.loss, "consumes", None):
                raise ValueError(
                    f"loss.terms.{name}: {type(term.loss).__name__} does not declare the step "
                    "outputs it consumes (class attribute `consumes`)."
                )
            self.losses[name] = term.loss
            self.weights[name] = float(term.weight)

    @property
    def consumes(self) -> tuple[str, ...]:
        """Every step output some term reads."""
        needed = dict.fromkeys(key for loss in self.losses.values() for key in loss.consumes)
        return tuple(needed)

    def forward(self, outputs: Mapping[str, Tensor]) -> dict[str, Tensor]:
        """Args: outputs: the step outputs by name. Returns: {"loss": total, name: term}."""
        terms = {}
        for name, loss in self.losses.items():
            missing = [key for key in loss.consumes if key not in outputs]
            if missing:
                raise ValueError(
                    f"loss.terms.{name} consumes {list(loss.consumes)} but the method's step "
                    f"gives {sorted(outputs)}; this loss does not fit this method."
                )
            terms[name] = loss(**{key: outputs[key] for key in loss.consumes})
        total = sum(self.weights[name] * value for name, value in terms.items())
        return {"loss": total, **terms}


def as_composite(loss: nn.Module) -> CompositeLoss:
    """``loss`` itself when composite, else a composite of the single term ``loss.name``."""
    if isinstance(loss, CompositeLoss):
        return loss
    return CompositeLoss({getattr(loss, "name", type(loss).__name__.lower()): loss})


def _as_term(name: str, term: LossTerm | nn.Module | Mapping) -> LossTerm:
    if isinstance(term, LossTerm):
        return term
    if isinstance(term, nn.Module):
        return LossTerm(term)
    if isinstance(term, Mapping) and isinstance(term.get("loss"), nn.Module):
        return LossTerm(term["loss"], float(term.get("weight", 1.0)))
    raise ValueError(
        f"loss.terms.{name} must be a loss module or {{loss: ..., weight: ...}}, got {term!r:.80}."
    )


def logged_terms(terms: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """What a training step logs of :class:`CompositeLoss`'s result: ``train/loss`` (the
    total) and, when there are several terms, each as ``train/loss_<name>``."""
    if len(terms) == 2:  # a single term is the total
        return {"train/loss": terms["loss"]}
    return {"train/loss" if name == "loss" else f"train/loss_{name}": value
            for name, value in terms.items()}  # fmt: skip
