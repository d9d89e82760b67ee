"""Training runs of 2 CPU processes (Lightning's DDP over gloo, ``trainer=ddp_cpu``)."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from test_entry_points import TINY

HELPERS = Path(__file__).resolve().parent / "helpers"
DDP = ["trainer=ddp_cpu", "callbacks.progress_bar=null"]


def command(module: str, *overrides: str) -> list[str]:
    return [sys.executable, "-m", f"audiofsl.{module}", *overrides]


def run(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(HELPERS), "OMP_NUM_THREADS": "1"}
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)


def read(path: Path) -> dict:
    return json.loads(path.read_text())


def assert_eval_reproduces(run_dir: Path, cwd: Path) -> None:
    """``eval`` in one process on the run's best checkpoint gives the 2-process test metrics."""
    evaluated = run(command("eval", f"run_dir={run_dir}"), cwd)
    assert evaluated.returncode == 0, evaluated.stderr[-3000:]
    trained = {k: v for k, v in read(run_dir / "metrics.json").items() if k.startswith("test/")}
    again = read(run_dir / "eval_metrics.json")["episodes/best"]["metrics"]
    assert again.keys() == trained.keys()
    for key, value in trained.items():
        assert again[key] == pytest.approx(value, abs=1e-6), key


@pytest.mark.slow
def test_a_two_process_protonet_sweep_writes_one_directory_per_run(tmp_path: Path) -> None:
    settings = [
        *TINY, *DDP, "sampler.n_episodes=20", "trainer.limit_train_batches=null",
        f"paths.data_dir={tmp_path / 'data'}",
    ]  # fmt: skip
    done = run(command("train", "-m", "seed=0,1", *settings), tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert {p.name for p in tmp_path.iterdir()} == {"multirun", "data"}  # nothing elsewhere
    # one sweep folder: the second process ran the sweep in lockstep, in the same folders
    (sweep,) = (tmp_path / "multirun" / "train").iterdir()
    assert sorted(p.name for p in sweep.iterdir() if p.is_dir()) == ["0", "1"]
    for run_dir in (sweep / "0", sweep / "1"):
        assert {"config.yaml", "metrics.json", "checkpoints"} <= {p.name for p in run_dir.iterdir()}
        # 20 episodes an epoch over 2 processes: 10 steps an epoch on each
        with (run_dir / "csv" / "metrics.csv").open() as rows:
            validated = [int(row["step"]) for row in csv.DictReader(rows) if row["val/acc"]]
        assert validated == [9, 19]
        assert_eval_reproduces(run_dir, tmp_path)
    assert read(sweep / "0" / "metrics.json") != read(sweep / "1" / "metrics.json")

    # the same job as 2 tasks of a local submitit job (what hydra/launcher=slurm does on SLURM)
    tasks = tmp_path / "tasks"
    launched = [*settings, f"hydra.sweep.dir={tasks}", "hydra/launcher=tasks"]
    done = run(command("train", "-m", "seed=0", *launched), tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    logs = "".join(path.read_text() for path in tasks.glob(".submitit/*/*_log.*"))
    assert "GLOBAL_RANK: 1, MEMBER: 2/2" in logs  # one group of the job's two tasks
    assert read(tasks / "0" / "metrics.json") == read(sweep / "0" / "metrics.json")


@pytest.mark.slow
def test_a_two_process_simclr_run_trains_and_evaluates_like_one_process(tmp_path: Path) -> None:
    run_dir = tmp_path / "simclr"
    settings = [
        "+experiment=synthetic_simclr", *TINY, *DDP, "sampler.batch_size=8",
        f"paths.data_dir={tmp_path / 'data'}", f"hydra.run.dir={run_dir}",
    ]  # fmt: skip
    done = run(command("train", *settings), tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert {p.name for p in tmp_path.iterdir()} == {"simclr", "data"}
    assert_eval_reproduces(run_dir, tmp_path)


@pytest.mark.slow
def test_a_killed_two_process_run_resumes_to_the_uninterrupted_result(tmp_path: Path) -> None:
    settings = [
        *TINY, *DDP, f"paths.data_dir={tmp_path / 'data'}", "trainer.max_epochs=3",
        "trainer.limit_train_batches=5", "trainer.log_every_n_steps=2",
    ]  # fmt: skip
    full, killed = tmp_path / "full", tmp_path / "killed"
    done = run(command("train", *settings, f"hydra.run.dir={full}"), tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    kill = [
        "+callbacks.kill._target_=kill_switch.KillAtStep", "+callbacks.kill.step=8",
        f"+callbacks.kill.marker={tmp_path / 'killed.marker'}", f"hydra.run.dir={killed}",
    ]  # fmt: skip
    stopped = run(command("train", *settings, *kill), tmp_path)
    assert stopped.returncode == -9, stopped.stderr[-3000:]  # both processes, in epoch 2
    assert {p.name for p in tmp_path.glob("killed.marker.*")} == {
        "killed.marker.0", "killed.marker.1"
    }  # fmt: skip
    assert not (killed / "metrics.json").exists()
    resumed = run(command("train", f"resume={killed}"), tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert read(killed / "metrics.json") == read(full / "metrics.json")
    history = (killed / "csv" / "metrics.csv").read_text()
    assert history == (full / "csv" / "metrics.csv").read_text()


def test_the_slurm_launcher_asks_for_the_trainers_nodes_and_gpus(tmp_path: Path) -> None:
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf
    from test_entry_points import CONF_DIR

    overrides = ["hydra/launcher=slurm", "trainer=ddp", "trainer.devices=8",
                 "trainer.num_nodes=2", f"paths.data_dir={tmp_path}"]  # fmt: skip
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose("train", overrides, return_hydra_config=True)
    launcher = OmegaConf.to_container(cfg.hydra.launcher, resolve=True)
    assert launcher["_target_"].endswith("SlurmLauncher")
    assert (launcher["nodes"], launcher["gpus_per_node"], launcher["tasks_per_node"]) == (2, 8, 8)
    assert (cfg.trainer.strategy, cfg.trainer.sync_batchnorm) == ("ddp", True)
