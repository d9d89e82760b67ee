"""Configurations stored with runs (``config.yaml``, checkpoints), read back for later commands.

A stored configuration names classes by import path (``_target_``). Paths that have since
moved are rewritten to their new place, so that runs written by earlier versions can still be
evaluated, resumed, fine-tuned and used for inference.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from omegaconf import DictConfig, OmegaConf

__all__ = ["MOVED_TARGETS", "load_stored_config", "stored_config"]

#: Earlier import paths of classes and functions a configuration can name -> their paths now.
MOVED_TARGETS = {
    "audiofsl.callbacks.HeadFirstFinetuning": "audiofsl.methods.finetuning.HeadFirstFinetuning",
    "audiofsl.callbacks.LinearProbeEvaluator": (
        "audiofsl.evaluation.probe_callback.LinearProbeEvaluator"
    ),
    "audiofsl.callbacks.ModelSummary": "audiofsl.runs.model_summary.ModelSummary",
    "audiofsl.plotting.TestPlots": "audiofsl.evaluation.test_plots.TestPlots",
    "audiofsl.resume.ResumeState": "audiofsl.runs.resume.ResumeState",
    "audiofsl.optim.lars": "audiofsl.methods.optim.lars",
    "audiofsl.optim.warmup_cosine": "audiofsl.methods.optim.warmup_cosine",
    "audiofsl.composition.resolve_split": "audiofsl.runs.composition.resolve_split",
}


def stored_config(stored: Mapping | DictConfig) -> DictConfig:
    """A stored configuration (a plain mapping, e.g. a checkpoint's) as a config, with every
    moved ``_target_`` (:data:`MOVED_TARGETS`) rewritten."""
    container = OmegaConf.to_container(stored) if isinstance(stored, DictConfig) else stored
    return OmegaConf.create(_moved(container))


def load_stored_config(path: str | os.PathLike) -> DictConfig:
    """A run's ``config.yaml`` (see :func:`stored_config`)."""
    return stored_config(OmegaConf.to_container(OmegaConf.load(path)))


def _moved(node: Any) -> Any:
    if isinstance(node, Mapping):
        return {
            key: MOVED_TARGETS.get(value, value) if key == "_target_" else _moved(value)
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_moved(value) for value in node]
    return node
