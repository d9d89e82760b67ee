"""Prepare and check a dataset before training: ``python -m audiofsl.prepare_data``.

Generates or indexes the configured data (``data=...``): every file's header is read and
checked once (unreadable, empty, truncated, silent, too short ... files are listed in one
summary) and the index is kept under ``paths.data_dir/index``, so later runs start at once.
Then it checks that every split can hold its episodes, prints clips, hours and clips per class
of each split, and writes the per-class counts as ``classes.csv`` in the run directory.

Examples::

    python -m audiofsl.prepare_data                      # the synthetic set
    python -m audiofsl.prepare_data data=folder data.root=/path/to/audio
"""

from __future__ import annotations

import csv
import logging
import statistics
from pathlib import Path

import hydra
from omegaconf import DictConfig
from rich.console import Console
from rich.table import Table

from audiofsl.runs.composition import build_datamodule
from audiofsl.runs.resume import register_resolvers

log = logging.getLogger(__name__)


def class_counts(datamodule) -> list[dict]:
    """Rows ``split, class, clips, seconds`` of a set-up data module."""
    rows = []
    for split in ("train", "val", "test"):
        dataset = getattr(datamodule, f"{split}_set")
        if dataset is None:
            continue
        seconds = [dataset.num_samples(i) / dataset.sample_rate for i in range(len(dataset))]
        for index, name in enumerate(dataset.class_names):
            members = (dataset.labels == index).nonzero().flatten().tolist()
            rows.append({"split": split, "class": name, "clips": len(members),
                         "seconds": round(sum(seconds[i] for i in members), 3)})  # fmt: skip
    return rows


def summarize(datamodule, rows: list[dict] | None = None) -> Table:
    """A table of classes, clips, hours and clips per class (min/median/max) per split."""
    rows = class_counts(datamodule) if rows is None else rows
    table = Table(title=type(datamodule).__name__)
    for column in ("split", "classes", "clips", "hours", "clips/class min", "median", "max"):
        table.add_column(column)
    for split in ("train", "val", "test"):
        counts = [r["clips"] for r in rows if r["split"] == split]
        hours = sum(r["seconds"] for r in rows if r["split"] == split) / 3600
        if not counts:
            table.add_row(split, "0", "0", "0", "-", "-", "-")
            continue
        table.add_row(split, str(len(counts)), str(sum(counts)), f"{hours:.2f}", str(min(counts)),
                      f"{statistics.median(counts):g}", str(max(counts)))  # fmt: skip
    return table


def write_counts(rows: list[dict], path: Path) -> Path:
    """The per-class counts as CSV (``split,class,clips,seconds``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["split", "class", "clips", "seconds"])
        writer.writeheader()
        writer.writerows(rows)
    return path


register_resolvers()


@hydra.main(version_base="1.3", config_path="pkg://audiofsl.conf", config_name="prepare_data")
def main(cfg: DictConfig) -> None:
    datamodule = build_datamodule(cfg)
    datamodule.prepare_data()
    datamodule.setup(None)
    rows = class_counts(datamodule)
    Console().print(summarize(datamodule, rows))
    log.info("per-class counts: %s", write_counts(rows, Path(cfg.paths.output_dir) / "classes.csv"))
    for setting, n_query in datamodule.episode_adjustments.items():
        log.info("training will use %s.n_query=%d to fit the data", setting, n_query)


if __name__ == "__main__":
    from audiofsl.runs.cli import run_command

    run_command(main, "prepare_data")
