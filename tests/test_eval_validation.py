"""``python -m audiofsl.eval run_dir=RUN split=val``: a run measured on its validation classes."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from test_entry_points import TINY

from audiofsl.eval import run_evaluation
from audiofsl.runs.measurements import read_measurements
from audiofsl.train import run_training

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning", "ignore::FutureWarning")


def test_an_unknown_split_is_named(compose_config, tmp_path):
    cfg = compose_config("eval", [f"run_dir={tmp_path}", "split=train"])
    with pytest.raises(ValueError, match=r"split='train'.*\('test', 'val'\)"):
        run_evaluation(cfg)


def test_validation_episodes_are_refused_outside_episodes(compose_config, tmp_path):
    cfg = compose_config("eval", [f"run_dir={tmp_path}", "mode=probe", "split=val"])
    with pytest.raises(ValueError, match="split=val applies to mode=episodes, not mode=probe"):
        run_evaluation(cfg)


@pytest.mark.slow
def test_the_last_checkpoint_on_val_repeats_the_runs_last_validation(compose_config, tmp_path):
    train_cfg = compose_config("train", TINY, tmp_path / "data")
    run_training(train_cfg)
    run_dir = Path(train_cfg.paths.output_dir)
    logged = json.loads((run_dir / "metrics.json").read_text())

    run_evaluation(compose_config("eval", [f"run_dir={run_dir}", "checkpoint=last", "split=val"]))
    more_tasks = "episodes=[{n_tasks: 400}]"
    for scorer in ([], ["+scorer.transform=center_l2"]):
        overrides = [f"run_dir={run_dir}", "checkpoint=last", "split=val", more_tasks, *scorer]
        run_evaluation(compose_config("eval", overrides))
    measured = read_measurements(run_dir / "eval_metrics.json")
    plain = measured["episodes/last/val"]
    assert plain["split"] == "val"
    assert plain["settings"][0]["n_tasks"] == train_cfg.evaluation.val.n_tasks
    # The same weights, training mean and seeded validation tasks as the run's last epoch.
    assert plain["metrics"]["val/acc"] == pytest.approx(logged["val/acc"], abs=1e-6)
    assert not any(name.startswith("test") for name in plain["metrics"])
    tag = plain["settings"][0]["n_way"], plain["settings"][0]["n_shot"]
    requested = measured["episodes/last/val/{}way{}shot".format(*tag)]
    simpleshot = measured["episodes/last/val/{}way{}shot/transform=center_l2".format(*tag)]
    assert requested["settings"][0]["n_tasks"] == 400
    # A different scoring of the same validation tasks.
    assert simpleshot["metrics"]["val/acc"] != pytest.approx(requested["metrics"]["val/acc"])


def logged_val_accuracies(run_dir: Path) -> list[float]:
    """``val/acc`` of every validation epoch, in order, from the run's CSV log."""
    rows = [row for path in sorted((run_dir / "csv").rglob("metrics.csv"))
            for row in csv.DictReader(path.open())]  # fmt: skip
    return [float(row["val/acc"]) for row in rows if row.get("val/acc")]


@pytest.mark.slow
def test_per_epoch_validation_scores_new_tasks_with_the_same_weights(compose_config, tmp_path):
    accuracies = {}
    for rule in ("fixed", "per_epoch"):
        overrides = [*TINY, f"evaluation.val_tasks={rule}", "evaluation.val.n_tasks=200"]
        cfg = compose_config("train", overrides, tmp_path / "data")
        run_training(cfg)
        run_dir = Path(cfg.paths.output_dir)
        accuracies[rule] = logged_val_accuracies(run_dir)
        run_dir.rename(tmp_path / rule)
    assert len(accuracies["fixed"]) == len(accuracies["per_epoch"]) == 2
    # Validation does not touch training: epoch 0 draws from val.seed under both rules.
    assert accuracies["per_epoch"][0] == pytest.approx(accuracies["fixed"][0])
    assert accuracies["per_epoch"][1] != pytest.approx(accuracies["fixed"][1])
