"""Prepare and check a dataset before training: ``python -m audiofsl.prepare_data``.

Generates or indexes the configured data (``data=...``), decodes every clip once to find
unreadable, silent or too short files, checks that every split can hold its episodes, and
prints how many classes and clips each split keeps.

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
from audiofsl.resume import register_resolvers

log = logging.getLogger(__name__)


def summarize(datamodule) -> Table:
    """A table of classes and clips per split of a set-up data module."""
    table = Table(title=type(datamodule).__name__)
    for column in ("split", "classes", "clips"):
        table.add_column(column)
    for split in ("train", "val", "test"):
        dataset = getattr(datamodule, f"{split}_set")
        if dataset is None:
            table.add_row(split, "0", "0")
            continue
        n_classes = len(set(dataset.labels.tolist()))
        table.add_row(split, str(n_classes), str(len(dataset)))
    return table


register_resolvers()


@hydra.main(version_base="1.3", config_path="pkg://audiofsl.conf", config_name="train")
def main(cfg: DictConfig) -> None:
    datamodule = build_datamodule(cfg)
    datamodule.prepare_data()
    datamodule.setup(None)
    Console().print(summarize(datamodule))
    for setting, n_query in datamodule.episode_adjustments.items():
        log.info("training will use %s.n_query=%d to fit the data", setting, n_query)


if __name__ == "__main__":
    main()
