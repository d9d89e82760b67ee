"""The notebooks run top to bottom (their code cells, in a temporary folder)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

NOTEBOOK_DIR = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::UserWarning", "ignore::FutureWarning")
@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs(notebook: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    cells = json.loads(notebook.read_text())["cells"]
    namespace: dict = {}
    for index, cell in enumerate(cells):
        if cell["cell_type"] == "code":
            code = compile("".join(cell["source"]), f"{notebook.name}[{index}]", "exec")
            exec(code, namespace)
    assert os.listdir(tmp_path), "the notebook should have written data or outputs"


def test_notebooks_are_found():
    assert {p.stem for p in NOTEBOOKS} >= {"tour", "compose_experiment"}


def composing_cell(notebook: str = "compose_experiment") -> str:
    """The source of the notebook's first code cell that composes a config."""
    cells = json.loads((NOTEBOOK_DIR / f"{notebook}.ipynb").read_text())["cells"]
    return next(
        "".join(cell["source"])
        for cell in cells
        if cell["cell_type"] == "code" and "compose(" in "".join(cell["source"])
    )


@pytest.mark.filterwarnings("ignore::UserWarning", "ignore::FutureWarning")
def test_the_configs_are_found_without_the_repository(tmp_path, monkeypatch):
    """As from an installed package: audiofsl's file lies where no conf/ is beside it."""
    import audiofsl

    installed = tmp_path / "site-packages" / "audiofsl" / "__init__.py"
    monkeypatch.setattr(audiofsl, "__file__", str(installed))
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(composing_cell(), "compose_experiment.ipynb", "exec"), namespace)
    assert namespace["cfg"].encoder._target_ == "audiofsl.encoders.Conv4"


@pytest.mark.slow
def test_the_configs_are_found_from_a_wheel_layout(tmp_path):
    """The composing cell, run against a copy of the package laid out as a wheel installs it
    (the configs inside it as audiofsl/conf) with no repository around it."""
    site = tmp_path / "site-packages"
    skip = shutil.ignore_patterns("__pycache__")
    shutil.copytree(NOTEBOOK_DIR.parent / "audiofsl", site / "audiofsl", ignore=skip)
    shutil.copytree(NOTEBOOK_DIR.parent / "conf", site / "audiofsl" / "conf", ignore=skip)
    check = f"import audiofsl\nassert audiofsl.__file__.startswith({str(site)!r})\n"
    done = subprocess.run(
        [sys.executable, "-c", check + composing_cell()], cwd=tmp_path, capture_output=True,
        text=True, timeout=300, env={**os.environ, "PYTHONPATH": str(site)},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "audiofsl.encoders.Conv4" in done.stdout
