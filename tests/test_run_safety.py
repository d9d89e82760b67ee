"""Runs users can trust: true last checkpoints, exact resume, safe defaults on their own audio."""

from __future__ import annotations

import importlib.resources
import json
import logging
import os
import random
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import lightning as L
import numpy as np
import pytest
import torch
from lightning.pytorch.utilities.exceptions import SIGTERMException
from omegaconf import OmegaConf
from test_entry_points import TINY, write_tone_folder

from audiofsl.runs.composition import build_datamodule
from audiofsl.runs.resume import ResumeState, resumed_config
from audiofsl.runs.termination import SIGTERM_EXIT_STATUS, fail_on_sigterm
from audiofsl.train import build_trainer, check_trainer_settings, run_training

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning", "ignore::FutureWarning")

REPO = Path(__file__).resolve().parents[1]
HELPERS = Path(__file__).resolve().parent / "helpers"


class WorseningModule(L.LightningModule):
    """Logs a val/acc that falls every epoch, so the best epoch is the first."""

    def __init__(self) -> None:
        super().__init__()
        self.layer = torch.nn.Linear(2, 1)

    def training_step(self, batch, batch_idx):
        return self.layer(batch[0]).pow(2).mean()

    def validation_step(self, batch, batch_idx):
        self.log("val/acc", 1.0 / (self.current_epoch + 1))

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)

    def train_dataloader(self):
        return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.randn(8, 2)))

    def val_dataloader(self):
        return self.train_dataloader()


def test_last_checkpoint_is_the_last_epoch_when_validation_gets_worse(compose_config):
    cfg = compose_config("train", ["logger=none", "trainer.max_epochs=3"])
    trainer = build_trainer(cfg)
    trainer.fit(WorseningModule())
    checkpoints = Path(cfg.paths.output_dir) / "checkpoints"
    last = torch.load(checkpoints / "last.ckpt", weights_only=True)
    best = torch.load(checkpoints / "best.ckpt", weights_only=True)
    assert (last["epoch"], best["epoch"]) == (2, 0)


def test_resume_state_restores_every_generator():
    state = ResumeState().state_dict()
    drawn = (torch.rand(3), np.random.rand(3), random.random())
    torch.rand(5), np.random.rand(5), random.random()  # move on
    ResumeState().load_state_dict(state)
    again = (torch.rand(3), np.random.rand(3), random.random())
    assert torch.equal(drawn[0], again[0]) and np.array_equal(drawn[1], again[1])
    assert drawn[2] == again[2]


def test_resume_errors_name_what_is_missing(tmp_path):
    with pytest.raises(FileNotFoundError, match="no config.yaml"):
        resumed_config(tmp_path, [])
    (tmp_path / "config.yaml").write_text("trainer:\n  max_epochs: 3\n")
    with pytest.raises(FileNotFoundError, match="before its first epoch ended"):
        resumed_config(tmp_path, [])
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "last.ckpt").write_bytes(b"")
    assert resumed_config(tmp_path, [("trainer.max_epochs", 5)]).trainer.max_epochs == 5
    with pytest.raises(KeyError, match="no setting 'trainer.max_epoch'"):
        resumed_config(tmp_path, [("trainer.max_epoch", 5)])


