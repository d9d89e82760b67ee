"""Resuming an interrupted run exactly, in its own run directory, with its whole history.

A run killed at any point is resumed with ``python -m audiofsl.train resume=RUN_DIR`` (the
stored configuration, plus plain ``key=value`` overrides such as ``trainer.max_epochs=10``), or
with the original command plus ``ckpt_path=RUN_DIR/checkpoints/last.ckpt``. Either way the
run continues in ``RUN_DIR`` from the last completed epoch and ends with the metrics of an
uninterrupted run:

- ``last.ckpt`` is written after every epoch (a checkpoint callback of its own);
- :class:`ResumeState` stores the random number generators' states in each checkpoint (the
  augmentations draw from them) and flushes the loggers, so the files on disk hold every row
  up to the checkpoint;
- batches, episodes and crops of an epoch depend only on (seed, epoch);
- the best-checkpoint callback keeps its best score because the run directory is the same;
- :func:`restore_csv_history` puts the rows of the completed epochs back into the CSV log.
"""

from __future__ import annotations

import csv
import logging
import random
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from lightning.pytorch.loggers import CSVLogger
from omegaconf import DictConfig, OmegaConf

from audiofsl.runs.stored import load_stored_config

log = logging.getLogger(__name__)

CHECKPOINT_DIR = "checkpoints"
LAST_CHECKPOINT = "last.ckpt"
#: Keys that steer a run but are not settings of the experiment.
RUN_CONTROL_KEYS = ("resume", "ckpt_path")


class ResumeState(L.Callback):
    """Saves and restores the global RNG states (torch CPU and CUDA, numpy, random).

    Restored when training resumes from a checkpoint, so augmentations and anything else
    drawing from the global generators continue as in the uninterrupted run. Also flushes
    every logger whenever a checkpoint is written.

    Across processes (DDP), every rank starts training from its own streams, seeded by the
    run's seed and its rank: otherwise every rank would draw the same augmentation for the
    same position of its batch. The checkpoint then keeps every rank's states, and each rank
    of a resumed run of the same size takes its own.
    """

    def __init__(self) -> None:
        self._trainer: L.Trainer | None = None

    def setup(self, trainer: L.Trainer, pl_module: Any, stage: str) -> None:
        self._trainer = trainer
        if stage == "fit" and trainer.world_size > 1:
            seed_rank_streams(trainer.global_rank)

    def _world(self) -> tuple[int, int]:
        trainer = self._trainer
        return (0, 1) if trainer is None else (trainer.global_rank, trainer.world_size)

    def state_dict(self) -> dict[str, Any]:
        state = rng_state()
        rank, world_size = self._world()
        if world_size == 1 or not torch.distributed.is_initialized():
            return state
        ranks: list[Any] = [None] * world_size  # every rank saves a checkpoint together
        torch.distributed.all_gather_object(ranks, state)
        return {"ranks": ranks}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        rank, world_size = self._world()
        if "ranks" in state_dict:
            if len(state_dict["ranks"]) != world_size:
                log.warning(
                    "the checkpoint holds the random states of %d processes and this run has "
                    "%d: augmentations continue from fresh streams, not as the saved run",
                    len(state_dict["ranks"]), world_size,
                )  # fmt: skip
                return
            state_dict = state_dict["ranks"][rank]
        set_rng_state(state_dict)

    def on_save_checkpoint(self, trainer: L.Trainer, pl_module: Any, checkpoint: dict) -> None:
        for logger in trainer.loggers:
            logger.save()


