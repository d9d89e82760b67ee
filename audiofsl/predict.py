"""Classify your audio files with a trained run's classifier: ``python -m audiofsl.predict``.

Every file (any length, format and sample rate libsndfile reads) is cut into the run's windows;
the classifier's window probabilities are combined per file (``combine``) and the ``top_k``
classes are printed as a table and written as CSV and JSON (default ``RUN/predictions.csv`` and
``.json``). Files that cannot be decoded are listed at the end; they do not stop the others.
The run's method needs a classifier over its training classes (e.g. a supervised run); any run
can name new classes from a few examples with ``python -m audiofsl.enrol``.

Examples::

    python -m audiofsl.predict run_dir=outputs/synthetic_supervised/2026-11-21_10-00-00 \\
        audio=/path/to/recordings
    python -m audiofsl.predict run_dir=RUN 'audio=[a.wav,b.flac]' top_k=5
    python -m audiofsl.predict run_dir=RUN audio=clips/ 'class_names=[dog,rain,bell]'
"""

from __future__ import annotations

import csv
import json
import logging
from collections.abc import Sequence
from pathlib import Path

import hydra
from omegaconf import DictConfig, OmegaConf
from rich.console import Console
from rich.table import Table

from audiofsl.audio_files import find_audio_files
from audiofsl.data.audio_io import display_path
from audiofsl.inference import FilePrediction, Predictor, load_model
from audiofsl.resume import register_resolvers

log = logging.getLogger(__name__)


# ----------------------------------------------------------------- shared by the entry points
def plain(value):
    """A config value as plain Python (lists, dicts, strings)."""
    return OmegaConf.to_container(value, resolve=True) if OmegaConf.is_config(value) else value


def run_directory(run_dir: str | Path) -> Path:
    """The run directory of ``run_dir`` (itself, or the one holding a checkpoint file)."""
    path = Path(run_dir)
    if not path.is_file():
        return path
    return path.parent.parent if path.parent.name == "checkpoints" else path.parent


def output_files(cfg: DictConfig, default_name: str) -> tuple[Path, Path]:
    """The CSV to write (``output_file``, default ``RUN/<default_name>.csv``) and its JSON."""
    csv_path = Path(cfg.output_file) if cfg.get("output_file") else None
    if csv_path is None:
        csv_path = run_directory(cfg.run_dir) / f"{default_name}.csv"
    return csv_path, csv_path.with_suffix(".json")


def predictor_from(cfg: DictConfig) -> Predictor:
    """The run of ``cfg.run_dir`` with the entry point's device and batch settings."""
    device = cfg.get("device", "auto")
    names = plain(cfg.get("class_names"))
    if isinstance(names, str):  # a text file with one class name per line
        if not Path(names).is_file():
            raise FileNotFoundError(f"class_names={names}: no such file (one name per line).")
        names = [line.strip() for line in Path(names).read_text().splitlines() if line.strip()]
    return load_model(
        cfg.run_dir,
        cfg.get("checkpoint", "best"),
        device=None if device == "auto" else device,
        batch_size=cfg.get("batch_size"),
        class_names=names,
        data=plain(cfg.get("data")) or None,
    )


def write_outputs(csv_path: Path, rows: list[dict], json_path: Path, content: dict) -> None:
    """``rows`` as CSV (columns: the first row's keys) and ``content`` as JSON."""
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    with csv_path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]) if rows else ["path"])
        writer.writeheader()
        writer.writerows(rows)
    json_path.write_text(json.dumps(content, indent=2, ensure_ascii=False) + "\n")
    log.info("written: %s and %s", csv_path, json_path)


def unreadable_entries(failures: Sequence[tuple[str, str]]) -> list[dict]:
    """``[{"path", "reason"}]`` of the files that could not be used."""
    return [{"path": display_path(path), "reason": reason} for path, reason in failures]


def print_unreadable(console: Console, failures: Sequence[tuple[str, str]], what: str) -> None:
    """List the files that could not be used (not an error: the others were processed)."""
    if not failures:
        return
    console.print(f"[yellow]{what} that could not be used ({len(failures)}):[/yellow]")
    for path, reason in failures:
        console.print(f"  {display_path(path)}: {reason}", markup=False, highlight=False)
    log.warning("%s that could not be used: %d (listed above)", what, len(failures))


# ----------------------------------------------------------------- predictions
def prediction_table(rows: Sequence[FilePrediction], title: str, multi_label: bool) -> Table:
    """A rich table: each file's predicted labels and its top classes with probabilities."""
    table = Table(title=title)
    table.add_column("file", overflow="fold")
    if multi_label:
        table.add_column("labels over the threshold")
    width = max((len(row.top) for row in rows), default=0)
    for rank in range(1, width + 1):
        table.add_column(f"top {rank}")
    for row in rows:
        labels = [", ".join(row.labels) or "-"] if multi_label else []
        top = [f"{name} {100 * p:.1f} %" for name, p in row.top]
        table.add_row(display_path(row.path), *labels, *top)
    return table


def prediction_records(rows: Sequence[FilePrediction]) -> list[dict]:
    """CSV rows: ``path, predicted`` (labels joined by ';'), then ``label_k, probability_k``."""
    records = []
    for row in rows:
        record = {"path": display_path(row.path), "predicted": ";".join(row.labels)}
        for rank, (name, probability) in enumerate(row.top, start=1):
            record[f"label_{rank}"] = name
            record[f"probability_{rank}"] = round(probability, 6)
        records.append(record)
    return records


def run_predict(cfg: DictConfig) -> dict:
    """Predict the classes of ``cfg.audio`` with ``cfg.run_dir``'s classifier; print and write
    them (see the module's docstring).

    Returns:
        ``predictions`` (:class:`FilePrediction` rows), ``unreadable`` (``(path, reason)``),
        and the written ``csv`` and ``json`` paths.
    """
    paths = find_audio_files(plain(cfg.audio), setting="audio")
    predictor = predictor_from(cfg)
    rows, failures = predictor.predict_files(paths, top_k=cfg.top_k, combine=cfg.combine)
    console = Console()
    multi_label = predictor.threshold is not None
    console.print(prediction_table(rows, f"{predictor.checkpoint}", multi_label))
    csv_path, json_path = output_files(cfg, "predictions")
    content = {
        "checkpoint": str(predictor.checkpoint),
        "combine": cfg.combine,
        "predictions": [
            {"path": display_path(row.path), "labels": row.labels,
             "top": [{"label": name, "probability": p} for name, p in row.top]}
            for row in rows
        ],
        "unreadable": unreadable_entries(failures),
    }  # fmt: skip
    write_outputs(csv_path, prediction_records(rows), json_path, content)
    print_unreadable(console, failures, "files")
    console.print(f"predicted {len(rows)} of {len(paths)} files: {csv_path}, {json_path}")
    return {"predictions": rows, "unreadable": failures, "csv": csv_path, "json": json_path}


register_resolvers()


@hydra.main(version_base="1.3", config_path="pkg://audiofsl.conf", config_name="predict")
def main(cfg: DictConfig) -> None:
    run_predict(cfg)


if __name__ == "__main__":
    main()
