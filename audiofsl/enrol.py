"""Name new classes from a few examples and classify files: ``python -m audiofsl.enrol``.

Works with any trained run (ProtoNet, supervised, contrastive ...): each class of the
``support`` folder (one sub-folder of example files per class, as few as one file) becomes a
prototype, the mean embedding of its examples after the method's scorer transform, and every
file of ``queries`` goes to the nearest prototype under the scorer's distance (see
:meth:`audiofsl.inference.Predictor.enrol`). Each query's class and confidence (softmax over
the negative distances) is printed and written as CSV and JSON, with the distance to every
class. Each call writes new files, ``RUN/enrolment/<time>.csv`` and ``.json`` (e.g.
``2026-11-21_10-00-00.csv``; ``_2`` is added for a second call within one second), so earlier
results are kept; ``output_file=`` names the CSV instead. The table shows each file relative to
the folder holding them all, one line per file; beyond ``max_rows`` queries (default 20) it
counts the files per class instead, and the CSV has every row (``max_rows=null`` lists every
file). Unusable files are listed at the end; a class without one readable example is an error
naming it.

Examples::

    python -m audiofsl.enrol run_dir=RUN support=/path/to/examples queries=/path/to/new
    python -m audiofsl.enrol run_dir=RUN support=examples/ 'queries=[a.wav,b.flac]'
    python -m audiofsl.enrol run_dir=RUN support=examples/ queries=new/ max_rows=null
    python -m audiofsl.enrol encoder=cnn14 support=examples/ queries=new/

With ``encoder=NAME`` and no ``run_dir``, a pretrained encoder enrols with no training (its
published weights; settings that are not enrol's, such as ``encoder.checkpoint=``, are
gathered into ``pretrained=[...]``); its configuration and the results go to this command's
output folder.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import hydra
from omegaconf import DictConfig
from rich.console import Console

from audiofsl.data.audio_io import display_path
from audiofsl.inference.audio_files import find_audio_files, support_classes
from audiofsl.inference.enrolment import QueryAssignment
from audiofsl.inference.outputs import (
    check_max_rows,
    print_file_table,
    print_label_counts,
    print_unreadable,
    print_written,
    unreadable_entries,
    write_outputs,
)
from audiofsl.predict import output_files, plain, predictor_from
from audiofsl.runs.resume import register_resolvers

log = logging.getLogger(__name__)


def support_files(support) -> dict[str, list[str]]:
    """``{class: files}`` from ``support``: a folder of class sub-folders, or a mapping of
    class names to files and folders."""
    support = plain(support)
    if isinstance(support, dict):
        return {str(name): find_audio_files(sources, setting=f"support.{name}")
                for name, sources in support.items()}  # fmt: skip
    return support_classes(support, setting="support")


def print_assignments(console: Console, rows: Sequence[QueryAssignment], heading: str) -> None:
    """Each query's class and confidence, one line per file."""
    cells = [(row.path, [row.label, f"{100 * row.confidence:.1f} %"]) for row in rows]
    print_file_table(console, heading, ["class", "confidence"], cells)


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
    max_rows = check_max_rows(cfg.get("max_rows", 20))
    support = support_files(cfg.support)
    queries = find_audio_files(plain(cfg.queries), setting="queries")
    predictor = predictor_from(cfg)
    enrolment = predictor.enrol(support)
    log.info("enrolled %s (support files per class), %s distance",
             enrolment.counts, enrolment.distance)  # fmt: skip
    rows, failures = predictor.classify(queries)
    console = Console()
    heading = f"checkpoint: {display_path(predictor.checkpoint)}; {len(support)} classes enrolled"
    if max_rows is not None and len(rows) > max_rows:
        print_label_counts(console, heading, [[row.label] for row in rows], max_rows)
    else:
        print_assignments(console, rows, heading)
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
    print_written(console, f"classified {len(rows)} of {len(queries)} files", csv_path, json_path)
    return {"assignments": rows, "enrolment": enrolment,
            "unreadable": [*enrolment.failures, *failures],
            "csv": csv_path, "json": json_path}  # fmt: skip


register_resolvers()


@hydra.main(version_base="1.3", config_path="pkg://audiofsl.conf", config_name="enrol")
def main(cfg: DictConfig) -> None:
    run_enrol(cfg)


#: enrol's own settings; with encoder= and no run_dir=, the others are training settings
#: (see :func:`audiofsl.runs.pretrained.split_arguments`).
ENROL_KEYS = {
    "run_dir", "checkpoint", "support", "queries", "device", "batch_size", "max_rows",
    "output_file", "task_name", "pretrained",
}  # fmt: skip

if __name__ == "__main__":
    import sys

    from audiofsl.runs.cli import run_command
    from audiofsl.runs.pretrained import split_arguments

    sys.argv[1:] = split_arguments(sys.argv[1:], ENROL_KEYS, shared={"paths"})
    run_command(main, "enrol")
