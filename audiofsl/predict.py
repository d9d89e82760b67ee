"""Classify your audio files with a trained run's classifier: ``python -m audiofsl.predict``.

Every file (any length, format and sample rate libsndfile reads) is cut into the run's windows;
the classifier's window probabilities are combined per file (``combine``) and the ``top_k``
classes are printed as a table and written as CSV and JSON. Each call writes new files,
``RUN/predictions/<time>.csv`` and ``.json`` (e.g. ``2026-11-21_10-00-00.csv``; ``_2`` is added
for a second call within one second), so earlier predictions are kept; ``output_file=`` names
the CSV instead. The table shows each file relative to the folder holding them all, one line per
file; beyond ``max_rows`` files (default 20) it counts the files per predicted class instead,
and the CSV has every row (``max_rows=null`` lists every file). Files that cannot be decoded are
listed at the end; they do not stop the others.

The run's method needs a classifier over its training classes (e.g. a supervised run); any run
can name new classes from a few examples with ``python -m audiofsl.enrol``. When ``audio`` is a
folder of class folders (``root/<class>/<clip>.wav``) of which the run knows only some, a
warning names the classes it does not know: their files can only get one of the run's classes.

Examples::

    python -m audiofsl.predict run_dir=outputs/synthetic_supervised/2026-11-21_10-00-00 \\
        audio=/path/to/recordings
    python -m audiofsl.predict run_dir=RUN 'audio=[a.wav,b.flac]' top_k=5
    python -m audiofsl.predict run_dir=RUN audio=clips/ 'class_names=[dog,rain,bell]'
    python -m audiofsl.predict run_dir=RUN audio=clips/ max_rows=null output_file=clips.csv
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

import hydra
from omegaconf import DictConfig, OmegaConf, open_dict
from rich.console import Console

from audiofsl.data.audio_io import display_path
from audiofsl.inference import FilePrediction, Predictor, load_model
from audiofsl.inference.audio_files import class_folder_names, find_audio_files
from audiofsl.inference.outputs import (
    check_max_rows,
    kept_output_files,
    print_file_table,
    print_label_counts,
    print_unreadable,
    print_written,
    unreadable_entries,
    write_outputs,
)
from audiofsl.runs.pretrained import PRETRAINED_CHECKPOINT, pretrained_run
from audiofsl.runs.resume import register_resolvers

log = logging.getLogger(__name__)

#: The command that trains a classifier on every class folder of ``{root}``.
_TRAIN_EVERY_CLASS = (
    "python -m audiofsl.train +experiment=synthetic_supervised data=folder data.root={root} "
    "data/split=clips"
)


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


def output_files(cfg: DictConfig, kind: str) -> tuple[Path, Path]:
    """The CSV to write and its JSON: ``output_file`` when given, else new files
    ``RUN/<kind>/<time>.csv`` and ``.json`` beside the earlier ones (see
    :func:`~audiofsl.inference.outputs.kept_output_files`)."""
    if cfg.get("output_file"):
        csv_path = Path(cfg.output_file)
        return csv_path, csv_path.with_suffix(".json")
    return kept_output_files(run_directory(cfg.run_dir) / kind)


def predictor_from(cfg: DictConfig) -> Predictor:
    """The run of ``cfg.run_dir`` with the entry point's device and batch settings; or, with
    ``cfg.pretrained`` (training settings naming a pretrained encoder), a model built with no
    training, written into this command's output folder (which becomes ``cfg.run_dir``)."""
    device = cfg.get("device", "auto")
    device = None if device == "auto" else device
    if cfg.get("pretrained"):
        output_dir = str(cfg.paths.output_dir)
        with open_dict(cfg):
            cfg.run_dir, cfg.checkpoint = output_dir, PRETRAINED_CHECKPOINT
        config, method, path = pretrained_run(list(cfg.pretrained), output_dir)
        return Predictor(config, method, path, device, cfg.get("batch_size"))
    if cfg.get("run_dir") is None:
        raise ValueError(
            "run_dir=RUN (a trained run) or encoder=NAME (a pretrained encoder used with no "
            "training, e.g. encoder=cnn14) is required."
        )
    names = plain(cfg.get("class_names"))
    if isinstance(names, str):  # a text file with one class name per line
        if not Path(names).is_file():
            raise FileNotFoundError(f"class_names={names}: no such file (one name per line).")
        names = [line.strip() for line in Path(names).read_text().splitlines() if line.strip()]
    return load_model(
        cfg.run_dir,
        cfg.get("checkpoint", "best"),
        device=device,
        batch_size=cfg.get("batch_size"),
        class_names=names,
    )


