"""The few-data study of Pons, Serrà & Serra (ICASSP 2019): ``python -m audiofsl.study``.

For every method, number n of training clips per class, seeded draw of those clips and held-out
fold, one run in its own directory ``<output>/runs/<method>/n<n>/draw<d>/fold<f>/``
(``config.yaml`` and ``metrics.json``, as a training run). Then the test accuracy against n,
mean ± 95% CI over draws and folds: printed, written as ``<output>/<study>.csv`` and plotted as
``<output>/<study>.png``. Running the command again skips the runs whose ``metrics.json`` holds
``test/acc``, so a study stopped half-way resumes where it was.

The data (``data.source``) is UrbanSound8K and its ten folds by default; any source whose clips
carry folds works: ``esc50_folds``, or ``folder``, your own audio (``data.root`` or
``data.manifest``), with the folds of a manifest's ``fold`` column or seeded, stratified folds
made by ``data.folds=K``.

Methods (``study.methods``):

- ``supervised``: a classifier (Pons et al.'s VGG-like encoder, cross-entropy) tested by its
  classifier;
- ``protonet``: a prototypical network trained on episodes of the n training clips per class,
  tested by the nearest prototype of all of them
  (:func:`~audiofsl.evaluation.prototype_classifier.prototype_classifier_test`);
- ``knn``: nearest neighbours of MFCC statistics, no training (:mod:`audiofsl.evaluation.knn`);
- ``transfer_finetune`` / ``transfer_prototypes``: the frontend and encoder of the run
  ``study.transfer_from``, fine-tuned as a classifier, or frozen and tested by nearest prototype.

Examples::

    python -m audiofsl.study data.root=/data/UrbanSound8K
    python -m audiofsl.study data.source=folder data.root=myaudio data.folds=5 \
        study.test_folds=[1,2,3,4,5] study.n_per_class=[1,2,5,10]
    python -m audiofsl.study data.root=... study.n_per_class=[1,5] study.draws=2 \
        study.test_folds=[1] study.epochs=20 'study.overrides=[logger=csv,trainer=gpu]'
    python -m audiofsl.study data.root=... 'study.methods=[transfer_finetune,transfer_prototypes]' \
        study.transfer_from=outputs/fma_supervised/2026-11-21_10-00-00-000000
"""

from __future__ import annotations

import csv
import json
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import hydra
import torch
from hydra import compose, initialize_config_module
from hydra.core.global_hydra import GlobalHydra
from omegaconf import DictConfig, OmegaConf, open_dict
from rich.console import Console
from rich.table import Table

from audiofsl.evaluation.knn import MFCCStatistics, knn_test
from audiofsl.evaluation.prototype_classifier import prototype_classifier_test
from audiofsl.runs.composition import build_datamodule, load_run, save_config
from audiofsl.runs.results import collect_runs, summarize
from audiofsl.runs.stored import load_stored_config
from audiofsl.train import METRICS_FILE, quiet_known_warnings, run_training

log = logging.getLogger(__name__)

METHODS = ("supervised", "protonet", "knn", "transfer_finetune", "transfer_prototypes")
METRIC = "test/acc"
#: The configuration of a run that needs no training keeps only these (its data and place).
_DATA_KEYS = ("task_name", "seed", "data", "paths", "study")


@dataclass(frozen=True)
class StudyRun:
    """One run of the study: a method trained on n clips per class of a draw, tested on a fold."""

    method: str
    n: int
    draw: int
    fold: int

    def directory(self, output_dir: Path) -> Path:
        parts = (self.method, f"n{self.n}", f"draw{self.draw}", f"fold{self.fold}")
        return output_dir.joinpath("runs", *parts)


@dataclass
class StudyResult:
    """What a study invocation did: the table rows, the runs run and skipped, its files."""

    rows: list[dict]
    ran: list[Path]
    skipped: list[Path]
    table: Path
    plot: Path | None


