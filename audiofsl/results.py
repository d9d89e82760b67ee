"""Tabulate finished runs: ``python -m audiofsl.results [outputs multirun ...]``.

Every run directory written by ``audiofsl.train`` holds ``config.yaml`` and ``metrics.json``, and
``eval_metrics.json`` once ``audiofsl.eval`` measured it. This collects them, groups together the
runs whose settings are all equal except the training seed (and paths, loggers and other settings
that cannot change a result), and reports per group the mean over seeds with a 95% confidence
interval across seeds, next to the mean per-run interval over tasks. ``--group-by KEY ...``
groups by chosen keys instead.

The interval across seeds is Student's t with ``n - 1`` degrees of freedom, ``n`` the number of
seeds (shown; no interval for one seed): with a few seeds the normal 1.96 would be several times
too narrow. Runs that share their settings and their seed are not independent: they are averaged
into one value for that seed, and the table says so. Cross-validation folds count like seeds.

Examples::

    python -m audiofsl.train -m seed=0,1,2 +experiment=synthetic_supervised
    python -m audiofsl.results multirun
    python -m audiofsl.results multirun --metric test/5way1shot/acc
    python -m audiofsl.results outputs --metric probe/untrained:probe/acc --group-by task_name
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from rich.console import Console

from audiofsl.runs.results import available_metrics, collect_runs, render, summarize

_METRIC_HELP = """\
the result to tabulate (default: test/acc). Keys of each run's metrics.json: test/acc (the
run's first test setting), test/<tag>/acc for every test setting (e.g. test/5way1shot/acc),
val/acc, and for classifier runs test/f1_macro, test/f1_micro (multi-label runs also test/map
and test/hamming). Keys measured later by python -m audiofsl.eval (eval_metrics.json):
probe/acc, finetune/acc, test/<tag>/acc of requested settings, read from the best checkpoint's
newest measurement; or ENTRY:KEY for one entry, e.g. probe/untrained:probe/acc or
episodes/last:test/acc. The interval over tasks is read from KEY_ci95 where the run has it.
Without a match the keys found are listed."""


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``python -m audiofsl.results`` (see ``--help``)."""
    parser = argparse.ArgumentParser(
        prog="python -m audiofsl.results",
        description="Tabulate audiofsl runs: one row per experiment, the mean over seeds with "
        "a 95% Student's t interval across seeds (n seeds; runs repeating a seed count once) "
        "and the runs' mean interval over evaluation tasks.",
    )
    parser.add_argument(
        "roots", nargs="*", default=["outputs", "multirun"],
        help="folders searched at any depth for run directories (config.yaml and metrics.json; "
        "default: outputs multirun)",
    )  # fmt: skip
    parser.add_argument("--metric", default="test/acc", metavar="KEY", help=_METRIC_HELP)
    parser.add_argument(
        "--group-by", nargs="+", default=None, metavar="CONFIG_KEY",
        help="group runs by these config keys (e.g. task_name method._target_ "
        "evaluation.test.0.n_shot) and pool the rest; default: one group per distinct setting, "
        "the columns showing the settings that differ",
    )  # fmt: skip
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    runs = collect_runs(args.roots)
    summary = summarize(runs, args.metric, args.group_by)
    if not summary:
        found = ", ".join(available_metrics(runs)) or "none"
        parser.exit(1, f"no run with {args.metric} below {args.roots}; keys found: {found}\n")
    Console().print(render(summary, args.metric, args.group_by))


if __name__ == "__main__":
    from audiofsl.runs.cli import run_command

    run_command(main)
