"""Evaluate a trained run: ``python -m audiofsl.eval``.

The model and the data are rebuilt from the configuration stored with the run. ``mode=episodes``
(the default) embeds the test clips once and draws every requested seeded few-shot episode
setting from those embeddings; ``mode=probe`` fits a linear probe on the frozen encoder's
embeddings (see :func:`audiofsl.evaluation.probe.linear_probe`); ``mode=finetune`` trains a
linear head and then the whole encoder on the run's data (see :func:`finetune_config`), into
``RUN/finetune``. ``checkpoint=untrained``
measures the run's architecture as initialised, the baseline a learned representation beats.
Each evaluation is added to ``RUN/eval_metrics.json`` under ``<mode>/<checkpoint>`` (e.g.
``probe/untrained``) with its checkpoint, settings and time; earlier ones are kept (see
:mod:`audiofsl.runs.measurements`). ``scorer.<name>=<value>`` changes how episodes are scored (the
run's ``method.scorer``), e.g. SimpleShot's ``+scorer.transform=center_l2`` (Wang et al., 2019).
``split=val`` measures episodes of the validation classes instead (``val/acc``, under
``episodes/<checkpoint>/val``): the measurement to choose a scorer or a run by, test unseen.

Examples::

    python -m audiofsl.eval run_dir=outputs/train/2026-11-21_10-00-00
    python -m audiofsl.eval run_dir=RUN 'episodes=[{n_shot: 1}, {n_shot: 5}]'
    python -m audiofsl.eval run_dir=RUN/checkpoints/last.ckpt 'episodes=[{n_tasks: 1000}]'
    python -m audiofsl.eval run_dir=RUN +data.root=/moved/audio
    python -m audiofsl.eval run_dir=RUN +scorer.transform=center_l2
    python -m audiofsl.eval run_dir=RUN split=val +scorer.transform=center_l2
    python -m audiofsl.eval run_dir=RUN mode=probe
    python -m audiofsl.eval run_dir=RUN mode=probe checkpoint=untrained
    python -m audiofsl.eval run_dir=RUN mode=finetune finetune.epochs=20
    python -m audiofsl.eval encoder=cnn14 +experiment=esc50_protonet data.root=ESC-50-master

With ``encoder=NAME`` and no ``run_dir``, a pretrained encoder is measured with no training:
the other settings that are not eval's (``+experiment=``, ``data.root=``, ``seed=``, ...)
compose a training configuration, gathered by the command line into ``pretrained=[...]``;
the model is built from it (``checkpoint=pretrained``) and written with the measurement into
this command's output folder, which later commands take as ``run_dir``.
"""

from __future__ import annotations

import dataclasses
import logging
from importlib import resources
from pathlib import Path

import hydra
import torch
from hydra.utils import instantiate
from lightning.pytorch.utilities import rank_zero_only
from omegaconf import DictConfig, OmegaConf, open_dict

from audiofsl.evaluation import EpisodeSettings
from audiofsl.evaluation.probe import ProbeSettings, linear_probe
from audiofsl.runs.composition import (
    adjusted_evaluation,
    adjusted_test_settings,
    build_datamodule,
    load_run,
    with_data_changes,
)
from audiofsl.runs.measurements import EVAL_METRICS_FILE, measurement_key, record_measurement
from audiofsl.runs.pretrained import PRETRAINED_CHECKPOINT, pretrained_run, split_arguments
from audiofsl.train import (
    build_trainer,
    collect_metrics,
    format_result,
    quiet_known_warnings,
    run_training,
)

log = logging.getLogger(__name__)

EVAL_MODES = ("episodes", "probe", "finetune")
#: The run fine-tuning trains, in the package's configs (its ``${finetune.*}`` are eval's).
FINETUNE_RUN = "finetune/head_first.yaml"
#: Which classes episodes are drawn from: the run's test split, or its validation split (for
#: choosing between runs or scorers without looking at test accuracy).
EVAL_SPLITS = ("test", "val")


