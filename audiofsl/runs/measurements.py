"""A run's later measurements: ``RUN/eval_metrics.json``, one entry per kind of evaluation.

Each ``python -m audiofsl.eval`` adds its entry to the file instead of replacing it::

    {
      "episodes/best": {
        "metrics": {"test/acc": 0.71, "test/acc_ci95": 0.01},
        "checkpoint": {"kind": "best", "path": "RUN/checkpoints/best.ckpt"},
        "settings": [{"n_way": 5, "n_shot": 5, "n_query": 15, "n_tasks": 1000, "seed": 0}],
        "time": "2026-11-21T10:00:00"
      },
      "probe/best": {...},
      "probe/untrained": {...}
    }

The key is ``<mode>/<checkpoint>`` (mode: episodes, probe or finetune; checkpoint: best, last,
untrained, or the name of a checkpoint file given as ``run_dir``), followed for requested episode
settings by their tags (``episodes/best/5way1shot+5way5shot``). Measuring the same thing again
replaces its entry only. A file in the earlier format, which held one evaluation
(``{"checkpoint": ..., "test/acc": ...}``), is kept as the entry ``legacy``. An unreadable file
is moved aside (``eval_metrics.json.unreadable``) with a warning, never silently replaced.

Plain JSON, no Hydra or torch: :mod:`audiofsl.results` tabulates these measurements too
(:func:`find_metric`).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path

__all__ = [
    "EVAL_METRICS_FILE",
    "LEGACY_KEY",
    "find_metric",
    "measurement_key",
    "metric_keys",
    "read_measurements",
    "record_measurement",
]

log = logging.getLogger(__name__)

EVAL_METRICS_FILE = "eval_metrics.json"
#: The entry that keeps a file written in the earlier, single-evaluation format.
LEGACY_KEY = "legacy"


def measurement_key(
    mode: str,
    checkpoint: str,
    tags: Sequence[str] | None = None,
    scorer: Mapping[str, object] | None = None,
    split: str = "test",
) -> str:
    """``<mode>/<checkpoint>``, then ``/val`` for a measurement on the validation classes, then
    ``/<tag>+<tag>...`` for requested episode settings, then ``/<name>=<value>,...`` for changes
    to the run's scorer (e.g. ``transform=center_l2``)."""
    key = f"{mode}/{checkpoint}"
    if split != "test":
        key = f"{key}/{split}"
    if tags:
        key = f"{key}/{'+'.join(tags)}"
    if scorer:
        key = f"{key}/{','.join(f'{name}={value}' for name, value in sorted(scorer.items()))}"
    return key


def read_measurements(path: str | os.PathLike) -> dict[str, dict]:
    """The entries of a measurements file (``{}`` when there is none).

    Raises:
        ValueError: naming the file when it is not JSON or not an object of entries.
    """
    path = Path(path)
    if not path.is_file():
        return {}
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{path}: not a JSON file of measurements ({error}).") from error
    if not isinstance(content, dict):
        raise ValueError(f"{path}: expected a JSON object of measurements, got {content!r:.60}.")
    if any(not isinstance(entry, dict) for entry in content.values()):
        return {LEGACY_KEY: _legacy_entry(content)}
    return content


def record_measurement(path: str | os.PathLike, key: str, entry: dict) -> dict[str, dict]:
    """Add ``entry`` under ``key`` to the file at ``path`` (other entries kept); returns all.

    ``entry`` gets a ``time`` (ISO 8601, local time) unless it has one. The file is replaced in
    one step (written beside it, then renamed), so an interrupted write never leaves half a file.
    """
    path = Path(path)
    try:
        measurements = read_measurements(path)
    except ValueError as error:
        aside = path.with_name(path.name + ".unreadable")
        os.replace(path, aside)
        log.warning("%s; moved to %s, a new file is started", error, aside)
        measurements = {}
    measurements[key] = {**entry, "time": entry.get("time", _now())}
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(measurements, indent=2) + "\n", encoding="utf-8")
    os.replace(partial, path)
    return measurements


def find_metric(metrics: dict, measurements: dict[str, dict], key: str) -> float | None:
    """A run's value of ``key``: from its ``metrics.json`` or its measurements; None if absent.

    ``ENTRY:KEY`` reads ``KEY`` of one entry (``probe/untrained:probe/acc``). A plain key is
    looked up in ``metrics``, else in the entries of the best checkpoint, the newest first
    (``probe/acc``, ``finetune/acc``, requested episode settings such as ``test/5way1shot/acc``).
    """
    entry_key, qualified, name = key.rpartition(":")
    if qualified:
        return measurements.get(entry_key, {}).get("metrics", {}).get(name)
    if key in metrics:
        return metrics[key]
    found = [
        entry
        for entry in measurements.values()
        if entry.get("checkpoint", {}).get("kind") == "best" and key in entry.get("metrics", {})
    ]
    newest = max(found, key=lambda entry: str(entry.get("time", "")), default=None)
    return None if newest is None else newest["metrics"][key]


def metric_keys(metrics: dict, measurements: dict[str, dict]) -> set[str]:
    """The keys :func:`find_metric` finds: those of ``metrics``, and ``ENTRY:KEY`` of entries."""
    keys = set(metrics)
    for entry_key, entry in measurements.items():
        keys.update(f"{entry_key}:{name}" for name in entry.get("metrics", {}))
    return keys


def _legacy_entry(content: dict) -> dict:
    """An entry for a file of the earlier format: ``{"checkpoint": PATH, metric: value, ...}``."""
    checkpoint = str(content.get("checkpoint", ""))
    kind = "untrained" if Path(checkpoint).name == "config.yaml" else Path(checkpoint).stem
    return {
        "metrics": {name: value for name, value in content.items() if name != "checkpoint"},
        "checkpoint": {"kind": kind or "unknown", "path": checkpoint},
        "note": "written in the earlier format, which kept only the last evaluation; its mode "
        "and settings were not recorded",
    }


def _now() -> str:
    return datetime.now().isoformat(timespec="seconds")