def train_command(*overrides: str) -> list[str]:
    return [sys.executable, "-m", "audiofsl.train", *overrides]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("path", "signal_name"),
    [([], "SIGKILL"), (["sampler.episodes_per_batch=2", "data.loader.resident=always"], "SIGKILL"),
     ([], "SIGTERM")],
    ids=["streamed", "resident_two_episodes_a_step", "streamed_sigterm"],
)  # fmt: skip
def test_a_run_killed_mid_epoch_resumes_to_the_uninterrupted_result(tmp_path, path, signal_name):
    settings = [
        *TINY, *path, f"paths.data_dir={tmp_path / 'data'}", "trainer.max_epochs=4",
        "trainer.limit_train_batches=10", "trainer.log_every_n_steps=3",
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(HELPERS)}
    run = {"cwd": tmp_path, "env": env, "capture_output": True, "timeout": 600}
    full, killed = tmp_path / "full", tmp_path / "killed"
    subprocess.run(train_command(*settings, f"hydra.run.dir={full}"), check=True, **run)
    kill = [
        "+callbacks.kill._target_=kill_switch.KillAtStep", "+callbacks.kill.step=25",
        f"+callbacks.kill.marker={tmp_path / 'killed.marker'}", f"hydra.run.dir={killed}",
        f"+callbacks.kill.signal_name={signal_name}",
    ]  # fmt: skip
    stopped = subprocess.run(train_command(*settings, *kill), **run)
    assert not (killed / "metrics.json").exists()
    resume = [f"resume={killed}"]
    if signal_name == "SIGKILL":
        assert stopped.returncode == -9, stopped.stderr[-2000:]  # in the third epoch
    else:  # Lightning stops after the batch; the run fails and says how to go on
        assert stopped.returncode == SIGTERM_EXIT_STATUS, stopped.stderr[-2000:]
        message = (killed / "train.log").read_text()
        assert "stopped by SIGTERM" in message and "metrics.json was not written" in message
        advice = message.split("with:\n", 1)[1].splitlines()[0].split()
        assert advice[:3] == ["python", "-m", "audiofsl.train"]
        resume = advice[3:]  # pasted from the message
    resumed = subprocess.run(train_command(*resume), **run)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert json.loads((killed / "metrics.json").read_text()) == json.loads(
        (full / "metrics.json").read_text()
    )
    history = (killed / "csv" / "metrics.csv").read_text()
    assert history == (full / "csv" / "metrics.csv").read_text()
    assert sum(1 for line in history.splitlines() if ",," in line) > 10  # the whole history


@pytest.mark.parametrize("completed_epoch", [True, False])
def test_a_sigterm_stop_fails_and_says_how_to_go_on(tmp_path, caplog, completed_epoch):
    if completed_epoch:
        (tmp_path / "checkpoints").mkdir()
        (tmp_path / "checkpoints" / "last.ckpt").write_bytes(b"")
    stopping = fail_on_sigterm(tmp_path, "metrics.json")
    with caplog.at_level(logging.ERROR), pytest.raises(SystemExit) as stop, stopping:
        raise SIGTERMException  # what Lightning raises: a SystemExit with status 0
    assert stop.value.code == SIGTERM_EXIT_STATUS == 143
    expected = f"resume={tmp_path}" if completed_epoch else "no epoch was completed"
    assert expected in caplog.text and f"{tmp_path / 'metrics.json'} was not written" in caplog.text
    with fail_on_sigterm(tmp_path, "metrics.json"):  # a run that finishes is left alone
        finished = True
    assert finished
    with pytest.raises(SystemExit) as other, fail_on_sigterm(tmp_path, "metrics.json"):
        raise SystemExit(2)
    assert other.value.code == 2


def test_synthetic_data_never_writes_into_a_users_folder(compose_config, tmp_path):
    cfg = compose_config("train", [f"data.root={tmp_path}"], tmp_path / "cache")
    with pytest.raises(ValueError, match="add data=folder"):
        build_datamodule(cfg)
    assert list(tmp_path.iterdir()) == []


def test_a_small_folder_trains_with_no_settings_but_its_root(compose_config, tmp_path, caplog):
    root = tmp_path / "my_audio"
    write_tone_folder(root, n_classes=10, clips=16, seconds=1.0)
    quick = ["trainer.max_epochs=1", "trainer.limit_train_batches=2", "logger=none",
             "evaluation.val.n_tasks=10", "evaluation.test.0.n_tasks=20"]  # fmt: skip
    cfg = compose_config("train", ["data=folder", f"data.root={root}", *quick])
    with caplog.at_level(logging.WARNING):
        metrics = run_training(cfg)
    assert 0.2 <= metrics["test/acc"] <= 1.0
    assert "using 5/0/5 instead (no validation split" in caplog.text
    assert "evaluation.test.0.n_query lowered from 15 to 11" in caplog.text
    stored = OmegaConf.load(Path(cfg.paths.output_dir) / "config.yaml")
    assert stored.evaluation.test[0].n_query == 11  # eval rebuilds the same tasks


def test_a_test_split_too_small_fails_before_training(compose_config, tmp_path):
    root = tmp_path / "my_audio"
    write_tone_folder(root, n_classes=10, clips=16)
    cfg = compose_config(
        "train",
        ["data=folder", f"data.root={root}", "data.split.sizes=[5,3,2]", "evaluation.val.n_way=3",
         "data.fit_to_data=false"],
    )  # fmt: skip
    with pytest.raises(ValueError, match=r"test split .*set evaluation.test.0.n_way=2 or"):
        run_training(cfg)
    assert not (Path(cfg.paths.output_dir) / "checkpoints").exists()