def episode_shape(n: int, max_shot: int, max_query: int) -> tuple[int, int] | None:
    """(n_shot, n_query) of ProtoNet's training episodes on n clips per class, or None when
    n clips leave no query (n = 1): the support takes the larger half, each at most its cap."""
    n_shot = min(max_shot, (n + 1) // 2)
    n_query = min(max_query, n - n_shot)
    return (n_shot, n_query) if n_query >= 1 else None


def plan(study: DictConfig) -> list[StudyRun]:
    """Every run of the study, in order: method, n, draw, fold."""
    unknown = sorted(set(study.methods) - set(METHODS))
    if unknown:
        raise ValueError(f"study.methods: unknown {unknown}; choose among {list(METHODS)}.")
    transfer = [m for m in study.methods if m.startswith("transfer")]
    if transfer and not study.transfer_from:
        raise ValueError(
            f"study.methods {transfer} need a run to transfer from: set study.transfer_from=RUN "
            "(a run directory of python -m audiofsl.train)"
        )
    runs = []
    for method in study.methods:
        for n in study.n_per_class:
            if method == "protonet" and episode_shape(
                n, study.protonet.max_shot, study.protonet.max_query
            ) is None:  # fmt: skip
                log.warning("protonet, n=%d: no query clip for a training episode; not run", n)
                continue
            runs.extend(
                StudyRun(method, int(n), draw, int(fold))
                for draw in range(study.draws)
                for fold in study.test_folds
            )
    return runs


def is_finished(run_dir: Path) -> bool:
    """Whether ``run_dir`` holds a ``metrics.json`` with the test accuracy."""
    path = run_dir / METRICS_FILE
    return path.is_file() and METRIC in json.loads(path.read_text())


# ---------------------------------------------------------------------------- run configs
def compose_train(overrides: Sequence[str]) -> DictConfig:
    """``audiofsl.train``'s configuration with ``overrides`` (inside or outside a Hydra app)."""
    if GlobalHydra.instance().is_initialized():
        return compose(config_name="train", overrides=list(overrides))
    with initialize_config_module(config_module="audiofsl.conf", version_base="1.3"):
        return compose(config_name="train", overrides=list(overrides))


#: The study's data settings handed to every run when set (``folds``: a folder's only).
_DATA_SETTINGS = ("root", "manifest", "folds")


def check_data(cfg: DictConfig) -> None:
    """Raise a ValueError naming the setting when the study's data cannot give folds."""
    data, folds = cfg.data, cfg.data.get("folds")
    if not data.get("root") and not data.get("manifest"):
        raise ValueError(
            f"data.root: set it to the data of data.source={data.source} (for UrbanSound8K its "
            "folder, holding audio/ and metadata/). For a folder of your own add "
            "data.source=folder and data.folds=5 (unless its manifest has a fold column)."
        )
    if data.source != "folder" and (data.get("manifest") or folds):
        raise ValueError(
            f"data.manifest and data.folds describe a folder of your own (data.source="
            f"{data.source} brings its own folds): add data.source=folder"
        )
    outside = [int(f) for f in cfg.study.test_folds if folds and not 1 <= int(f) <= folds]
    if outside:
        every = ",".join(str(f) for f in range(1, folds + 1))
        raise ValueError(
            f"study.test_folds={list(cfg.study.test_folds)} names folds {outside} that "
            f"data.folds={folds} does not make; set study.test_folds=[{every}] (or a part of it)."
        )


def training_config(cfg: DictConfig, run: StudyRun, run_dir: Path, overrides) -> DictConfig:
    """The training configuration of one run: the method's overrides, the study's data
    (``data.source``, split by folds), the study's overrides, then the run's seed, test fold,
    clips per class, epochs and directories."""
    source = [f"data={cfg.data.source}", "data/split=folds"]
    train = compose_train([*overrides, *source, *cfg.study.overrides])
    with open_dict(train):
        train.seed = run.draw
        for key in _DATA_SETTINGS:
            if cfg.data.get(key) is not None:
                train.data[key] = cfg.data[key]
        train.data.split.test_folds = [run.fold]
        train.data.subset.per_class_cap = run.n
        train.trainer.max_epochs = cfg.study.epochs
        train.paths.data_dir = cfg.paths.data_dir
        train.paths.output_dir = str(run_dir)
        train.task_name = f"{cfg.study.name}_{run.method}"
        train.study = {"name": cfg.study.name, "method": run.method, "n": run.n,
                       "draw": run.draw, "fold": run.fold}  # fmt: skip
    return train


def adopt_backbone(train: DictConfig, source: DictConfig) -> None:
    """Give ``train`` the frontend and encoder of the ``source`` run's configuration, and the
    sample rate its frontend expects."""
    with open_dict(train):
        train.frontend = source.method.frontend
        train.encoder = source.method.encoder
        if "sample_rate" in source.method.frontend:
            train.data.loader.sample_rate = source.method.frontend.sample_rate


def ready_datamodule(train: DictConfig):
    """The data module of a run that is not trained (no episodes drawn), ready to load."""
    datamodule = build_datamodule(train, episodes=False)
    datamodule.prepare_data()
    return datamodule


def device() -> str:
    """Where runs without a trainer embed their clips."""
    return "cuda" if torch.cuda.is_available() else "cpu"


def save_run(train: DictConfig, run_dir: Path, metrics: dict, keys: Sequence[str] = ()) -> None:
    """Write ``config.yaml`` (all of ``train``, or only ``keys``) and ``metrics.json``."""
    config = OmegaConf.masked_copy(train, list(keys)) if keys else train
    save_config(config, run_dir)
    write_metrics(run_dir, metrics)


def write_metrics(run_dir: Path, metrics: dict) -> None:
    """Write ``metrics.json`` as :func:`audiofsl.train.run_training` does."""
    text = json.dumps(metrics, indent=2, sort_keys=True) + "\n"
    (run_dir / METRICS_FILE).write_text(text)


def as_test(metrics: dict) -> dict:
    """``{"acc": ...}`` -> ``{"test/acc": ...}``."""
    return {f"test/{name}": value for name, value in metrics.items()}


# ---------------------------------------------------------------------------- the methods
def run_supervised(cfg: DictConfig, run: StudyRun, run_dir: Path) -> None:
    """The classifier, trained and tested by :func:`audiofsl.train.run_training`."""
    run_training(training_config(cfg, run, run_dir, cfg.study.supervised.overrides))


def run_protonet(cfg: DictConfig, run: StudyRun, run_dir: Path) -> None:
    """Train on episodes of the training clips, then classify the test fold's clips by the
    nearest prototype of all the training clips (the scorer's rule)."""
    settings = cfg.study.protonet
    n_shot, n_query = episode_shape(run.n, settings.max_shot, settings.max_query)
    train = training_config(cfg, run, run_dir, settings.overrides)
    sampler = {"n_way": settings.n_way, "n_shot": n_shot, "n_query": n_query,
               "n_episodes": settings.episodes}  # fmt: skip
    train.sampler = OmegaConf.merge(train.sampler, sampler)
    train.evaluation.test = OmegaConf.to_container(settings.test_episodes, resolve=True)
    train.test = False
    with open_dict(train):
        train.study.test = "nearest prototype of the training clips"
    metrics = run_training(train)
    run_cfg, method, _ = load_run(run_dir)
    result = prototype_classifier_test(method.to(device()), ready_datamodule(run_cfg))
    write_metrics(run_dir, {**metrics, **as_test(result)})


def run_knn(cfg: DictConfig, run: StudyRun, run_dir: Path) -> None:
    """k nearest training clips of MFCC statistics; the supervised runs' data settings."""
    settings = cfg.study.knn
    train = training_config(cfg, run, run_dir, cfg.study.supervised.overrides)
    with open_dict(train):
        train.study.knn = settings
    features = MFCCStatistics(train.data.loader.sample_rate, settings.n_mfcc)
    result = knn_test(ready_datamodule(train), features, settings.k, settings.distance, device())
    save_run(train, run_dir, as_test(result), _DATA_KEYS)


def transfer_config(cfg: DictConfig, run: StudyRun, run_dir: Path) -> DictConfig:
    """The transfer runs' configuration: the supervised data, the source run's backbone."""
    source = load_stored_config(Path(cfg.study.transfer_from) / "config.yaml")
    train = training_config(cfg, run, run_dir, cfg.study.transfer.overrides)
    adopt_backbone(train, source)
    with open_dict(train):
        train.study.transfer_from = str(cfg.study.transfer_from)
    return train


def run_transfer_finetune(cfg: DictConfig, run: StudyRun, run_dir: Path) -> None:
    """A classifier whose frontend and encoder start from the source run's (``init_from``)."""
    settings = cfg.study.transfer
    train = transfer_config(cfg, run, run_dir)
    with open_dict(train):
        train.init_from = str(cfg.study.transfer_from)
        train.callbacks.head_first = OmegaConf.to_container(settings.schedule, resolve=True)
    run_training(train)


def run_transfer_prototypes(cfg: DictConfig, run: StudyRun, run_dir: Path) -> None:
    """The source run's frozen encoder: nearest prototype of the training clips."""
    train = transfer_config(cfg, run, run_dir)
    _, method, _ = load_run(cfg.study.transfer_from)
    result = prototype_classifier_test(method.to(device()), ready_datamodule(train))
    save_run(train, run_dir, as_test(result), _DATA_KEYS)


RUNNERS = {
    "supervised": run_supervised,
    "protonet": run_protonet,
    "knn": run_knn,
    "transfer_finetune": run_transfer_finetune,
    "transfer_prototypes": run_transfer_prototypes,
}


# ---------------------------------------------------------------------------- the table
def tabulate(study: DictConfig, run_dirs: Sequence[Path]) -> list[dict]:
    """One row per (method, n) with a finished run: runs, mean and 95% CI of the accuracy
    over draws and folds (:func:`audiofsl.runs.results.summarize`)."""
    rows = collect_runs([d for d in run_dirs if is_finished(d)])
    summary = summarize(rows, METRIC, group_by=["study.method", "study.n"])
    cells = {(row["study.method"], int(row["study.n"])): row for row in summary}
    table = []
    for method in study.methods:
        for n in study.n_per_class:
            cell = cells.get((method, int(n)))
            if cell is None:
                continue
            table.append(
                {"method": method, "n_per_class": int(n), "runs": len(cell["runs"]),
                 "acc_mean": cell["mean"], "acc_ci95": cell["ci95_seeds"]}
            )  # fmt: skip
    return table


def write_table(rows: Sequence[dict], path: Path) -> Path:
    """The rows of :func:`tabulate` as CSV (accuracies as fractions)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, ["method", "n_per_class", "runs", "acc_mean", "acc_ci95"])
        writer.writeheader()
        writer.writerows(rows)
    return path


def _cell(row: dict) -> str:
    """``mean ± CI (runs)`` in %; a single run has no interval (``n/a``)."""
    ci = row["acc_ci95"]
    spread = "n/a" if ci is None or math.isnan(ci) else f"{100 * ci:.1f}"
    return f"{100 * row['acc_mean']:.1f} ± {spread} ({row['runs']})"


def render(rows: Sequence[dict], n_per_class: Sequence[int], title: str) -> Table:
    """Methods as rows, n as columns, cells ``mean ± CI`` in %."""
    table = Table(title=title, caption="mean ± 95% CI over draws and folds (runs)")
    for column in ("method", *(f"n={n}" for n in n_per_class)):
        table.add_column(column)
    cells = {(row["method"], row["n_per_class"]): row for row in rows}
    for method in dict.fromkeys(row["method"] for row in rows):
        values = []
        for n in n_per_class:
            row = cells.get((method, int(n)))
            values.append("—" if row is None else _cell(row))
        table.add_row(method, *values)
    return table


def plot_accuracy(rows: Sequence[dict], path: Path, title: str) -> Path | None:
    """Accuracy against n (log scale), one line with CI bars per method; None without
    matplotlib (the table is written either way)."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        log.warning("matplotlib is not installed: no plot (pip install matplotlib); the table "
                    "is in %s", path.with_suffix(".csv"))  # fmt: skip
        return None
    figure = Figure(figsize=(6, 4), layout="constrained")
    axes = figure.subplots()
    for method in dict.fromkeys(row["method"] for row in rows):
        mine = [row for row in rows if row["method"] == method]
        axes.errorbar([row["n_per_class"] for row in mine],
                      [100 * row["acc_mean"] for row in mine],
                      yerr=[100 * row["acc_ci95"] for row in mine],
                      marker="o", capsize=3, label=method)  # fmt: skip
    axes.set_xscale("log")
    n_values = sorted({row["n_per_class"] for row in rows})
    axes.set_xticks(n_values, [str(n) for n in n_values])
    axes.set(xlabel="training clips per class", ylabel="test accuracy (%)", title=title)
    axes.set_ylim(0, 100)
    axes.grid(alpha=0.3)
    axes.legend()
    figure.savefig(path, dpi=150)
    return path


