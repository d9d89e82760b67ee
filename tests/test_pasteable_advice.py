"""Every override an error suggests can be pasted after the command: Hydra accepts it, and the
command then gets past that error."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest
from test_entry_points import write_tone_folder

from audiofsl.runs.composition import build_datamodule, build_evaluation

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning", "ignore::FutureWarning")
ROOT = Path(__file__).resolve().parents[1]
#: ``key=value`` after "set", up to the next space: a dotted key, a group choice or a list.
SUGGESTION = re.compile(r"[+~]?(?:[a-z_0-9]+[./])*[a-z_0-9]+=\S+")
QUICK = [
    "trainer.max_epochs=1", "trainer.limit_train_batches=2", "logger=csv",
    "callbacks.test_plots=null", "frontend.n_mels=32", "encoder.hidden_channels=8",
    "data.loader.clip_seconds=0.5", "evaluation.val.n_tasks=10", "evaluation.test.0.n_tasks=20",
]  # fmt: skip


def suggestions(message: str) -> list[str]:
    """The overrides suggested after "set " in a message."""
    advice = message.split("set ", 1)[1] if "set " in message else ""
    found = []
    for word in advice.split(" "):
        if not SUGGESTION.fullmatch(word):
            break
        found.append(word)
    return found


def until_training(cfg) -> None:
    """What run_training does before fitting: build and check the data, make the loader."""
    datamodule = build_datamodule(cfg, build_evaluation(cfg))
    datamodule.setup(None)
    datamodule.train_dataloader()


def paste_until_it_runs(compose_config, overrides: list[str], cache: Path) -> list[list[str]]:
    """Run the command up to training; while it fails, paste the suggested overrides after it.

    Returns:
        The suggestions pasted, in order; each must be new, and the last command must run.
    """
    pasted = []
    for _ in range(5):
        try:
            until_training(compose_config("train", overrides, cache))
            return pasted
        except ValueError as error:
            fix = suggestions(str(error))
            assert fix, f"no suggestion in: {error}"
            assert fix not in pasted, f"the same advice twice: {error}"
            pasted.append(fix)
            overrides = [*overrides, *fix]
    raise AssertionError(f"still failing after pasting {pasted}")


@pytest.fixture(scope="module")
def nine(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("nine") / "audio"
    write_tone_folder(root, n_classes=9, clips=8, seconds=0.5)
    return root


@pytest.mark.parametrize(
    ("overrides", "first"),
    [
        # too many test classes for explicit sizes (a folder left to fit nothing)
        (["data.split.sizes=[5,2,2]", "evaluation.val.n_way=2", "data.fit_to_data=false"],
         ["evaluation.test.0.n_way=2"]),
        # a ratio split whose classes cannot hold training and test episodes
        (["data.fit_to_data=false"], ["evaluation.test.0.n_way=4"]),
        # training episodes of more clips than a class has
        (["sampler.n_shot=5", "sampler.n_query=6", "data.fit_to_data=false"],
         ["sampler.n_query=3"]),
        # a mini-batch larger than the training split
        (["+experiment=synthetic_supervised", "data.fit_to_data=false", "sampler.batch_size=500"],
         ["sampler.batch_size=45"]),
    ],
)  # fmt: skip
def test_suggested_overrides_paste_back_into_the_command(
    compose_config, tmp_path, nine, overrides, first
):
    pasted = paste_until_it_runs(compose_config, ["data=folder", f"data.root={nine}", *QUICK,
                                                  *overrides], tmp_path / "cache")  # fmt: skip
    assert first in pasted


def test_a_clips_split_suggests_leaving_validation_out(compose_config, tmp_path):
    root = tmp_path / "audio"
    write_tone_folder(root, n_classes=3, clips=2, seconds=0.5)
    overrides = ["+experiment=synthetic_supervised", "data=folder", f"data.root={root}", *QUICK]
    pasted = paste_until_it_runs(compose_config, overrides, tmp_path / "cache")
    assert pasted == [["data.split.fractions=[0.8,0.0,0.2]"]]


def test_the_study_suggests_test_folds_it_can_run(compose_config, tmp_path, nine):
    from audiofsl.study import check_data

    cfg = compose_config("study", ["data.source=folder", f"data.root={nine}", "data.folds=3"])
    with pytest.raises(ValueError) as error:
        check_data(cfg)
    fix = suggestions(str(error.value))
    assert fix == ["study.test_folds=[1,2,3]"]
    check_data(compose_config("study", ["data.source=folder", f"data.root={nine}",
                                        "data.folds=3", *fix]))  # fmt: skip


def string_constants(path: Path):
    """Every string literal of a module except docstrings, with its line."""
    tree = ast.parse(path.read_text())
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body and isinstance(node.body[0], ast.Expr)
    }  # fmt: skip
    for node in ast.walk(tree):
        is_text = isinstance(node, ast.Constant) and isinstance(node.value, str)
        if is_text and id(node) not in docstrings:
            yield node.lineno, node.value


def test_no_message_names_a_setting_hydra_cannot_parse():
    # Hydra reads evaluation.test.0.n_way, not evaluation.test[0].n_way; and no "3-th".
    unparseable = re.compile(r"[a-z_]\[\d*\]\.[a-z_]|\d-th\b|%d-th\b|\}-th\b")
    found = [
        f"{path.relative_to(ROOT)}:{line}: {text!r}"
        for path in sorted((ROOT / "audiofsl").rglob("*.py"))
        for line, text in string_constants(path)
        if unparseable.search(text)
    ]
    assert not found, "\n".join(found)


@pytest.mark.slow
def test_the_readme_example_pastes_on_the_command_line(tmp_path, nine):
    command = [sys.executable, "-m", "audiofsl.train", "data=folder", f"data.root={nine}", *QUICK,
               "data.split.sizes=[5,2,2]", "evaluation.val.n_way=2", "data.fit_to_data=false",
               "sampler.n_shot=2", "sampler.n_query=2", f"paths.data_dir={tmp_path / 'cache'}",
               f"hydra.run.dir={tmp_path / 'run'}"]  # fmt: skip
    failed = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert failed.returncode != 0
    fix = suggestions(failed.stderr.split("Error: ")[-1])
    assert fix == ["evaluation.test.0.n_way=2"]
    done = subprocess.run([*command, *fix], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "2-way 5-shot" in done.stdout + done.stderr  # the pasted setting was used
