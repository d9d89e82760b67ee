"""Build the library's objects from a composed configuration (used by the entry points).

Every run stores its resolved configuration as ``config.yaml`` in the run directory and inside
each checkpoint, so :func:`load_run` can rebuild the exact model and data from either.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from audiofsl.data import EpisodeNeed
from audiofsl.evaluation import EpisodeSettings, EvaluationProtocol
from audiofsl.methods import FewShotMethod

log = logging.getLogger(__name__)

CONFIG_FILE = "config.yaml"
CHECKPOINT_CONFIG_KEY = "audiofsl_config"


def partial_of(node: DictConfig) -> Any:
    """``node`` instantiated as a partial, to be called with ready-made objects.

    Objects passed to ``instantiate`` as keyword arguments would be merged into the config,
    which turns dataclasses such as ``EpisodeSpec`` into dictionaries.
    """
    return instantiate(node, _partial_=True, _convert_="all")


def build_evaluation(cfg: DictConfig) -> EvaluationProtocol:
    """The evaluation protocol of ``cfg.evaluation``."""
    return instantiate(cfg.evaluation, _convert_="all")


def evaluation_needs(evaluation: EvaluationProtocol) -> dict[str, list[EpisodeNeed]]:
    """The episode settings the protocol draws from the val and test splits."""

    def need(setting: EpisodeSettings, name: str) -> EpisodeNeed:
        return EpisodeNeed(setting.n_way, setting.n_shot, setting.n_query, name)

    tests = evaluation.test_settings()
    return {
        "val": [need(evaluation.val, "evaluation.val")],
        "test": [need(s, f"evaluation.test[{i}]") for i, s in enumerate(tests)],
    }


def build_datamodule(cfg: DictConfig, evaluation: EvaluationProtocol | None = None) -> Any:
    """Instantiate ``cfg.data`` with the training sampler and the evaluation episode needs."""
    evaluation = evaluation if evaluation is not None else build_evaluation(cfg)
    sampler = instantiate(cfg.sampler)
    return partial_of(cfg.data)(train_sampler=sampler, eval_needs=evaluation_needs(evaluation))


def fill_data_dependent(cfg: DictConfig, datamodule: Any) -> None:
    """Write the values only known once the data is set up into ``cfg``.

    The one mechanism by which the data reaches the configuration (and so the method built from
    it, and the ``config.yaml`` a run is rebuilt from):

    - ``method.n_classes``, when the method has it and it is null: the training classes;
    - ``evaluation.val.n_query`` / ``evaluation.test[i].n_query``, when the data module had to
      lower them to fit its splits (see :mod:`audiofsl.data.feasibility`).
    """
    if "n_classes" in cfg.method and cfg.method.n_classes is None:
        cfg.method.n_classes = int(datamodule.n_train_classes)
    for setting, n_query in getattr(datamodule, "episode_adjustments", {}).items():
        node = cfg.evaluation.val if setting == "evaluation.val" else None
        if setting.startswith("evaluation.test["):
            index = int(setting[len("evaluation.test[") : -1])
            tests = cfg.evaluation.test
            node = tests[index] if OmegaConf.is_list(tests) else tests
        if node is not None:
            node.n_query = n_query


def build_method(cfg: DictConfig, evaluation: EvaluationProtocol | None = None) -> FewShotMethod:
    """Instantiate the parts, then the method that wires them together."""
    parts = {
        name: instantiate(cfg[name], _convert_="all")
        for name in ("frontend", "augmentation", "encoder", "head", "loss")
    }
    evaluation = evaluation if evaluation is not None else build_evaluation(cfg)
    method = partial_of(cfg.method)(**parts, evaluation=evaluation)
    method.run_config = OmegaConf.to_container(cfg, resolve=True)
    return method


def save_config(cfg: DictConfig, run_dir: str | Path) -> Path:
    """Write the resolved configuration into ``run_dir/config.yaml``."""
    path = Path(run_dir) / CONFIG_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    OmegaConf.save(OmegaConf.create(OmegaConf.to_container(cfg, resolve=True)), path)
    return path


def find_checkpoint(run_dir: Path, which: str = "best") -> Path:
    """``run_dir/checkpoints/{best,last}.ckpt``, with a clear error when it is missing."""
    path = run_dir / "checkpoints" / f"{which}.ckpt"
    if not path.is_file():
        found = sorted(p.name for p in (run_dir / "checkpoints").glob("*.ckpt"))
        raise FileNotFoundError(
            f"no {which}.ckpt in {run_dir / 'checkpoints'} (found: {found or 'nothing'}); "
            "pass the run directory of a finished training run or a .ckpt file"
        )
    return path


def load_run(path: str | Path, which: str = "best") -> tuple[DictConfig, FewShotMethod, Path]:
    """Rebuild a trained method from a run directory or a checkpoint file.

    Args:
        path: a run directory (holding ``config.yaml`` and ``checkpoints/``) or a ``.ckpt``.
        which: in a run directory, the checkpoint to load: ``"best"`` or ``"last"``.

    Returns:
        The stored configuration, the method with its trained weights, and the checkpoint path.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"run_dir {path} does not exist")
    ckpt_path = path if path.is_file() else find_checkpoint(path, which)
    checkpoint = torch.load(ckpt_path, map_location="cpu", weights_only=False)
    stored = checkpoint.get(CHECKPOINT_CONFIG_KEY)
    if stored is None:
        raise ValueError(
            f"{ckpt_path} holds no audiofsl configuration; it was not written by audiofsl.train"
        )
    cfg = OmegaConf.create(stored)
    method = build_method(cfg)
    method.load_state_dict(checkpoint["state_dict"])
    log.info("loaded %s", ckpt_path)
    return cfg, method, ckpt_path
