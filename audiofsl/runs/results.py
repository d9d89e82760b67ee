"""Tables of finished runs, the work of ``python -m audiofsl.results`` (see that module).

Every run directory written by ``audiofsl.train`` holds ``config.yaml`` and ``metrics.json``, and
``eval_metrics.json`` once ``audiofsl.eval`` measured it. This collects them, groups together the
runs whose settings are all equal except the training seed (and paths, loggers and other settings
that cannot change a result), and reports per group the mean over seeds with a 95% confidence
interval across seeds, next to the mean per-run interval over tasks.

The interval across seeds is Student's t with ``n - 1`` degrees of freedom, ``n`` the number of
seeds (shown; no interval for one seed): with a few seeds the normal 1.96 would be several times
too narrow. Runs that share their settings and their seed are not independent: they are averaged
into one value for that seed, and the table says so. Cross-validation folds count like seeds.
"""

from __future__ import annotations

import json
import logging
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf
from rich.table import Table

from audiofsl.evaluation.statistics import mean_ci_over_seeds
from audiofsl.runs.measurements import (
    EVAL_METRICS_FILE,
    find_metric,
    metric_keys,
    read_measurements,
)
from audiofsl.runs.stored import load_stored_config

log = logging.getLogger(__name__)

#: Settings that never make two runs different experiments: the training seed, the held-out
#: cross-validation fold (runs over folds are pooled like runs over seeds), where files go.
_SEED_KEYS = ("seed", "data.seed", "data.subset.seed")
_REPLICATE_PREFIXES = ("data.split.test_folds", "data.split.val_folds")
_IGNORED_PREFIXES = ("paths.", "logger.", "hydra.", "data.split_classes")
_IGNORED_SUFFIXES = ("dirpath", "save_dir", "default_root_dir")
_RUN_CONTROL = ("resume", "ckpt_path", "test", "optimized_metric", "keep_freed_memory")


