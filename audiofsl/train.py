"""Train a method, then test it on seeded few-shot episodes: ``python -m audiofsl.train``.

Examples::

    python -m audiofsl.train                                   # ProtoNet on synthetic audio
    python -m audiofsl.train +experiment=synthetic_supervised
    python -m audiofsl.train -m seed=0,1,2                     # multirun over seeds
    python -m audiofsl.train data=folder data.root=/path/to/audio
    python -m audiofsl.train resume=outputs/train/2026-11-21_10-00-00-000000  # after a crash
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Any

import hydra
import lightning as L
from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from audiofsl.distributed.cluster import SubmititLocalEnvironment
from audiofsl.runs.allocator import keep_freed_memory
from audiofsl.runs.composition import (
    adjusted_evaluation,
    build_datamodule,
    build_evaluation,
    build_method,
    load_backbone,
    record_data_facts,
    save_config,
)
from audiofsl.runs.ddp_children import quiet_other_processes, share_sweep_dir_with_children
from audiofsl.runs.quiet import quiet_known_warnings
from audiofsl.runs.resume import (
    checkpoint_run_dir,
    last_checkpoint,
    register_resolvers,
    restore_csv_history,
    resumed_config,
    strip_run_control,
)
from audiofsl.runs.termination import fail_on_sigterm

log = logging.getLogger(__name__)

METRICS_FILE = "metrics.json"
#: Trainer settings that must be whole numbers (Lightning only asserts on some of them).
_INTEGER_TRAINER_SETTINGS = (
    "max_epochs", "min_epochs", "max_steps", "log_every_n_steps", "check_val_every_n_epoch",
    "num_sanity_val_steps", "accumulate_grad_batches",
)  # fmt: skip
_LIMIT_TRAINER_SETTINGS = ("limit_train_batches", "limit_val_batches", "limit_test_batches")
#: Overrides left out of TensorBoard run names (paths say nothing about the experiment).
_UNNAMED_OVERRIDES = ("paths.", "hydra.", "data.root", "data.manifest", "resume", "ckpt_path")

register_resolvers()


def check_trainer_settings(trainer_cfg: DictConfig) -> None:
    """Raise a ValueError naming ``trainer.<key>`` when a count is not a number."""
    for key in _INTEGER_TRAINER_SETTINGS:
        value = trainer_cfg.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise ValueError(f"trainer.{key}={value!r} must be an integer.")
    for key in _LIMIT_TRAINER_SETTINGS:
        value = trainer_cfg.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise ValueError(
                f"trainer.{key}={value!r} must be a number of batches (integer) or a fraction."
            )


def build_trainer(cfg: DictConfig, has_validation: bool = True) -> L.Trainer:
    """The Lightning trainer of ``cfg.trainer`` with the configured callbacks and loggers.

    Without validation (no val split), the best-checkpoint callback monitors nothing, so
    ``best.ckpt`` is the last epoch.
    """
    check_trainer_settings(cfg.trainer)
    callbacks = []
    for name, node in (cfg.get("callbacks") or {}).items():
        if not node:
            continue
        if not has_validation and node.get("monitor"):
            log.info("callbacks.%s: no validation split, so it keeps the last epoch", name)
            node = OmegaConf.merge(node, {"monitor": None})
        callbacks.append(instantiate(node))
    loggers = [instantiate(c) for c in (cfg.get("logger") or {}).values() if c]
    # the tasks of a local submitit job are the processes of one DDP run
    plugins = [SubmititLocalEnvironment()] if SubmititLocalEnvironment.detect() else []
    return instantiate(cfg.trainer, callbacks=callbacks, logger=loggers or False,
                       **({"plugins": plugins} if plugins else {}))  # fmt: skip


def collect_metrics(trainer: L.Trainer, keys: tuple[str, ...] = ("val", "test")) -> dict:
    """The trainer's latest scalar metrics of the given splits, as plain floats."""
    return {
        name: float(value)
        for name, value in trainer.callback_metrics.items()
        if name.split("/")[0] in keys
    }


def format_result(metrics: dict, split: str, settings: Any) -> str:
    """One line like ``test/acc 61.20 ± 0.41 % (5-way 5-shot, 10000 tasks)``, or for a
    classifier's test (``settings`` None) its accuracy over clips and F1 / mAP."""
    mean, ci = metrics[f"{split}/acc"], metrics[f"{split}/acc_ci95"]
    if settings is None:
        extra = [f"{name} {100 * metrics[f'{split}/{name}']:.2f} %"
                 for name in ("f1_macro", "map") if f"{split}/{name}" in metrics]  # fmt: skip
        return f"{split}/acc {100 * mean:.2f} ± {100 * ci:.2f} % over clips; " + ", ".join(extra)
    return (
        f"{split}/acc {100 * mean:.2f} ± {100 * ci:.2f} % ({settings.n_way}-way "
        f"{settings.n_shot}-shot, {settings.n_query} queries, {settings.n_tasks} tasks)"
    )


