"""Name new classes from a few examples and classify files: ``python -m audiofsl.enrol``.

Works with any trained run (ProtoNet, supervised, contrastive ...): each class of the
``support`` folder (one sub-folder of example files per class, as few as one file) becomes a
prototype, the mean embedding of its examples after the method's scorer transform, and every
file of ``queries`` goes to the nearest prototype under the scorer's distance (see
:meth:`audiofsl.inference.Predictor.enrol`). Each query's class and confidence (softmax over
the negative distances) is printed and written as CSV and JSON (default ``RUN/enrolment.csv``
and ``.json``, with the distance to every class). Unusable files are listed at the end; a class
without one readable example is an error naming it.

Examples::

    python -m audiofsl.enrol run_dir=RUN support=/path/to/examples queries=/path/to/new
    python -m audiofsl.enrol run_dir=RUN support=examples/ 'queries=[a.wav,b.flac]'
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import hydra
from omegaconf import DictConfig
from rich.console import Console
from rich.table import Table

from audiofsl.audio_files import find_audio_files, support_classes
from audiofsl.data.audio_io import display_path
from audiofsl.enrolment import QueryAssignment
from audiofsl.predict import (
    output_files,
    plain,
    predictor_from,
    print_unreadable,
    unreadable_entries,
    write_outputs,
)
from audiofsl.resume import register_resolvers

log = logging.getLogger(__name__)


def support_files(support) -> dict[str, list[str]]:
    """``{class: files}`` from ``support``: a folder of class sub-folders, or a mapping of
    class names to files and folders."""
    support = plain(support)
    if isinstance(support, dict):
        return {str(name): find_audio_files(sources, setting=f"support.{name}")
                for name, sources in support.items()}  # fmt: skip
    return support_classes(support, setting="support")


def assignment_table(rows: Sequence[QueryAssignment], title: str) -> Table:
    """A rich table of each query's class and confidence."""
    table = Table(title=title)
    table.add_column("file", overflow="fold")
    table.add_column("class")
    table.add_column("confidence", justify="right")
    for row in rows:
        table.add_row(display_path(row.path), row.label, f"{100 * row.confidence:.1f} %")
    return table


def assignment_records(rows: Sequence[QueryAssignment]) -> list[dict]:
    """CSV rows: ``path, label, confidence``, then ``distance_<class>`` per enrolled class."""
    return [
        {"path": display_path(row.path), "label": row.label,
         "confidence": round(row.confidence, 6),
         **{f"distance_{name}": round(d, 6) for name, d in row.distances.items()}}
        for row in rows
    ]  # fmt: skip


def run_enrol(cfg: DictConfig) -> dict:
    """Enrol ``cfg.support``'s classes and classify ``cfg.queries`` (see the module's
    docstring).

    Returns:
        ``assignments`` (:class:`QueryAssignment` rows), ``enrolment``, ``unreadable`` (support
        and query files as ``(path, reason)``), and the written ``csv`` and ``json`` paths.
    """
    support = support_files(cfg.support)
    queries = find_audio_files(plain(cfg.queries), setting="queries")
    predictor = predictor_from(cfg)
    enrolment = predictor.enrol(support)
    log.info("enrolled %s (support files per class), %s distance",
             enrolment.counts, enrolment.distance)  # fmt: skip
    rows, failures = predictor.classify(queries)
    console = Console()
    console.print(assignment_table(rows, f"{predictor.checkpoint}: {len(support)} classes"))
    csv_path, json_path = output_files(cfg, "enrolment")
    content = {
        "checkpoint": str(predictor.checkpoint),
        "distance": enrolment.distance,
        "support": enrolment.counts,
        "assignments": assignment_records(rows),
        "unreadable": unreadable_entries([*enrolment.failures, *failures]),
    }
    write_outputs(csv_path, assignment_records(rows), json_path, content)
    print_unreadable(console, enrolment.failures, "support files")
    print_unreadable(console, failures, "query files")
    console.print(f"classified {len(rows)} of {len(queries)} files: {csv_path}, {json_path}")
    return {"assignments": rows, "enrolment": enrolment,
            "unreadable": [*enrolment.failures, *failures],
            "csv": csv_path, "json": json_path}  # fmt: skip


register_resolvers()


@hydra.main(version_base="1.3", config_path="pkg://audiofsl.conf", config_name="enrol")
def main(cfg: DictConfig) -> None:
    run_enrol(cfg)


if __name__ == "__main__":
    main()
