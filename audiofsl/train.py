"""Train a method, then test it on seeded few-shot episodes: ``python -m audiofsl.train``.

Examples::

    python -m audiofsl.train                                   # ProtoNet on synthetic audio
    python -m audiofsl.train +experiment=synthetic_supervised
    python -m audiofsl.train -m seed=0,1,2                     # multirun over seeds
    python -m audiofsl.train data=folder data.root=/path/to/audio
"""

from __future__ import annotations

import json
import logging
import warnings
from pathlib import Path
from typing import Any

import hydra
import lightning as L
from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from omegaconf import DictConfig

from audiofsl.composition import (
    build_datamodule,
    build_evaluation,
    build_method,
    fill_data_dependent,
    save_config,
)

log = logging.getLogger(__name__)

METRICS_FILE = "metrics.json"


def quiet_known_warnings() -> None:
    """Silence warnings that are expected here and say nothing about the run."""
    # audiofsl's methods own on_after_batch_transfer by design (DataModules never define it).
    warnings.filterwarnings("ignore", message=".*overridden `on_after_batch_transfer`.*")
    # Lightning 2.6 with torch >= 2.11 warns about LeafSpec on every fit.
    warnings.filterwarnings("ignore", message=".*LeafSpec.*", category=FutureWarning)


def build_trainer(cfg: DictConfig) -> L.Trainer:
    """The Lightning trainer of ``cfg.trainer`` with the configured callbacks and loggers."""
    callbacks = [instantiate(c) for c in (cfg.get("callbacks") or {}).values() if c]
    loggers = [instantiate(c) for c in (cfg.get("logger") or {}).values() if c]
    return instantiate(cfg.trainer, callbacks=callbacks, logger=loggers or False)


def collect_metrics(trainer: L.Trainer, keys: tuple[str, ...] = ("val", "test")) -> dict:
    """The trainer's latest scalar metrics of the given splits, as plain floats."""
    return {
        name: float(value)
        for name, value in trainer.callback_metrics.items()
        if name.split("/")[0] in keys
    }


def format_result(metrics: dict, split: str, settings: Any) -> str:
    """One line like ``test/acc 61.20 ± 0.41 % (5-way 5-shot, 10000 tasks)``."""
    mean, ci = metrics[f"{split}/acc"], metrics[f"{split}/acc_ci95"]
    return (
        f"{split}/acc {100 * mean:.2f} ± {100 * ci:.2f} % ({settings.n_way}-way "
        f"{settings.n_shot}-shot, {settings.n_query} queries, {settings.n_tasks} tasks)"
    )


def run_training(cfg: DictConfig) -> dict:
    """Fit, test the best checkpoint, and write ``metrics.json``; returns the metrics."""
    L.seed_everything(cfg.seed, workers=True)
    output_dir = Path(cfg.paths.output_dir)
    evaluation = build_evaluation(cfg)
    datamodule = build_datamodule(cfg, evaluation)
    datamodule.prepare_data()
    datamodule.setup("fit")
    fill_data_dependent(cfg, datamodule)
    save_config(cfg, output_dir)
    model = build_method(cfg, evaluation)
    trainer = build_trainer(cfg)
    trainer.fit(model, datamodule=datamodule, ckpt_path=cfg.get("ckpt_path"))
    metrics = collect_metrics(trainer, keys=("val",))
    if cfg.get("test", True):
        best = trainer.checkpoint_callback.best_model_path if trainer.checkpoint_callback else ""
        trainer.test(model, datamodule=datamodule, ckpt_path=best or None)
        metrics.update(collect_metrics(trainer, keys=("test",)))
        log.info(format_result(metrics, "test", evaluation.test_settings()[0]))
    metrics_path = output_dir / METRICS_FILE
    metrics_path.write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n")
    log.info("run directory: %s", output_dir)
    return metrics


@hydra.main(version_base="1.3", config_path="../conf", config_name="train")
def main(cfg: DictConfig) -> float | None:
    quiet_known_warnings()
    metrics = run_training(cfg)
    if HydraConfig.initialized() and cfg.get("optimized_metric"):
        return metrics.get(cfg.optimized_metric)
    return None


if __name__ == "__main__":
    main()