def run_training(cfg: DictConfig) -> dict:
    """Fit, test the best checkpoint, and write ``metrics.json``; returns the metrics.

    Every split is set up (files checked, episode sizes fitted to the data) before training,
    so a test split that cannot hold its tasks fails at once rather than after training.
    ``cfg.ckpt_path`` resumes from a checkpoint; in a run directory of its own (see
    :mod:`audiofsl.runs.resume`) the CSV history of the completed epochs is kept.
    """
    L.seed_everything(cfg.seed, workers=True)
    output_dir = Path(cfg.paths.output_dir)
    ckpt_path = cfg.get("ckpt_path")
    evaluation = build_evaluation(cfg)
    datamodule = build_datamodule(cfg, evaluation)
    datamodule.prepare_data()
    facts = datamodule.data_facts()
    record_data_facts(cfg, facts)  # the stored config, which eval rebuilds the run from
    evaluation = adjusted_evaluation(evaluation, facts.adjusted_settings)
    model = build_method(strip_run_control(cfg), evaluation)
    model.class_names = list(facts.class_names)  # saved in every checkpoint
    if cfg.get("init_from") and not ckpt_path:
        load_backbone(model, cfg.init_from)
    trainer = build_trainer(cfg, has_validation=datamodule.val_set is not None)
    if trainer.is_global_zero:  # the other processes of a DDP run write nothing of their own
        save_config(model.run_config, output_dir)
    if ckpt_path and checkpoint_run_dir(ckpt_path) == output_dir.resolve():
        log.info("resuming from %s (%d logged rows kept)", ckpt_path,
                 restore_csv_history(trainer, ckpt_path))  # fmt: skip
    with fail_on_sigterm(output_dir, METRICS_FILE):
        trainer.fit(model, datamodule=datamodule, ckpt_path=ckpt_path)
        metrics = collect_metrics(trainer, keys=("val",))
        if cfg.get("test", True):
            checkpoint = trainer.checkpoint_callback
            best = checkpoint.best_model_path if checkpoint else ""
            trainer.test(model, datamodule=datamodule, ckpt_path=best or None)
            metrics.update(collect_metrics(trainer, keys=("test",)))
            by_classifier = model.evaluator.by_classifier
            settings = None if by_classifier else evaluation.test_settings()[0]
            if trainer.is_global_zero:
                log.info(format_result(metrics, "test", settings))
    if trainer.is_global_zero:
        metrics_path = output_dir / METRICS_FILE
        metrics_path.write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n")
        log.info("run directory: %s", output_dir)
    return metrics


def task_overrides() -> list:
    """The command line's overrides of this Hydra job, parsed."""
    return OverridesParser.create().parse_overrides(list(HydraConfig.get().overrides.task))


def resume_from_run_dir(cfg: DictConfig) -> DictConfig:
    """For ``resume=RUN_DIR``: the run's stored config with the command's plain overrides."""
    plain = []
    for override in task_overrides():
        key = override.key_or_group
        if key == "resume":
            continue
        if override.is_delete() or key in HydraConfig.get().runtime.choices:
            raise ValueError(
                f"resume: '{override.input_line}' cannot be applied to a stored run; resume "
                "takes the run's config.yaml and only key=value changes of its settings, e.g. "
                "trainer.max_epochs=10 (or +key=value for a key the defaults lack)."
            )
        plain.append((key, override.value()))
    stored = resumed_config(cfg.resume, plain)
    stored.ckpt_path = str(last_checkpoint(cfg.resume))
    return stored


#: Longest TensorBoard run name (a folder name: file systems allow 255 bytes).
RUN_NAME_CHARS = 120


def tensorboard_run_name(cfg: DictConfig) -> str:
    """The task name and the overrides that matter, e.g. ``fsdd_protonet,seed=1``.

    A name longer than :data:`RUN_NAME_CHARS` (long list overrides, paths) is cut and ends
    with a short hash of the whole name, so that it stays a valid folder name and distinct.
    """
    names = [
        override.input_line.replace("/", "_")
        for override in task_overrides()
        if not override.key_or_group.startswith(_UNNAMED_OVERRIDES)
        and override.key_or_group != "experiment"
    ]
    name = ",".join([str(cfg.task_name), *names])
    if len(name) <= RUN_NAME_CHARS:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{name[: RUN_NAME_CHARS - 9]}~{digest}"


@hydra.main(version_base="1.3", config_path="pkg://audiofsl.conf", config_name="train")
def main(cfg: DictConfig) -> float | None:
    quiet_known_warnings()
    share_sweep_dir_with_children()
    quiet_other_processes()
    if cfg.get("keep_freed_memory", True):
        keep_freed_memory()
    if cfg.get("resume"):
        cfg = resume_from_run_dir(cfg)
    elif cfg.get("logger") and cfg.logger.get("tensorboard"):
        cfg.logger.tensorboard.version = tensorboard_run_name(cfg)
    metrics = run_training(cfg)
    if HydraConfig.initialized() and cfg.get("optimized_metric"):
        return metrics.get(cfg.optimized_metric)
    return None


if __name__ == "__main__":
    from audiofsl.runs.cli import run_command

    run_command(main, "train")