def episode_settings(requested: list | None, stored: list[EpisodeSettings]) -> list:
    """Requested settings, each filled in from the run's first test setting."""
    if not requested:
        return stored
    base = OmegaConf.structured(stored[0])
    return [EpisodeSettings(**OmegaConf.to_container(OmegaConf.merge(base, r))) for r in requested]


def run_evaluation(cfg: DictConfig) -> dict:
    """Evaluate ``cfg.run_dir`` (``cfg.mode``: episodes or probe); returns and saves the
    metrics."""
    mode = cfg.get("mode", "episodes")
    if mode not in EVAL_MODES:
        raise ValueError(f"mode={mode!r}: choose one of {EVAL_MODES}.")
    if cfg.get("scorer") and mode != "episodes":
        raise ValueError(f"scorer changes apply to mode=episodes, not mode={mode}.")
    split = cfg.get("split", "test")
    if split not in EVAL_SPLITS:
        raise ValueError(f"split={split!r}: choose one of {EVAL_SPLITS}.")
    if split == "val" and mode != "episodes":
        raise ValueError(f"split=val applies to mode=episodes, not mode={mode}.")
    if mode == "finetune" and (cfg.get("pretrained") or cfg.checkpoint == PRETRAINED_CHECKPOINT):
        raise ValueError(
            "mode=finetune starts from a trained run's checkpoint; to fine-tune a pretrained "
            "encoder, train it: python -m audiofsl.train encoder=NAME encoder.freeze=false "
            "(see the README's pretrained encoders)."
        )
    run_cfg, method, ckpt_path = run_to_measure(cfg)
    if mode == "probe":
        metrics = run_probe(cfg, run_cfg, method)
        return _write_metrics(cfg, ckpt_path, metrics)
    if mode == "finetune":
        metrics = run_finetune(cfg, run_cfg, ckpt_path)
        return _write_metrics(cfg, ckpt_path, metrics)
    if cfg.get("scorer"):
        if method.evaluator.by_classifier:
            raise ValueError(
                "scorer changes apply to runs tested on few-shot episodes; this run is tested by "
                "its classifier (method.test_by=classifier)."
            )
        method.scorer = changed_scorer(run_cfg, cfg.scorer)
        log.info("scored with %r", method.scorer)
    if split == "val":
        metrics, settings = run_validation(cfg, run_cfg, method)
        return _write_metrics(cfg, ckpt_path, metrics, settings)
    settings = episode_settings(cfg.get("episodes"), method.evaluation.test_settings())
    tags = [s.tag for s in settings]
    if len(set(tags)) != len(tags):
        raise ValueError(f"episodes: two settings share a tag ({tags}); make them differ")
    method.evaluation.test = settings
    run_cfg = with_data_changes(run_cfg, cfg.get("data"))
    datamodule = build_datamodule(run_cfg, method.evaluation)
    datamodule.setup("test")
    settings = adjusted_test_settings(settings, datamodule.adjusted_settings)
    method.evaluation.test = settings
    trainer = build_trainer(evaluation_trainer_config(cfg, run_cfg))
    trainer.test(method, datamodule=datamodule)
    metrics = collect_metrics(trainer, keys=("test",))
    if method.evaluator.by_classifier:  # no episodes: the classifier on the test clips
        log.info(format_result(metrics, "test", None))
        return _write_metrics(cfg, ckpt_path, metrics)
    if cfg.get("episodes"):
        # Plain test/acc is the run's own first test setting (as in metrics.json); requested
        # settings are reported under their tags only.
        metrics = {k: v for k, v in metrics.items() if k not in ("test/acc", "test/acc_ci95")}
    for setting in settings:
        prefix = f"test/{setting.tag}"
        result = {
            "test/acc": metrics[f"{prefix}/acc"],
            "test/acc_ci95": metrics[f"{prefix}/acc_ci95"],
        }
        log.info(format_result(result, "test", setting))
    return _write_metrics(cfg, ckpt_path, metrics, settings)