def _flatten(node: Any, prefix: str = "") -> dict[str, str]:
    if isinstance(node, dict):
        items = node.items()
    elif isinstance(node, list):
        items = ((str(i), value) for i, value in enumerate(node))
    else:
        return {prefix: str(node)}
    flat: dict[str, str] = {}
    for key, value in items:
        flat.update(_flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    return flat


def _container(config: Any) -> Any:
    """A config as plain dicts and lists (interpolations left as written)."""
    return OmegaConf.to_container(config, resolve=False) if OmegaConf.is_config(config) else config


def experiment_settings(config: Any) -> dict[str, str]:
    """The settings that define a run's experiment: every leaf but seeds, paths and loggers."""
    return {
        key: value
        for key, value in _flatten(_container(config)).items()
        if key not in _SEED_KEYS
        and key not in _RUN_CONTROL
        and not key.startswith(_REPLICATE_PREFIXES)
        and not key.startswith(_IGNORED_PREFIXES)
        and not key.endswith(_IGNORED_SUFFIXES)
    }


def run_settings(rows: Sequence[dict]) -> list[dict[str, str]]:
    """Each run's :func:`experiment_settings`, completed with settings added after it was made.

    A setting that is new to the configs (its section is in an older run's config, the setting
    itself is not, and every run that has it has one value) counts as that value in the older
    runs, so that adding a setting with a default does not split finished runs from new ones.
    """
    settings = [experiment_settings(row["config"]) for row in rows]
    values: dict[str, set[str]] = defaultdict(set)
    for own in settings:
        for key, value in own.items():
            values[key].add(value)
    for own, row in zip(settings, rows, strict=True):
        for key, seen in values.items():
            if key not in own and len(seen) == 1 and _section_exists(row["config"], key):
                own[key] = next(iter(seen))
    return settings


def _section_exists(config: Any, key: str) -> bool:
    section = key.rpartition(".")[0]
    return not section or isinstance(OmegaConf.select(config, section), dict | DictConfig)


def differing_keys(rows: Sequence[dict], settings: Sequence[dict] | None = None) -> list[str]:
    """The settings whose values differ between runs (``task_name`` first when it does)."""
    settings = run_settings(rows) if settings is None else settings
    keys = sorted(set().union(*settings)) if settings else []
    varying = [k for k in keys if len({s.get(k) for s in settings}) > 1]
    return sorted(varying, key=lambda k: (k != "task_name", k))


def collect_runs(roots: Iterable[str | Path]) -> list[dict]:
    """One row per run directory below ``roots``: its config, its final metrics and its later
    measurements (``eval_metrics.json`` entries, see :mod:`audiofsl.runs.measurements`)."""
    rows = []
    for root in roots:
        for metrics_path in sorted(Path(root).rglob("metrics.json")):
            config_path = metrics_path.with_name("config.yaml")
            if not config_path.is_file():
                continue
            rows.append(
                {
                    "run_dir": str(metrics_path.parent),
                    "config": load_stored_config(config_path),
                    "metrics": json.loads(metrics_path.read_text()),
                    "measurements": _measurements(metrics_path.with_name(EVAL_METRICS_FILE)),
                }
            )
    return rows


def _measurements(path: Path) -> dict[str, dict]:
    """The entries of a run's ``eval_metrics.json``; an unreadable file is skipped, named."""
    try:
        return read_measurements(path)
    except ValueError as error:
        log.warning("%s; its measurements are left out", error)
        return {}


def metric_value(row: dict, metric: str) -> float | None:
    """A run's value of ``metric`` (see :func:`~audiofsl.runs.measurements.find_metric`), or
    None."""
    return find_metric(row["metrics"], row.get("measurements", {}), metric)


def available_metrics(rows: Sequence[dict]) -> list[str]:
    """Every metric key the runs hold: ``metrics.json`` keys and ``ENTRY:KEY`` of measurements."""
    return sorted(
        set().union(*(metric_keys(r["metrics"], r.get("measurements", {})) for r in rows))
    )


def replicate_of(config: Any) -> tuple:
    """What tells apart runs of one experiment: their seeds and held-out folds."""
    return tuple(
        (key, value)
        for key, value in sorted(_flatten(_container(config)).items())
        if key in _SEED_KEYS or key.startswith(_REPLICATE_PREFIXES)
    )


def per_seed_values(members: Sequence[dict], metric: str) -> list[float]:
    """One value per seed (or fold): the mean of the runs that share it."""
    runs_of: dict[tuple, list[float]] = defaultdict(list)
    for member in members:
        runs_of[replicate_of(member["config"])].append(metric_value(member, metric))
    return [sum(values) / len(values) for _, values in sorted(runs_of.items())]


def summarize(
    rows: Sequence[dict], metric: str = "test/acc", group_by: Sequence[str] | None = None
) -> list[dict]:
    """Group runs and give the mean and 95% CI of ``metric`` across seeds per group.

    Runs of a group that share their seed (and fold) count once, with their mean; the interval
    across seeds is :func:`~audiofsl.evaluation.statistics.mean_ci_over_seeds` (Student's t).

    Args:
        rows: runs from :func:`collect_runs`.
        metric: the key to summarise (see :func:`metric_value`).
        group_by: config keys to group by; None groups by every setting (see
            :func:`experiment_settings`) and shows those that differ between runs.

    Returns:
        One dict per group: the ``group_by`` keys' values, ``seeds`` (distinct), ``folds``,
        ``n`` (seeds or folds counted), ``mean``, ``ci95_seeds`` (NaN for ``n == 1``),
        ``ci95_tasks`` (the runs' mean interval over tasks; NaN where none is stored),
        ``runs`` (run directories).
    """
    rows = [row for row in rows if metric_value(row, metric) is not None]
    settings = run_settings(rows)
    shown = list(group_by) if group_by is not None else differing_keys(rows, settings)
    summary = [
        _group_summary(members, metric, shown, own)
        for _, (members, own) in sorted(_groups(rows, settings, group_by).items())
    ]
    return sorted(summary, key=lambda row: [str(row[name]) for name in shown])


def _groups(
    rows: Sequence[dict], settings: Sequence[dict], group_by: Sequence[str] | None
) -> dict[tuple, tuple[list[dict], dict]]:
    """Runs (and the first run's settings) by their ``group_by`` values, or by every experiment
    setting (:func:`run_settings`) when None."""
    groups: dict[tuple, tuple[list[dict], dict]] = {}
    for row, own in zip(rows, settings, strict=True):
        if group_by is not None:
            key = tuple(str(OmegaConf.select(row["config"], name)) for name in group_by)
        else:
            key = tuple(sorted(own.items()))
        groups.setdefault(key, ([], own))[0].append(row)
    return groups


def _group_summary(
    members: Sequence[dict], metric: str, shown: Sequence[str], settings: dict
) -> dict:
    """One row of :func:`summarize` for the runs of one group (``settings``: the first's)."""
    values = per_seed_values(members, metric)
    mean, ci_seeds = mean_ci_over_seeds(values)
    task_cis = [metric_value(m, f"{metric}_ci95") for m in members]
    task_cis = [ci for ci in task_cis if ci is not None]
    config = members[0]["config"]
    seeds = {OmegaConf.select(m["config"], "seed") for m in members}
    return {
        **{name: settings.get(name, str(OmegaConf.select(config, name))) for name in shown},
        "seeds": sorted(seeds, key=lambda seed: (seed is None, seed)),
        "folds": _folds(members),
        "n": len(values),
        "mean": mean,
        "ci95_seeds": ci_seeds,
        "ci95_tasks": sum(task_cis) / len(task_cis) if task_cis else math.nan,
        "runs": [m["run_dir"] for m in members],
    }


def _folds(members: Sequence[dict]) -> list:
    """The distinct held-out test folds of cross-validation runs (empty for other runs)."""
    folds = [OmegaConf.select(m["config"], "data.split.test_folds") for m in members]
    return sorted({str(list(f)) for f in folds if f is not None})


_FIXED_COLUMNS = {"seeds", "folds", "n", "mean", "ci95_seeds", "ci95_tasks", "runs"}


def render(summary: Sequence[dict], metric: str, group_by: Sequence[str] | None = None) -> Table:
    """A rich table of :func:`summarize` rows, accuracies in percent."""
    if not group_by:
        group_by = [k for k in summary[0] if k not in _FIXED_COLUMNS] if summary else []
    table = Table(title=f"{metric}: mean over seeds ± 95% CI")
    with_folds = any(row["folds"] for row in summary)
    columns = (*(key.rsplit(".", 1)[-1] for key in group_by), "seeds", *(["folds"] * with_folds))
    for column in (*columns, "n", "mean %", "± seeds", "± tasks"):
        table.add_column(column)
    for row in summary:
        names = [_short(str(row[name])) for name in group_by]
        numbers = [100 * row["mean"], 100 * row["ci95_seeds"], 100 * row["ci95_tasks"]]
        folds = [" ".join(row["folds"])] if with_folds else []
        seeds = ", ".join(str(seed) for seed in row["seeds"])
        table.add_row(*names, seeds, *folds, str(row["n"]), *(_percent(x) for x in numbers))
    table.caption = "; ".join(_notes(summary, group_by))
    return table


def _notes(summary: Sequence[dict], group_by: Sequence[str]) -> list[str]:
    """The table's caption: how the intervals are computed, the columns, averaged repeats."""
    notes = [
        "± seeds: Student's t interval over the n seeds or folds (n/a for one); ± tasks: the "
        "runs' mean interval over evaluation tasks"
    ]
    if group_by:
        notes.append(f"columns: {', '.join(group_by)}")
    repeated = sum(len(row["runs"]) - row["n"] for row in summary)
    if repeated:
        notes.append(
            f"{repeated} run(s) repeated a seed with the same settings: the runs of one seed were "
            "averaged into one value for that seed"
        )
    return notes


def _percent(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.2f}"


def _short(value: str) -> str:
    """``audiofsl.methods.ProtoNet`` -> ``ProtoNet``; numbers and other values unchanged."""
    head, _, tail = value.rpartition(".")
    return tail if head and tail[:1].isalpha() and head.replace(".", "").isidentifier() else value