# ---------------------------------------------------------------------------- the study
def run_study(cfg: DictConfig) -> StudyResult:
    """Run every unfinished run of ``cfg.study``, then write, print and plot the table."""
    check_data(cfg)
    study = cfg.study
    output_dir = Path(cfg.paths.output_dir)
    runs = plan(study)
    ran, skipped = [], []
    for number, run in enumerate(runs, 1):
        run_dir = run.directory(output_dir)
        if is_finished(run_dir):
            skipped.append(run_dir)
            continue
        log.info("run %d/%d: %s", number, len(runs), run_dir)
        RUNNERS[run.method](cfg, run, run_dir)
        ran.append(run_dir)
    if skipped:
        log.info("%d of %d runs were finished already (their metrics.json holds %s)",
                 len(skipped), len(runs), METRIC)  # fmt: skip
    rows = tabulate(study, [run.directory(output_dir) for run in runs])
    table = write_table(rows, output_dir / f"{study.name}.csv")
    title = f"{study.name}: {cfg.data.source} test accuracy (%)"
    Console().print(render(rows, [int(n) for n in study.n_per_class], title))
    plot = plot_accuracy(rows, output_dir / f"{study.name}.png", title) if rows else None
    log.info("table: %s%s", table, f"; plot: {plot}" if plot else "")
    return StudyResult(rows, ran, skipped, table, plot)


@hydra.main(version_base="1.3", config_path="pkg://audiofsl.conf", config_name="study")
def main(cfg: DictConfig) -> None:
    quiet_known_warnings()
    run_study(cfg)


if __name__ == "__main__":
    from audiofsl.runs.cli import run_command

    run_command(main, "study")