def run_to_measure(cfg: DictConfig):
    """The stored configuration, method and checkpoint that ``cfg`` measures: ``cfg.run_dir``'s,
    or with ``pretrained`` (training settings naming a pretrained encoder) a model built with no
    training, its run directory this command's output folder (``checkpoint=pretrained``)."""
    if cfg.get("pretrained"):
        output_dir = str(cfg.paths.output_dir)
        with open_dict(cfg):
            cfg.run_dir, cfg.checkpoint = output_dir, PRETRAINED_CHECKPOINT
        return pretrained_run(list(cfg.pretrained), output_dir)
    if cfg.get("run_dir") is None:
        raise ValueError(
            "run_dir=RUN (a trained run) or encoder=NAME (a pretrained encoder, measured with "
            "no training, e.g. encoder=cnn14 +experiment=esc50_protonet) is required."
        )
    return load_run(cfg.run_dir, which=cfg.checkpoint)


def run_validation(
    cfg: DictConfig, run_cfg: DictConfig, method
) -> tuple[dict, list[EpisodeSettings] | None]:
    """The run's validation measurement (``split=val``): its seeded validation episodes, or a
    requested setting (one), on the validation classes; ``val/acc`` and its CI.

    Returns:
        The metrics and the setting measured (None for a run tested by its classifier).
    """
    settings = episode_settings(cfg.get("episodes"), [method.evaluation.val])
    if len(settings) != 1:
        raise ValueError(
            f"split=val measures one episode setting; episodes= gives {len(settings)}."
        )
    method.evaluation.val = settings[0]
    # the recorded setting's own tasks, also for runs that drew fresh ones every epoch
    method.evaluation.val_tasks = "fixed"
    run_cfg = with_data_changes(run_cfg, cfg.get("data"))
    datamodule = build_datamodule(run_cfg, method.evaluation)
    datamodule.setup("validate")
    method.evaluation.val = adjusted_evaluation(method.evaluation, datamodule.adjusted_settings).val
    trainer = build_trainer(evaluation_trainer_config(cfg, run_cfg))
    trainer.validate(method, datamodule=datamodule, verbose=False)
    metrics = collect_metrics(trainer, keys=("val",))
    if method.evaluator.by_classifier:
        log.info(format_result(metrics, "val", None))
        return metrics, None
    log.info(format_result(metrics, "val", method.evaluation.val))
    return metrics, [method.evaluation.val]


def changed_scorer(run_cfg: DictConfig, changes: DictConfig) -> object:
    """The run's scorer (``method.scorer`` of its configuration) with ``changes`` applied, e.g.
    ``{transform: center_l2}``: SimpleShot's centred, L2-normalised embeddings.

    Raises:
        ValueError: naming the setting when the run's method has no configurable scorer or the
            scorer does not take a changed setting.
    """
    stored = run_cfg.get("method", {}).get("scorer")
    if stored is None:
        raise ValueError(
            f"scorer={OmegaConf.to_container(changes)}: the run's method "
            f"({run_cfg.get('method', {}).get('_target_')}) has no scorer to change."
        )
    merged = OmegaConf.merge(stored, changes)
    try:
        return instantiate(merged)
    except Exception as error:  # hydra wraps the scorer's own errors
        cause = error.__cause__ or error
        raise ValueError(
            f"scorer={OmegaConf.to_container(changes)} cannot change the run's scorer "
            f"({stored.get('_target_')}): {cause}"
        ) from error


def run_probe(cfg: DictConfig, run_cfg: DictConfig, method) -> dict:
    """Linear probe of the run's frozen encoder (see :func:`linear_probe`)."""
    run_cfg = with_data_changes(run_cfg, cfg.get("data"))
    datamodule = build_datamodule(run_cfg, method.evaluation, episodes=False)
    datamodule.setup("test")
    settings = ProbeSettings(**OmegaConf.to_container(cfg.get("probe") or {}, resolve=True))
    device = "cuda" if torch.cuda.is_available() and cfg.get("device", "auto") != "cpu" else "cpu"
    result = linear_probe(method.to(device), datamodule, settings)
    metrics = {"probe/acc": result["acc"], "probe/acc_ci95": result["acc_ci95"]}
    log.info(
        "linear probe: %.2f +- %.2f %% (%s checkpoint)",
        100 * result["acc"], 100 * result["acc_ci95"], cfg.checkpoint,
    )  # fmt: skip
    return metrics