def test_debug_overlay_works_with_folder_data(compose_config, tmp_path):
    root = tmp_path / "my_audio"
    write_tone_folder(root, n_classes=12, clips=12)
    cfg = compose_config("train", ["+debug=fast", "data=folder", f"data.root={root}", *TINY[4:]])
    assert 0.2 <= run_training(cfg)["test/acc"] <= 1.0


def test_trainer_settings_that_are_not_numbers_are_named(compose_config):
    cfg = compose_config("train", ["trainer.max_epochs=abc"])
    with pytest.raises(ValueError, match=r"trainer.max_epochs='abc' must be an integer"):
        check_trainer_settings(cfg.trainer)
    check_trainer_settings(compose_config("train", ["trainer.limit_train_batches=0.5"]).trainer)


def test_runs_print_no_lightning_advertising_or_summary_notice(compose_config, tmp_path, caplog):
    cfg = compose_config("train", [*TINY, "trainer.max_epochs=1"], tmp_path / "cache")
    with caplog.at_level(logging.INFO):
        from audiofsl.train import quiet_known_warnings

        quiet_known_warnings()
        run_training(cfg)
    assert "litlogger" not in caplog.text
    assert "already configured with model summary" not in caplog.text


def test_configs_ship_inside_the_package():
    package = importlib.resources.files("audiofsl.conf")
    shipped = {str(p.relative_to(REPO / "conf")) for p in (REPO / "conf").rglob("*.yaml")}
    assert shipped and all(package.joinpath(name).is_file() for name in shipped)
    listed = set(__import__("tomllib").loads((REPO / "pyproject.toml").read_text())["tool"][
        "setuptools"]["packages"])  # fmt: skip
    found = {
        ".".join(p.parent.relative_to(REPO).parts) for p in (REPO / "audiofsl").rglob("__init__.py")
    }
    assert found <= listed, f"add {sorted(found - listed)} to [tool.setuptools] packages"


@pytest.mark.slow
def test_a_wheel_carries_the_configs(tmp_path):
    source = tmp_path / "source"  # a copy: building writes build/ and egg-info beside the code
    for name in ("audiofsl", "conf"):
        shutil.copytree(REPO / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(source)],
        check=True, capture_output=True, timeout=600,
    )  # fmt: skip
    (wheel,) = tmp_path.glob("audiofsl-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"audiofsl/conf/train.yaml", "audiofsl/conf/experiment/fsdd_protonet.yaml"} <= names
    assert "audiofsl/data/sources/splits/esc50.json" in names  # MetaAudio's split files
    assert "audiofsl/conf/__init__.py" in names


def test_tensorboard_runs_are_named_by_task_and_overrides(compose_config, monkeypatch):
    from hydra.core.override_parser.overrides_parser import OverridesParser

    import audiofsl.train as train

    given = ["+experiment=fsdd_protonet", "data.root=/my/audio", "seed=3", "sampler.n_shot=1",
             "paths.data_dir=/cache"]  # fmt: skip
    parsed = OverridesParser.create().parse_overrides(given)
    monkeypatch.setattr(train, "task_overrides", lambda: parsed)
    cfg = compose_config("train", ["+experiment=fsdd_protonet"])
    assert train.tensorboard_run_name(cfg) == "fsdd_protonet,seed=3,sampler.n_shot=1"


def test_a_long_tensorboard_run_name_is_cut_and_stays_distinct(compose_config, monkeypatch):
    """A list override can make the name longer than a folder name may be (255 bytes)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    import audiofsl.train as train

    tasks = ", ".join(f"{{n_way: 5, n_shot: {k}, n_query: 15, n_tasks: 10000}}" for k in (5, 1))
    cfg = compose_config("train", ["+experiment=fsdd_protonet"])
    names = []
    for extra in ("seed=1", "seed=2"):
        given = [f"evaluation.test=[{tasks}]", "callbacks.test_plots=null", extra]
        parsed = OverridesParser.create().parse_overrides(given)
        monkeypatch.setattr(train, "task_overrides", lambda parsed=parsed: parsed)
        names.append(train.tensorboard_run_name(cfg))
    assert all(len(name) == train.RUN_NAME_CHARS for name in names)
    assert names[0].startswith("fsdd_protonet,evaluation.test=") and names[0] != names[1]
