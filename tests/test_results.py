import json
from pathlib import Path

import pytest

from audiofsl.results import collect_runs, main, summarize


def write_run(
    root: Path, name: str, task: str, seed: int, acc: float, shot: int = 5, epochs: int = 5
) -> None:
    run = root / name
    run.mkdir(parents=True)
    (run / "config.yaml").write_text(
        f"task_name: {task}\nseed: {seed}\nmethod:\n  _target_: audiofsl.methods.ProtoNet\n"
        f"data:\n  seed: {seed}\n  root: /data\npaths:\n  output_dir: {run}\n"
        f"trainer:\n  max_epochs: {epochs}\n  default_root_dir: {run}\n"
        f"evaluation:\n  test:\n  - n_shot: {shot}\n    seed: 1\n"
    )
    metrics = {"test/acc": acc, "test/acc_ci95": 0.01, "val/acc": acc}
    (run / "metrics.json").write_text(json.dumps(metrics))


def test_runs_that_differ_by_seed_are_summarised_together(tmp_path: Path):
    for seed, acc in enumerate((0.80, 0.84, 0.82)):
        write_run(tmp_path, f"a/{seed}", "proto", seed, acc)
    write_run(tmp_path, "b/0", "supervised", 0, 0.9)
    (tmp_path / "incomplete").mkdir()
    (tmp_path / "incomplete" / "metrics.json").write_text("{}")  # no config: ignored

    rows = collect_runs([tmp_path])
    assert len(rows) == 4
    summary = summarize(rows, group_by=("task_name",))
    by_task = {row["task_name"]: row for row in summary}
    assert by_task["proto"]["seeds"] == [0, 1, 2]
    assert by_task["proto"]["mean"] == pytest.approx(0.82)
    # sample std of (0.80, 0.84, 0.82) is 0.02
    assert by_task["proto"]["ci95_seeds"] == pytest.approx(1.96 * 0.02 / 3**0.5)
    assert by_task["proto"]["ci95_tasks"] == pytest.approx(0.01)
    assert by_task["supervised"]["ci95_seeds"] == 0.0


def test_runs_of_different_settings_are_never_pooled(tmp_path: Path, capsys):
    for seed in (0, 1):
        write_run(tmp_path, f"long/{seed}", "proto", seed, 0.8 + seed / 100)
        write_run(tmp_path, f"debug/{seed}", "proto", seed, 0.4, shot=1, epochs=2)
    summary = summarize(collect_runs([tmp_path]))
    assert len(summary) == 2
    rows = {row["evaluation.test.0.n_shot"]: row for row in summary}
    assert rows["5"]["seeds"] == [0, 1] and rows["5"]["mean"] == pytest.approx(0.805)
    assert rows["1"]["trainer.max_epochs"] == "2" and rows["1"]["mean"] == pytest.approx(0.4)
    assert set(rows["5"]) - {"seeds", "folds", "mean", "ci95_seeds", "ci95_tasks", "runs"} == {
        "evaluation.test.0.n_shot",
        "trainer.max_epochs",
    }  # seeds, paths and output folders do not split groups
    main([str(tmp_path)])
    printed = capsys.readouterr().out
    assert "max_epochs" in printed and "80.50" in printed


def test_command_line_prints_a_table_and_fails_without_runs(tmp_path: Path, capsys):
    write_run(tmp_path, "r", "proto", 0, 0.5)
    main([str(tmp_path)])
    assert "50.00" in capsys.readouterr().out
    with pytest.raises(SystemExit) as stopped:
        main([str(tmp_path / "nothing")])
    assert stopped.value.code == 1


def test_cross_validation_folds_are_pooled_like_seeds(tmp_path: Path, capsys):
    for fold, acc in zip((1, 2, 3), (0.70, 0.80, 0.75), strict=True):
        run = tmp_path / f"fold{fold}"
        run.mkdir()
        (run / "config.yaml").write_text(
            f"task_name: us8k\nseed: 0\ndata:\n  split:\n    test_folds: [{fold}]\n"
        )
        (run / "metrics.json").write_text(json.dumps({"test/acc": acc, "test/acc_ci95": 0.02}))
    (row,) = summarize(collect_runs([tmp_path]))
    assert row["folds"] == ["[1]", "[2]", "[3]"] and row["mean"] == pytest.approx(0.75)
    main([str(tmp_path)])
    assert "[1] [2] [3]" in capsys.readouterr().out