# ----------------------------------------------------------------- predictions
def print_predictions(
    console: Console, rows: Sequence[FilePrediction], heading: str, multi_label: bool
) -> None:
    """Each file's predicted labels and top classes, one line per file (paths relative to the
    files' common folder, shortened in the middle to fit the console)."""
    top_k = max((len(row.top) for row in rows), default=0)
    headers = [*(["labels over the threshold"] * multi_label),
               *(f"top {rank}" for rank in range(1, top_k + 1))]  # fmt: skip
    cells = []
    for row in rows:
        labels = [", ".join(row.labels) or "-"] if multi_label else []
        top = [f"{name} {100 * p:.1f} %" for name, p in row.top]
        cells.append((row.path, [*labels, *top, *[""] * (top_k - len(top))]))
    print_file_table(console, heading, headers, cells)


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


def classes_the_run_lacks(sources, run_classes: Sequence[str]) -> dict[str, list[str]]:
    """``{folder: classes}``: the class folders of ``sources`` unknown to a run that knows
    some of the folder's classes (a folder whose classes are all unknown is not read as
    labelled by class, and gives none)."""
    sources = [sources] if isinstance(sources, str | os.PathLike) else sources
    known = set(run_classes)
    lacking = {}
    for source in sources:
        classes = class_folder_names(source)
        unknown = [name for name in classes if name not in known]
        if unknown and len(unknown) < len(classes):
            lacking[display_path(source)] = unknown
    return lacking


def warn_about_unknown_classes(lacking: dict[str, list[str]], run_classes: Sequence[str]) -> None:
    """A warning per folder of :func:`classes_the_run_lacks`, saying how to train on all."""
    for folder, unknown in lacking.items():
        log.warning(
            "audio: %s has class folders this run's classifier was not trained on: %s. Their "
            "files can only be given one of the run's %d classes (%s). To classify every class, "
            "train a classifier on all of %s's class folders, e.g.\n  %s",
            folder, _listed(unknown), len(run_classes), _listed(run_classes), folder,
            _TRAIN_EVERY_CLASS.format(root=folder),
        )  # fmt: skip


def _listed(names: Sequence[str], limit: int = 12) -> str:
    """``a, b, c``; beyond ``limit`` names the first ones and how many more."""
    shown = ", ".join(names[:limit])
    return shown if len(names) <= limit else f"{shown} and {len(names) - limit} more"


def run_predict(cfg: DictConfig) -> dict:
    """Predict the classes of ``cfg.audio`` with ``cfg.run_dir``'s classifier; print and write
    them (see the module's docstring).

    Returns:
        ``predictions`` (:class:`FilePrediction` rows), ``unreadable`` (``(path, reason)``),
        ``unknown_classes`` (``{folder: class folders the run does not know}``), and the
        written ``csv`` and ``json`` paths.
    """
    max_rows = check_max_rows(cfg.get("max_rows", 20))
    paths = find_audio_files(plain(cfg.audio), setting="audio")
    predictor = predictor_from(cfg)
    rows, failures = predictor.predict_files(paths, top_k=cfg.top_k, combine=cfg.combine)
    console = Console()
    heading = f"checkpoint: {display_path(predictor.checkpoint)}"
    if max_rows is not None and len(rows) > max_rows:
        print_label_counts(console, heading, [row.labels for row in rows], max_rows)
    else:
        multi_label = predictor.classes.threshold is not None
        print_predictions(console, rows, heading, multi_label=multi_label)
    csv_path, json_path = output_files(cfg, "predictions")
    content = {
        "checkpoint": str(predictor.checkpoint),
        "audio": plain(cfg.audio),
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
    lacking = classes_the_run_lacks(plain(cfg.audio), predictor.class_names) if rows else {}
    warn_about_unknown_classes(lacking, predictor.class_names)
    print_written(console, f"predicted {len(rows)} of {len(paths)} files", csv_path, json_path)
    return {"predictions": rows, "unreadable": failures, "unknown_classes": lacking,
            "csv": csv_path, "json": json_path}  # fmt: skip


register_resolvers()


@hydra.main(version_base="1.3", config_path="pkg://audiofsl.conf", config_name="predict")
def main(cfg: DictConfig) -> None:
    run_predict(cfg)


if __name__ == "__main__":
    from audiofsl.runs.cli import run_command

    run_command(main, "predict")