def rng_state() -> dict[str, Any]:
    """This process's global RNG states, as tensors and plain numbers only (so checkpoints load
    with ``torch.load(weights_only=True)``)."""
    _, keys, position, has_gauss, gauss = np.random.get_state()
    version, internal, gauss_next = random.getstate()
    state = {
        "torch": torch.get_rng_state(),
        "numpy": [torch.from_numpy(keys.astype(np.int64)), position, has_gauss, gauss],
        "python": [version, torch.tensor(internal, dtype=torch.int64), gauss_next],
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what :func:`rng_state` returned."""
    torch.set_rng_state(state["torch"])
    keys, position, has_gauss, gauss = state["numpy"]
    np.random.set_state(("MT19937", keys.numpy().astype(np.uint32), position, has_gauss, gauss))
    version, internal, gauss_next = state["python"]
    random.setstate((version, tuple(internal.tolist()), gauss_next))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def seed_rank_streams(rank: int) -> None:
    """Reseed torch (all devices), numpy and random from the current torch seed and ``rank``.

    ``lightning.seed_everything(seed)`` gives every process the same streams; mixing in the
    rank (numpy's ``SeedSequence``) gives each its own, and the same ones in every run.
    """
    seed = int(np.random.SeedSequence([torch.initial_seed(), rank]).generate_state(1)[0])
    torch.manual_seed(seed)
    np.random.seed(seed)
    random.seed(seed)


def checkpoint_run_dir(ckpt_path: str | Path | None) -> Path | None:
    """The run directory holding ``ckpt_path`` (``RUN/checkpoints/x.ckpt``), if it is one."""
    if not ckpt_path:
        return None
    run_dir = Path(ckpt_path).resolve().parent.parent
    if Path(ckpt_path).parent.name == CHECKPOINT_DIR and (run_dir / "config.yaml").is_file():
        return run_dir
    return None


def run_directory(resume: str | None, ckpt_path: str | None, default: str) -> str:
    """Hydra's run directory: the resumed run's own, else ``default`` (a new one).

    Registered as the ``audiofsl_run_dir`` resolver used by ``conf/hydra/default.yaml``.
    """
    if resume:
        return str(Path(resume).resolve())
    found = checkpoint_run_dir(ckpt_path)
    return str(found) if found is not None else default


def register_resolvers() -> None:
    """Make ``${audiofsl_run_dir:...}`` available to Hydra configs (idempotent)."""
    if not OmegaConf.has_resolver("audiofsl_run_dir"):
        OmegaConf.register_new_resolver("audiofsl_run_dir", run_directory)


def resumed_config(run_dir: str | Path, overrides: list[tuple[str, Any]]) -> DictConfig:
    """The stored configuration of ``run_dir`` with plain ``key=value`` overrides applied.

    Args:
        run_dir: a run directory written by ``audiofsl.train``.
        overrides: (dotted key, value) pairs; each key must exist in the stored config.

    Raises:
        FileNotFoundError: when ``run_dir`` holds no ``config.yaml`` or no ``last.ckpt``.
        KeyError: when an override names a key the stored config lacks.
    """
    run_dir = Path(run_dir)
    config_path = run_dir / "config.yaml"
    if not config_path.is_file():
        raise FileNotFoundError(
            f"resume={run_dir}: no config.yaml there; pass the directory of a run written by "
            "audiofsl.train (outputs/<task>/<time>)."
        )
    last_checkpoint(run_dir)
    cfg = load_stored_config(config_path)
    for key, value in overrides:
        if OmegaConf.select(cfg, key, default="__missing__") == "__missing__":
            raise KeyError(
                f"resume: the stored configuration of {run_dir} has no setting {key!r}; only "
                "existing settings can be changed when resuming."
            )
        OmegaConf.update(cfg, key, value, merge=False)
        log.info("resume: %s set to %r", key, value)
    return cfg


def last_checkpoint(run_dir: str | Path) -> Path:
    """``run_dir/checkpoints/last.ckpt``, with a clear error when the run saved none yet."""
    path = Path(run_dir) / CHECKPOINT_DIR / LAST_CHECKPOINT
    if not path.is_file():
        raise FileNotFoundError(
            f"resume: {path} does not exist; the run was stopped before its first epoch ended, "
            "so there is nothing to resume: start it again."
        )
    return path


def strip_run_control(cfg: DictConfig) -> DictConfig:
    """``cfg`` without the keys that only steer this invocation (stored with the run)."""
    stripped = cfg.copy()
    for key in RUN_CONTROL_KEYS:
        if key in stripped:
            stripped[key] = None
    return stripped


def restore_csv_history(trainer: L.Trainer, ckpt_path: str | Path) -> int:
    """Put the CSV rows of the epochs completed before ``ckpt_path`` back into the CSV logs.

    Lightning's CSV logger truncates ``metrics.csv`` when it starts; the rows of the epochs the
    checkpoint covers are read first and handed back to the logger, and rows of the epoch that
    was interrupted are dropped (the resumed run logs them again).

    Returns:
        The number of rows restored.
    """
    epoch = int(torch.load(ckpt_path, map_location="cpu", weights_only=False)["epoch"])
    restored = 0
    for logger in trainer.loggers:
        if not isinstance(logger, CSVLogger):
            continue
        path = Path(logger.log_dir) / "metrics.csv"
        if not path.is_file():
            continue
        with path.open(newline="") as handle:
            rows = [row for row in csv.DictReader(handle) if _row_epoch(row) <= epoch]
        logger.experiment.metrics[:0] = rows  # the writer truncated the file when created
        restored += len(rows)
    return restored


def _row_epoch(row: dict[str, str]) -> float:
    value = row.get("epoch") or ""
    return float(value) if value else -1.0
