"""A first hour with a folder of one's own audio: the defaults fit small folders, a classifier
learns every class, and every later measurement uses exactly the run's split."""

from __future__ import annotations

import logging
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from omegaconf import OmegaConf
from test_entry_points import write_tone_folder

from audiofsl.eval import run_evaluation
from audiofsl.runs.composition import build_datamodule, build_evaluation, with_data_changes
from audiofsl.samplers import EpisodeSpec
from audiofsl.train import run_training

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning", "ignore::FutureWarning")
ROOT = Path(__file__).resolve().parents[1]
#: A small budget: a tiny model, one short epoch, few evaluation tasks.
QUICK = [
    "trainer.max_epochs=1", "trainer.limit_train_batches=2", "logger=csv",
    "callbacks.test_plots=null", "callbacks.progress_bar=null", "callbacks.model_summary=null",
    "frontend.n_mels=32", "encoder.hidden_channels=8", "data.loader.clip_seconds=0.5",
    "evaluation.val.n_tasks=10", "evaluation.test.0.n_tasks=20",
]  # fmt: skip


def folder(tmp_path: Path, n_classes: int, clips: int = 10) -> Path:
    root = tmp_path / f"audio{n_classes}"
    write_tone_folder(root, n_classes=n_classes, clips=clips, seconds=0.5)
    return root


def split_of(datamodule) -> dict:
    """The classes and clip count of each split of a set-up data module."""
    datasets = {"train": datamodule.train_set, "val": datamodule.val_set,
                "test": datamodule.test_set}  # fmt: skip
    return {s: (list(d.class_names), len(d)) if d else ([], 0) for s, d in datasets.items()}


def test_a_probe_measures_the_split_the_run_found(compose_config, tmp_path):
    root = folder(tmp_path, 8)
    overrides = ["data=folder", f"data.root={root}", "evaluation.test.0.n_way=3", *QUICK]
    cfg = compose_config("train", overrides, tmp_path / "cache")
    trained = build_datamodule(cfg.copy(), build_evaluation(cfg))
    trained.setup(None)
    found = split_of(trained)  # the run's split: widened to 5/0/3 classes for its episodes
    assert [len(found[s][0]) for s in ("train", "val", "test")] == [5, 0, 3]
    metrics = run_training(cfg)
    run_dir = Path(cfg.paths.output_dir)
    stored = OmegaConf.load(run_dir / "config.yaml")
    assert {s: list(v) for s, v in stored.data.split_classes.items()} == {
        s: names for s, (names, _) in found.items()
    }
    probe_data = build_datamodule(stored, episodes=False)  # as eval's probe rebuilds it
    probe_data.setup(None)
    assert split_of(probe_data) == found  # same classes, same clips
    probe = run_evaluation(compose_config("eval", [f"run_dir={run_dir}", "mode=probe"]))
    assert 0 <= probe["probe/acc"] <= 1
    again = run_evaluation(compose_config("eval", [f"run_dir={run_dir}"]))
    assert again["test/acc"] == pytest.approx(metrics["test/acc"], abs=1e-6)


@pytest.mark.parametrize(
    ("overrides", "target", "test_by"),
    [
        (["+experiment=synthetic_supervised"], "ClipSplit", "classifier"),
        (["+experiment=synthetic_clar"], "ClipSplit", "classifier"),
        ([], "ClassSplit", None),
        (["+experiment=synthetic_supervised", "data.split.sizes=[5,1,2]"], "ClassSplit",
         "episodes"),
        (["+experiment=synthetic_supervised", "data/split=clips"], "ClipSplit", "classifier"),
    ],
)  # fmt: skip
def test_a_folder_splits_by_the_method(compose_config, tmp_path, overrides, target, test_by):
    cfg = compose_config("train", [*overrides, "data=folder", f"data.root={tmp_path}"])
    build_datamodule(cfg)
    assert cfg.data.split._target_ == f"audiofsl.data.{target}"
    assert cfg.method.get("test_by") == test_by