def finetune_config(cfg: DictConfig, run_cfg: DictConfig, ckpt_path: Path) -> DictConfig:
    """The training configuration that fine-tunes a run's frontend and encoder.

    A supervised method (cross-entropy through a new linear head, no augmentation) on the run's
    data with mini-batches, initialised from ``ckpt_path`` and trained on the
    :class:`~audiofsl.methods.finetuning.HeadFirstFinetuning` schedule. It is tested by its
    classifier when the splits share their classes (folds, official splits), and on the run's
    few-shot episodes of the novel classes otherwise.
    """
    run_cfg = with_data_changes(run_cfg, cfg.get("data"))
    class_disjoint = bool(instantiate(run_cfg.data.split).class_disjoint)
    template = OmegaConf.load(resources.files("audiofsl.conf").joinpath(FINETUNE_RUN))
    with_settings = OmegaConf.merge({"finetune": cfg.finetune}, template)
    changes = OmegaConf.to_container(with_settings, resolve=True)
    del changes["finetune"]
    method = changes["method"]  # the run's parts take their places (the build order)
    method["frontend"] = OmegaConf.to_container(run_cfg.method.frontend)
    method["encoder"] = OmegaConf.to_container(run_cfg.method.encoder)
    method["test_by"] = "episodes" if class_disjoint else "classifier"
    run_dir = ckpt_path.parent.parent
    changes.update(
        paths={"output_dir": str(run_dir / "finetune")},
        task_name=f"{run_cfg.get('task_name', 'run')}_finetune",
        init_from=str(ckpt_path),
        resume=None,
        ckpt_path=None,
        test=True,
    )
    # The stored config holds resolved paths into the run's directory (checkpoints, logs,
    # plots): they move to the fine-tuning run's, so the trained run is never overwritten.
    old_dir = str(run_cfg.paths.output_dir)
    run_cfg = _rebase_paths(run_cfg, old_dir, str(run_dir / "finetune"))
    # on eval's devices (one by default): a run trained with DDP is fine-tuned in one process
    finetune = OmegaConf.merge(run_cfg, changes, {"trainer": cfg.get("trainer") or {}})
    for key in ("method", "sampler"):  # replaced, not merged into the run's
        finetune[key] = OmegaConf.create(changes[key])
    return finetune


def _rebase_paths(cfg: DictConfig, old: str, new: str) -> DictConfig:
    """``cfg`` with every string under the folder ``old`` moved under ``new``."""

    def move(node):
        if isinstance(node, dict):
            return {key: move(value) for key, value in node.items()}
        if isinstance(node, list):
            return [move(value) for value in node]
        if isinstance(node, str) and (node == old or node.startswith(old.rstrip("/") + "/")):
            return new + node[len(old.rstrip("/")) :]
        return node

    return OmegaConf.create(move(OmegaConf.to_container(cfg, resolve=False)))


def evaluation_trainer_config(cfg: DictConfig, run_cfg: DictConfig) -> DictConfig:
    """The run's config with eval's ``trainer`` settings on top (by default one process on one
    device, whatever the run trained on), no logger, and eval's callbacks."""
    changes = OmegaConf.to_container(cfg.get("trainer") or {}, resolve=True)
    return OmegaConf.merge(
        run_cfg,
        {"trainer": {**changes, "logger": False}, "logger": None, "callbacks": cfg.callbacks},
    )


