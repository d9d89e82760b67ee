"""Tabulate finished runs: ``python -m audiofsl.results [outputs multirun ...]``.

Every run directory written by ``audiofsl.train`` holds ``config.yaml`` and ``metrics.json``.
This collects them, groups together the runs whose settings are all equal except the training
seed (and paths, loggers and other settings that cannot change a result), and reports the mean
over seeds with a 95% confidence interval across seeds, next to the mean per-run interval over
tasks. The table shows the settings that differ between groups. ``--group-by KEY ...`` groups
by chosen keys instead.

Examples::

    python -m audiofsl.train -m seed=0,1,2 +experiment=synthetic_supervised
    python -m audiofsl.results multirun
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf
from rich.console import Console
from rich.table import Table

from audiofsl.evaluation import mean_ci

#: Settings that never make two runs different experiments: the training seed, the held-out
#: cross-validation fold (runs over folds are pooled like runs over seeds), where files go.
_SEED_KEYS = ("seed", "data.seed", "data.subset.seed")
_REPLICATE_PREFIXES = ("data.split.test_folds", "data.split.val_folds")
_IGNORED_PREFIXES = ("paths.", "logger.", "hydra.")
_IGNORED_SUFFIXES = ("dirpath", "save_dir", "default_root_dir")
_RUN_CONTROL = ("resume", "ckpt_path", "test", "optimized_metric")


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


def experiment_settings(config: Any) -> dict[str, str]:
    """The settings that define a run's experiment: every leaf but seeds, paths and loggers."""
    container = (
        OmegaConf.to_container(config, resolve=False) if OmegaConf.is_config(config) else config
    )
    return {
        key: value
        for key, value in _flatten(container).items()
        if key not in _SEED_KEYS
        and key not in _RUN_CONTROL
        and not key.startswith(_REPLICATE_PREFIXES)
        and not key.startswith(_IGNORED_PREFIXES)
        and not key.endswith(_IGNORED_SUFFIXES)
    }


def differing_keys(rows: Sequence[dict]) -> list[str]:
    """The settings whose values differ between runs (``task_name`` first when it does)."""
    settings = [experiment_settings(row["config"]) for row in rows]
    keys = sorted(set().union(*settings)) if settings else []
    varying = [k for k in keys if len({s.get(k) for s in settings}) > 1]
    return sorted(varying, key=lambda k: (k != "task_name", k))


def collect_runs(roots: Iterable[str | Path]) -> list[dict]:
    """One row per run directory below ``roots``: its config and its final metrics."""
    rows = []
    for root in roots:
        for metrics_path in sorted(Path(root).rglob("metrics.json")):
            config_path = metrics_path.with_name("config.yaml")
            if not config_path.is_file():
                continue
            rows.append(
                {
                    "run_dir": str(metrics_path.parent),
                    "config": OmegaConf.load(config_path),
                    "metrics": json.loads(metrics_path.read_text()),
                }
            )
    return rows


def summarize(
    rows: Sequence[dict], metric: str = "test/acc", group_by: Sequence[str] | None = None
) -> list[dict]:
    """Group runs and give the mean and 95% CI of ``metric`` across seeds per group.

    Args:
        rows: runs from :func:`collect_runs`.
        metric: the metrics.json key to summarise.
        group_by: config keys to group by; None groups by every setting (see
            :func:`experiment_settings`) and shows those that differ between runs.

    Returns:
        One dict per group: the ``group_by`` keys' values, ``seeds``, ``mean``, ``ci95_seeds``,
        ``ci95_tasks``, ``runs`` (run directories).
    """
    rows = [row for row in rows if metric in row["metrics"]]
    shown = list(group_by) if group_by is not None else differing_keys(rows)
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for row in rows:
        if group_by is not None:
            key = tuple(str(OmegaConf.select(row["config"], name)) for name in group_by)
        else:
            key = tuple(sorted(experiment_settings(row["config"]).items()))
        groups[key].append(row)
    summary = []
    for _, members in sorted(groups.items()):
        values = [m["metrics"][metric] for m in members]
        task_cis = [m["metrics"].get(f"{metric}_ci95", float("nan")) for m in members]
        mean, ci_seeds = mean_ci(values)
        settings = experiment_settings(members[0]["config"])
        summary.append(
            {
                **{
                    name: settings.get(name, str(OmegaConf.select(members[0]["config"], name)))
                    for name in shown
                },  # fmt: skip
                "seeds": sorted(OmegaConf.select(m["config"], "seed") for m in members),
                "folds": _folds(members),
                "mean": mean,
                "ci95_seeds": ci_seeds,
                "ci95_tasks": sum(task_cis) / len(task_cis),
                "runs": [m["run_dir"] for m in members],
            }
        )
    return sorted(summary, key=lambda row: [str(row[name]) for name in shown])


def _folds(members: Sequence[dict]) -> list:
    """The held-out test folds of cross-validation runs (empty for other runs)."""
    folds = [OmegaConf.select(m["config"], "data.split.test_folds") for m in members]
    return sorted(str(list(f)) for f in folds if f is not None)


def render(summary: Sequence[dict], metric: str, group_by: Sequence[str] | None = None) -> Table:
    """A rich table of :func:`summarize` rows, accuracies in percent."""
    fixed = {"seeds", "folds", "mean", "ci95_seeds", "ci95_tasks", "runs"}
    if not group_by:
        group_by = [k for k in summary[0] if k not in fixed] if summary else []
    table = Table(title=f"{metric}: mean over seeds ± 95% CI")
    with_folds = any(row["folds"] for row in summary)
    columns = (*(key.rsplit(".", 1)[-1] for key in group_by), "seeds", *(["folds"] * with_folds))
    for column in (*columns, "mean %"):
        table.add_column(column)
    table.add_column("± seeds")
    table.add_column("± tasks")
    for row in summary:
        names = [_short(str(row[name])) for name in group_by]
        numbers = [100 * row["mean"], 100 * row["ci95_seeds"], 100 * row["ci95_tasks"]]
        folds = [" ".join(row["folds"])] if with_folds else []
        table.add_row(*names, str(row["seeds"]), *folds, *(f"{x:.2f}" for x in numbers))
    notes = [f"columns: {', '.join(group_by)}"] if group_by else []
    if any(len(set(row["seeds"])) < len(row["seeds"]) for row in summary):
        notes.append("a repeated seed: runs with the same settings and seed were pooled")
    table.caption = "; ".join(notes) or None
    return table


def _short(value: str) -> str:
    """``audiofsl.methods.ProtoNet`` -> ``ProtoNet``; numbers and other values unchanged."""
    head, _, tail = value.rpartition(".")
    return tail if head and tail[:1].isalpha() and head.replace(".", "").isidentifier() else value


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Tabulate audiofsl runs.")
    parser.add_argument("roots", nargs="*", default=["outputs", "multirun"])
    parser.add_argument("--metric", default="test/acc")
    parser.add_argument(
        "--group-by", nargs="+", default=None, help="config keys (default: every setting)"
    )
    args = parser.parse_args(argv)
    summary = summarize(collect_runs(args.roots), args.metric, args.group_by)
    if not summary:
        parser.exit(1, f"no run with {args.metric} below {args.roots}\n")
    Console().print(render(summary, args.metric, args.group_by))


if __name__ == "__main__":
    main()