def test_a_classifier_on_a_folder_learns_every_class(compose_config, tmp_path):
    root = folder(tmp_path, 8)
    overrides = ["+experiment=synthetic_supervised", "data=folder", f"data.root={root}", *QUICK]
    cfg = compose_config("train", overrides, tmp_path / "cache")
    metrics = run_training(cfg)
    every = [f"tone{c}" for c in range(8)]
    stored = OmegaConf.load(Path(cfg.paths.output_dir) / "config.yaml")
    assert stored.method.n_classes == 8 and stored.method.test_by == "classifier"
    assert stored.data.split._target_ == "audiofsl.data.ClipSplit"
    assert {s: list(stored.data.split_classes[s]) for s in ("train", "val", "test")} == {
        "train": every, "val": every, "test": every
    }  # fmt: skip
    rebuilt = build_datamodule(stored)
    rebuilt.setup(None)
    # 10 clips of each class: 7 / 1 / 2 (seeded, stratified)
    assert [len(d) for d in (rebuilt.train_set, rebuilt.val_set, rebuilt.test_set)] == [56, 8, 16]
    assert "test/f1_macro" in metrics  # tested by the classifier, on held-out clips


@pytest.mark.parametrize(
    ("n_classes", "train_way", "test_way", "classes"),
    [(8, 5, 3, [5, 0, 3]), (4, 2, 2, [2, 0, 2])],
)
def test_the_defaults_fit_a_small_folder(
    compose_config, tmp_path, caplog, n_classes, train_way, test_way, classes
):
    root = folder(tmp_path, n_classes)
    cfg = compose_config("train", ["data=folder", f"data.root={root}", *QUICK], tmp_path / "cache")
    with caplog.at_level(logging.WARNING):
        metrics = run_training(cfg)
    lowered = [f"sampler.n_way={train_way}"] * (train_way < 5) + [
        f"evaluation.test.0.n_way={test_way}"
    ]
    assert f"the {n_classes} classes are too few for 5-way training episodes" in caplog.text
    assert f"using {' '.join(lowered)}" in caplog.text
    stored = OmegaConf.load(Path(cfg.paths.output_dir) / "config.yaml")
    assert stored.sampler.n_way == train_way and stored.evaluation.test[0].n_way == test_way
    assert [len(stored.data.split_classes[s]) for s in ("train", "val", "test")] == classes
    assert f"test/{test_way}way5shot/acc" in metrics
    again = run_evaluation(compose_config("eval", [f"run_dir={cfg.paths.output_dir}"]))
    assert again["test/acc"] == pytest.approx(metrics["test/acc"], abs=1e-6)


def test_two_or_three_classes_point_to_what_works(compose_config, tmp_path):
    root = folder(tmp_path, 3)
    cfg = compose_config("train", ["data=folder", f"data.root={root}", *QUICK], tmp_path / "cache")
    with pytest.raises(ValueError, match="3 classes are too few for few-shot episodes") as error:
        run_training(cfg)
    message = str(error.value)
    assert f"python -m audiofsl.enrol run_dir=RUN support={root} " in message
    command = message.split("python -m audiofsl.train ", 1)[1].split(" ;", 1)[0]
    assert command == f"+experiment=synthetic_supervised data=folder data.root={root}"
    suggested = compose_config("train", [*shlex.split(command), *QUICK], tmp_path / "cache")
    metrics = run_training(suggested)  # the classifier over all clips of the three classes
    assert 0 <= metrics["test/acc"] <= 1 and suggested.method.n_classes == 3
    with pytest.raises(ValueError, match=r"n_way=1 must be .*synthetic_supervised.*audiofsl.enrol"):
        EpisodeSpec(n_way=1)


@pytest.mark.slow
def test_the_command_line_trains_on_a_folder_of_eight_classes(tmp_path):
    root = folder(tmp_path, 8)
    command = [sys.executable, "-m", "audiofsl.train", "data=folder", f"data.root={root}", *QUICK,
               f"paths.data_dir={tmp_path / 'cache'}",
               f"hydra.run.dir={tmp_path / 'run'}"]  # fmt: skip
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    output = done.stdout + done.stderr
    assert "using evaluation.test.0.n_way=3" in output
    assert "test/acc" in output and "3-way 5-shot" in output


def test_moving_the_data_keeps_the_run_split_and_other_data_splits_afresh():
    classes = {"train": ["a"], "val": [], "test": []}
    stored = OmegaConf.create({"data": {"root": "/old", "size": "large", "split_classes": classes}})
    moved = with_data_changes(stored, {"root": "/new"})
    assert moved.data.root == "/new" and moved.data.split_classes.train == ["a"]
    other = with_data_changes(stored, {"size": "small"})
    assert other.data.size == "small" and other.data.split_classes is None
    given = with_data_changes(stored, {"size": "small", "split_classes": {"train": ["b"]}})
    assert list(given.data.split_classes.train) == ["b"]
    assert with_data_changes(stored, None) is stored
