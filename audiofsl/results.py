"""Tabulate finished runs: ``python -m audiofsl.results [outputs multirun ...]``.

Every run directory written by ``audiofsl.train`` holds ``config.yaml`` and ``metrics.json``.
This collects them, groups them by chosen config keys (by default the task name, method,
encoder and data module, so that the runs of a seed sweep fall together), and reports the
mean over seeds with a 95% confidence interval across seeds, next to the mean per-run
interval over tasks.

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

from omegaconf import OmegaConf
from rich.console import Console
from rich.table import Table

from audiofsl.evaluation import mean_ci

DEFAULT_GROUP_BY = ("task_name", "method._target_", "encoder._target_", "data._target_")


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
    rows: Sequence[dict], metric: str = "test/acc", group_by: Sequence[str] = DEFAULT_GROUP_BY
) -> list[dict]:
    """Group runs by ``group_by`` config keys; mean and 95% CI of ``metric`` across seeds."""
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for row in rows:
        if metric in row["metrics"]:
            key = tuple(str(OmegaConf.select(row["config"], name)) for name in group_by)
            groups[key].append(row)
    summary = []
    for key, members in sorted(groups.items()):
        values = [m["metrics"][metric] for m in members]
        task_cis = [m["metrics"].get(f"{metric}_ci95", float("nan")) for m in members]
        mean, ci_seeds = mean_ci(values)
        summary.append(
            {
                **dict(zip(group_by, key, strict=True)),
                "seeds": sorted(OmegaConf.select(m["config"], "seed") for m in members),
                "mean": mean,
                "ci95_seeds": ci_seeds,
                "ci95_tasks": sum(task_cis) / len(task_cis),
            }
        )
    return summary


def render(summary: Sequence[dict], metric: str, group_by: Sequence[str]) -> Table:
    """A rich table of :func:`summarize` rows, accuracies in percent."""
    table = Table(title=f"{metric}: mean over seeds ± 95% CI")
    for column in (*group_by, "seeds", "mean %", "± seeds", "± tasks"):
        table.add_column(column)
    for row in summary:
        names = [str(row[name]).rsplit(".", 1)[-1] for name in group_by]
        numbers = [100 * row["mean"], 100 * row["ci95_seeds"], 100 * row["ci95_tasks"]]
        table.add_row(*names, str(row["seeds"]), *(f"{x:.2f}" for x in numbers))
    if any(len(set(row["seeds"])) < len(row["seeds"]) for row in summary):
        table.caption = (
            "a repeated seed means runs differing by more than the seed: add --group-by keys"
        )
    return table


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Tabulate audiofsl runs.")
    parser.add_argument("roots", nargs="*", default=["outputs", "multirun"])
    parser.add_argument("--metric", default="test/acc")
    parser.add_argument("--group-by", nargs="+", default=list(DEFAULT_GROUP_BY))
    args = parser.parse_args(argv)
    summary = summarize(collect_runs(args.roots), args.metric, args.group_by)
    if not summary:
        parser.exit(1, f"no run with {args.metric} below {args.roots}\n")
    Console().print(render(summary, args.metric, args.group_by))


if __name__ == "__main__":
    main()