def run_finetune(cfg: DictConfig, run_cfg: DictConfig, ckpt_path: Path) -> dict:
    """Fine-tune the run's encoder (see :func:`finetune_config`); its test metrics."""
    finetune = finetune_config(cfg, run_cfg, ckpt_path)
    metrics = run_training(finetune)
    log.info("fine-tuned run: %s", finetune.paths.output_dir)
    return {f"finetune/{k.split('/', 1)[1]}": v for k, v in metrics.items() if k.startswith("test")}


def _write_metrics(
    cfg: DictConfig,
    ckpt_path: Path,
    metrics: dict,
    episodes: list[EpisodeSettings] | None = None,
) -> dict:
    """Add this evaluation to the run's ``eval_metrics.json`` (or ``cfg.output_file``), keeping
    the earlier ones (see :mod:`audiofsl.runs.measurements`); returns ``metrics``.

    Args:
        cfg: the eval configuration (mode, checkpoint, settings, data changes).
        ckpt_path: the checkpoint evaluated (the run's ``config.yaml`` when untrained).
        metrics: ``{key: value}`` of this evaluation.
        episodes: the episode settings measured (mode episodes); None for a classifier test.
    """
    if rank_zero_only.rank != 0:  # the other processes of a distributed evaluation
        return metrics
    run_dir = Path(cfg.run_dir).parent.parent if Path(cfg.run_dir).is_file() else Path(cfg.run_dir)
    output = Path(cfg.output_file) if cfg.get("output_file") else run_dir / EVAL_METRICS_FILE
    mode = cfg.get("mode", "episodes")
    checkpoint = _checkpoint_kind(cfg)
    requested = [s.tag for s in episodes] if episodes and cfg.get("episodes") else None
    entry = {
        "metrics": metrics,
        "checkpoint": {"kind": checkpoint, "path": str(ckpt_path)},
        "settings": _measured_settings(cfg, mode, episodes, cfg.get("split", "test")),
    }
    if cfg.get("data"):
        entry["data"] = OmegaConf.to_container(cfg.data, resolve=True)
    scorer = OmegaConf.to_container(cfg.scorer, resolve=True) if cfg.get("scorer") else None
    if scorer:
        entry["scorer"] = scorer
    split = cfg.get("split", "test")
    if split != "test":
        entry["split"] = split
    key = measurement_key(mode, checkpoint, requested, scorer, split)
    record_measurement(output, key, entry)
    log.info("metrics written to %s as %r", output, key)
    return metrics


def _checkpoint_kind(cfg: DictConfig) -> str:
    """best, last, untrained or pretrained; the file's name when ``run_dir`` is a checkpoint."""
    if cfg.checkpoint in ("untrained", PRETRAINED_CHECKPOINT) or not Path(cfg.run_dir).is_file():
        return str(cfg.checkpoint)
    return Path(cfg.run_dir).stem


def _measured_settings(
    cfg: DictConfig, mode: str, episodes: list | None, split: str = "test"
) -> list | dict:
    """The settings that define a measurement of ``mode``, as plain JSON values."""
    if mode in ("probe", "finetune"):
        return OmegaConf.to_container(cfg.get(mode) or {}, resolve=True)
    if episodes is None:
        return {"test_by": "classifier", "clips": f"every {split} clip"}
    return [dataclasses.asdict(setting) for setting in episodes]


@hydra.main(version_base="1.3", config_path="pkg://audiofsl.conf", config_name="eval")
def main(cfg: DictConfig) -> None:
    quiet_known_warnings()
    run_evaluation(cfg)


#: eval's own settings; with encoder= and no run_dir=, the others are training settings
#: (see :func:`audiofsl.runs.pretrained.split_arguments`).
EVAL_KEYS = {
    "run_dir", "mode", "checkpoint", "split", "probe", "episodes", "scorer", "output_file",
    "trainer", "finetune", "callbacks", "task_name", "pretrained",
}  # fmt: skip

if __name__ == "__main__":
    import sys

    from audiofsl.runs.cli import run_command

    sys.argv[1:] = split_arguments(sys.argv[1:], EVAL_KEYS, shared={"paths"})
    run_command(main, "eval")
