"""Prepare and check a dataset before training: ``python -m audiofsl.prepare_data``.

Generates or indexes the configured data (``data=...``), decodes every clip once to find
unreadable or silent files, and prints how many classes and clips each split keeps.

Examples::

    python -m audiofsl.prepare_data                      # the synthetic set
    python -m audiofsl.prepare_data data=folder data.root=/path/to/audio
"""

from __future__ import annotations

import logging

import hydra
from omegaconf import DictConfig
from rich.console import Console
from rich.table import Table

from audiofsl.composition import build_datamodule

log = logging.getLogger(__name__)


def summarize(datamodule) -> Table:
    """A table of classes and clips per split of a set-up data module."""
    table = Table(title=type(datamodule).__name__)
    for column in ("split", "classes", "clips"):
        table.add_column(column)
    for split in ("train", "val", "test"):
        dataset = getattr(datamodule, f"{split}_set")
        n_classes = len(set(dataset.labels.tolist()))
        table.add_row(split, str(n_classes), str(len(dataset)))
    return table


@hydra.main(version_base="1.3", config_path="../conf", config_name="train")
def main(cfg: DictConfig) -> None:
    datamodule = build_datamodule(cfg)
    datamodule.prepare_data()
    datamodule.setup("fit")
    Console().print(summarize(datamodule))


if __name__ == "__main__":
    main()
