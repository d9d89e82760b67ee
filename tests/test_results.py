import json
import math
from pathlib import Path

import pytest

from audiofsl.evaluation.statistics import mean_ci_over_seeds
from audiofsl.results import main
from audiofsl.runs.results import collect_runs, summarize

#: Two-sided 95% quantiles of Student's t, t(0.975, df), from published tables.
T_975 = {1: 12.7062, 2: 4.3027, 3: 3.1824, 4: 2.7764, 9: 2.2622, 29: 2.0452}


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
    # sample std of (0.80, 0.84, 0.82) is 0.02; Student's t with 2 degrees of freedom
    assert by_task["proto"]["ci95_seeds"] == pytest.approx(T_975[2] * 0.02 / 3**0.5, rel=1e-4)
    assert by_task["proto"]["ci95_tasks"] == pytest.approx(0.01)
    assert by_task["proto"]["n"] == 3 and by_task["supervised"]["n"] == 1
    assert math.isnan(by_task["supervised"]["ci95_seeds"])  # one seed: no interval


def test_runs_of_different_settings_are_never_pooled(tmp_path: Path, capsys):
    for seed in (0, 1):
        write_run(tmp_path, f"long/{seed}", "proto", seed, 0.8 + seed / 100)
        write_run(tmp_path, f"debug/{seed}", "proto", seed, 0.4, shot=1, epochs=2)
    summary = summarize(collect_runs([tmp_path]))
    assert len(summary) == 2
    rows = {row["evaluation.test.0.n_shot"]: row for row in summary}
    assert rows["5"]["seeds"] == [0, 1] and rows["5"]["mean"] == pytest.approx(0.805)
    assert rows["1"]["trainer.max_epochs"] == "2" and rows["1"]["mean"] == pytest.approx(0.4)
    fixed = {"seeds", "folds", "n", "mean", "ci95_seeds", "ci95_tasks", "runs"}
    assert set(rows["5"]) - fixed == {
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


# ----------------------------------------------------------------- the interval over seeds
def reference_interval(values: list[float]) -> float:
    """t(0.975, n - 1) * sample std / sqrt(n), written out with the tabled quantile."""
    n = len(values)
    mean = sum(values) / n
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    return T_975[n - 1] * std / math.sqrt(n)


@pytest.mark.parametrize("n", [2, 3, 4, 5, 10, 30])
def test_seed_interval_is_students_t_with_n_minus_1_degrees_of_freedom(n):
    values = [0.7 + 0.013 * ((7 * i) % 5) - 0.004 * i for i in range(n)]
    mean, half_width = mean_ci_over_seeds(values)
    assert mean == pytest.approx(sum(values) / n)
    assert half_width == pytest.approx(reference_interval(values), rel=1e-4)


def test_two_seeds_give_a_wide_interval_and_one_seed_none():
    # the example of a user's report: 1.96 * sd / sqrt(2) said 0.26 points, t says 1.7
    _, half_width = mean_ci_over_seeds([0.7320, 0.7293])
    assert 100 * half_width == pytest.approx(1.715, abs=1e-3)
    mean, none = mean_ci_over_seeds([0.5])
    assert mean == 0.5 and math.isnan(none)
    for bad in ([], [0.5, float("nan")], [[0.5, 0.6]]):
        with pytest.raises(ValueError, match="mean_ci_over_seeds"):
            mean_ci_over_seeds(bad)
    with pytest.raises(ValueError, match="confidence"):
        mean_ci_over_seeds([0.5, 0.6], confidence=95)


def test_the_table_shows_n_and_the_t_interval_and_n_a_for_one_seed(tmp_path: Path, capsys):
    write_run(tmp_path, "two/0", "proto", 0, 0.7320)
    write_run(tmp_path, "two/1", "proto", 1, 0.7293)
    write_run(tmp_path, "one/0", "supervised", 0, 0.5)
    main([str(tmp_path), "--group-by", "task_name"])
    lines = capsys.readouterr().out.splitlines()
    proto = next(line for line in lines if "proto" in line)
    supervised = next(line for line in lines if "supervised" in line)
    cells = [cell.strip() for cell in proto.split("│") if cell.strip()]
    assert cells == ["proto", "0, 1", "2", "73.06", "1.72", "1.00"]  # n = 2, +- 1.72 (not 0.26)
    assert [cell.strip() for cell in supervised.split("│") if cell.strip()][2:5] == [
        "1", "50.00", "n/a"
    ]  # fmt: skip


def test_runs_repeating_a_seed_count_once(tmp_path: Path, capsys):
    for name, seed, acc in (("a", 0, 0.80), ("b", 0, 0.90), ("c", 1, 0.70)):
        write_run(tmp_path, name, "proto", seed, acc)
    (row,) = summarize(collect_runs([tmp_path]))
    assert row["seeds"] == [0, 1] and row["n"] == 2 and len(row["runs"]) == 3
    per_seed = [(0.80 + 0.90) / 2, 0.70]  # seed 0's runs averaged into one value
    assert row["mean"] == pytest.approx(sum(per_seed) / 2)
    assert row["ci95_seeds"] == pytest.approx(reference_interval(per_seed), rel=1e-4)
    main([str(tmp_path)])
    printed = " ".join(capsys.readouterr().out.split())
    assert "averaged into one value for that seed" in printed


def test_folds_of_one_seed_are_replicates_not_repeats(tmp_path: Path):
    for fold, acc in ((1, 0.70), (2, 0.80)):
        run = tmp_path / f"fold{fold}"
        run.mkdir()
        (run / "config.yaml").write_text(
            f"task_name: us8k\nseed: 0\ndata:\n  split:\n    test_folds: [{fold}]\n"
        )
        (run / "metrics.json").write_text(json.dumps({"test/acc": acc}))
    (row,) = summarize(collect_runs([tmp_path]))
    assert row["n"] == 2 and row["ci95_seeds"] == pytest.approx(
        reference_interval([0.70, 0.80]), rel=1e-4
    )
    assert math.isnan(row["ci95_tasks"])  # no interval over tasks stored


# ----------------------------------------------------------------- the command line
def test_help_names_the_metric_keys_and_the_options(capsys):
    with pytest.raises(SystemExit) as stopped:
        main(["--help"])
    assert stopped.value.code == 0
    printed = " ".join(capsys.readouterr().out.split())
    for text in (
        "--metric",
        "test/acc",
        "val/acc",
        "test/<tag>/acc",
        "test/5way1shot/acc",
        "probe/acc",
        "probe/untrained:probe/acc",
        "--group-by",
        "roots",
        "Student",
    ):
        assert text in printed  # fmt: skip


def test_measurements_of_eval_can_be_tabulated(tmp_path: Path, capsys):
    for seed, (trained, untrained) in enumerate(((0.70, 0.30), (0.74, 0.34))):
        write_run(tmp_path, f"r{seed}", "proto", seed, 0.8)
        entries = {
            f"probe/{kind}": {
                "metrics": {"probe/acc": acc, "probe/acc_ci95": 0.02},
                "checkpoint": {"kind": kind, "path": "x"},
                "time": "2026-01-01T00:00:00",
            }
            for kind, acc in (("best", trained), ("untrained", untrained))
        }
        (tmp_path / f"r{seed}" / "eval_metrics.json").write_text(json.dumps(entries))
    runs = collect_runs([tmp_path])
    (best,) = summarize(runs, "probe/acc")
    assert best["mean"] == pytest.approx(0.72) and best["ci95_tasks"] == pytest.approx(0.02)
    (untrained,) = summarize(runs, "probe/untrained:probe/acc")
    assert untrained["mean"] == pytest.approx(0.32) and untrained["n"] == 2
    with pytest.raises(SystemExit) as stopped:
        main([str(tmp_path), "--metric", "probe/last:probe/acc"])
    assert stopped.value.code == 1
    message = capsys.readouterr().err
    assert "probe/last:probe/acc" in message and "probe/untrained:probe/acc" in message


def test_an_earlier_eval_metrics_file_is_read_as_a_legacy_entry(tmp_path: Path):
    write_run(tmp_path, "r", "proto", 0, 0.8)
    legacy = {"checkpoint": str(tmp_path / "r/checkpoints/best.ckpt"), "probe/acc": 0.6}
    (tmp_path / "r" / "eval_metrics.json").write_text(json.dumps(legacy))
    (row,) = summarize(collect_runs([tmp_path]), "legacy:probe/acc")
    assert row["mean"] == pytest.approx(0.6)
    (tmp_path / "r" / "eval_metrics.json").write_text("{not json")
    (row,) = summarize(collect_runs([tmp_path]))  # a broken file leaves out its entries only
    assert row["mean"] == pytest.approx(0.8)


def test_a_setting_added_after_a_run_counts_as_its_one_value_there(tmp_path: Path):
    write_run(tmp_path, "old", "proto", 0, 0.80)  # made before trainer.precision existed
    for seed, acc in ((1, 0.84), (2, 0.82)):
        write_run(tmp_path, f"new/{seed}", "proto", seed, acc)
        config = tmp_path / f"new/{seed}" / "config.yaml"
        config.write_text(config.read_text().replace("trainer:\n", "trainer:\n  precision: 32\n"))
    (summary,) = summarize(collect_runs([tmp_path]))
    assert summary["n"] == 3 and summary["mean"] == pytest.approx(0.82)

    # Two values among the runs that have it: the older run's value is unknown, so it stays apart.
    write_run(tmp_path, "other/3", "proto", 3, 0.70)
    config = tmp_path / "other/3" / "config.yaml"
    config.write_text(config.read_text().replace("trainer:\n", "trainer:\n  precision: 16\n"))
    assert sorted(row["n"] for row in summarize(collect_runs([tmp_path]))) == [1, 1, 2]


def test_a_missing_section_is_not_filled_in(tmp_path: Path):
    write_run(tmp_path, "one", "proto", 0, 0.80)
    write_run(tmp_path, "two", "proto", 1, 0.84)
    config = tmp_path / "two" / "config.yaml"
    config.write_text(config.read_text() + "  - n_shot: 1\n    seed: 1\n")  # a second setting
    assert sorted(row["n"] for row in summarize(collect_runs([tmp_path]))) == [1, 1]
