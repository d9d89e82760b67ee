"""Every evaluation of a run is kept: ``eval_metrics.json`` gains one entry per measurement."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from test_entry_points import TINY

from audiofsl.eval import run_evaluation
from audiofsl.runs.measurements import LEGACY_KEY, read_measurements, record_measurement
from audiofsl.train import run_training

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning", "ignore::FutureWarning")


def test_entries_are_added_and_replaced_one_by_one(tmp_path: Path):
    path = tmp_path / "eval_metrics.json"
    record_measurement(path, "episodes/best", {"metrics": {"test/acc": 0.5}})
    record_measurement(path, "probe/best", {"metrics": {"probe/acc": 0.6}})
    record_measurement(path, "episodes/best", {"metrics": {"test/acc": 0.7}})
    written = json.loads(path.read_text())
    assert list(written) == ["episodes/best", "probe/best"]
    assert written["episodes/best"]["metrics"] == {"test/acc": 0.7}
    assert written["probe/best"]["metrics"] == {"probe/acc": 0.6}
    assert all(entry["time"][:2] == "20" for entry in written.values())
    assert not list(tmp_path.glob("*.partial"))


def test_a_file_of_the_earlier_format_is_kept_as_a_legacy_entry(tmp_path: Path):
    path = tmp_path / "eval_metrics.json"
    old = {"checkpoint": "RUN/config.yaml", "probe/acc": 0.25, "probe/acc_ci95": 0.03}
    path.write_text(json.dumps(old))
    record_measurement(path, "probe/best", {"metrics": {"probe/acc": 0.6}})
    written = read_measurements(path)
    assert set(written) == {LEGACY_KEY, "probe/best"}
    assert written[LEGACY_KEY]["metrics"] == {"probe/acc": 0.25, "probe/acc_ci95": 0.03}
    assert written[LEGACY_KEY]["checkpoint"] == {"kind": "untrained", "path": "RUN/config.yaml"}


@pytest.mark.parametrize("content", ["{broken", "[1, 2]"])
def test_an_unreadable_file_is_moved_aside_and_named(tmp_path: Path, caplog, content):
    path = tmp_path / "eval_metrics.json"
    path.write_text(content)
    with pytest.raises(ValueError, match="eval_metrics.json"):
        read_measurements(path)
    with caplog.at_level(logging.WARNING):
        record_measurement(path, "probe/best", {"metrics": {"probe/acc": 0.6}})
    aside = tmp_path / "eval_metrics.json.unreadable"
    assert aside.read_text() == content and str(aside) in caplog.text
    assert list(read_measurements(path)) == ["probe/best"]


@pytest.mark.slow
def test_episodes_probe_and_untrained_evaluations_are_all_kept(compose_config, tmp_path):
    train_cfg = compose_config("train", TINY, tmp_path / "data")
    trained = run_training(train_cfg)
    run_dir = Path(train_cfg.paths.output_dir)
    measurements = run_dir / "eval_metrics.json"
    measurements.write_text(json.dumps({"checkpoint": "old.ckpt", "test/acc": 0.1}))
    for extra in ([], ["mode=probe"], ["mode=probe", "checkpoint=untrained"],
                  ["episodes=[{n_shot: 2}]"]):  # fmt: skip
        run_evaluation(compose_config("eval", [f"run_dir={run_dir}", *extra]))
    written = read_measurements(measurements)
    assert set(written) == {
        LEGACY_KEY, "episodes/best", "probe/best", "probe/untrained", "episodes/best/5way2shot"
    }  # fmt: skip
    episodes = written["episodes/best"]
    assert episodes["metrics"]["test/acc"] == pytest.approx(trained["test/acc"], abs=1e-6)
    assert episodes["checkpoint"]["kind"] == "best"
    assert Path(episodes["checkpoint"]["path"]).name.endswith(".ckpt")
    assert [s["n_shot"] for s in episodes["settings"]] == [1]  # the run's test setting (debug)
    assert written["episodes/best/5way2shot"]["settings"][0]["n_shot"] == 2
    untrained = written["probe/untrained"]
    assert untrained["checkpoint"] == {"kind": "untrained", "path": str(run_dir / "config.yaml")}
    assert untrained["settings"]["l2"] == pytest.approx(0.001)
    assert "probe/acc" in untrained["metrics"] and "probe/acc" in written["probe/best"]["metrics"]
    assert written["probe/best"]["metrics"] != untrained["metrics"]
    assert written[LEGACY_KEY]["metrics"] == {"test/acc": 0.1}

    elsewhere = tmp_path / "elsewhere" / "probe.json"
    overrides = [f"run_dir={run_dir}", "mode=probe", f"output_file={elsewhere}"]
    run_evaluation(compose_config("eval", overrides))
    assert list(read_measurements(elsewhere)) == ["probe/best"]
    assert read_measurements(measurements) == written  # the run's file is left alone
