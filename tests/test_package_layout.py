"""The package's shape: entry points at the root, Hydra and OmegaConf only where runs are
composed, and every import path a configuration names (now or in a stored run) resolves."""

from __future__ import annotations

import ast
import importlib
import importlib.util
import json
import re
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from audiofsl.runs.stored import MOVED_TARGETS, stored_config

PACKAGE = Path(__file__).resolve().parents[1] / "audiofsl"
CONF = PACKAGE.parent / "conf"
ENTRY_POINTS = {"train", "eval", "prepare_data", "results", "predict", "enrol", "study"}
#: Where Hydra and OmegaConf may be imported: the entry points and the run plumbing.
CONFIG_PACKAGES = ("runs",)


def imported_modules(path: Path) -> set[str]:
    """Top-level names of every module ``path`` imports, at any depth of its code."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_the_package_root_holds_only_entry_points():
    modules = {path.stem for path in PACKAGE.glob("*.py")} - {"__init__"}
    assert modules == ENTRY_POINTS


def test_only_entry_points_and_run_plumbing_import_hydra_or_omegaconf():
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE)
        if len(relative.parts) == 1 or relative.parts[0] in CONFIG_PACKAGES:
            continue
        if imported_modules(path) & {"hydra", "omegaconf"}:
            offenders.append(str(relative))
    assert offenders == []


def test_the_scan_sees_imports_inside_functions(tmp_path):
    module = tmp_path / "module.py"
    module.write_text("def f():\n    from omegaconf import OmegaConf\n    import hydra.utils\n")
    assert imported_modules(module) == {"omegaconf", "hydra"}


def _resolves(target: str) -> bool:
    """Whether ``target`` names an attribute of a module, or a module."""
    module, _, name = target.rpartition(".")
    try:
        if hasattr(importlib.import_module(module), name):
            return True
        return importlib.util.find_spec(target) is not None
    except ImportError:
        return False


def test_every_target_named_in_the_configs_resolves():
    targets = set()
    for path in CONF.rglob("*.yaml"):
        targets.update(re.findall(r"_target_:\s*(audiofsl\.[\w.]+)", path.read_text()))
    assert len(targets) > 50
    assert [target for target in sorted(targets) if not _resolves(target)] == []


@pytest.mark.parametrize("old", sorted(MOVED_TARGETS))
def test_a_stored_run_naming_a_moved_path_is_read_with_its_new_one(old):
    assert not _resolves(old) and _resolves(MOVED_TARGETS[old])
    stored = {"callbacks": {"x": {"_target_": old, "every": 2}}, "list": [{"_target_": old}]}
    cfg = stored_config(stored)
    assert cfg.callbacks.x._target_ == MOVED_TARGETS[old] and cfg.callbacks.x.every == 2
    assert cfg.list[0]._target_ == MOVED_TARGETS[old]
    assert OmegaConf.to_container(stored_config({"_target_": "my.Own"})) == {"_target_": "my.Own"}


def audiofsl_imports(source: str) -> set[str]:
    """``module.name`` of every ``from audiofsl... import name`` in Python source."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("audiofsl"):
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def test_benchmarks_and_notebooks_import_what_the_package_has():
    root = PACKAGE.parent
    names = set()
    for path in (root / "benchmarks").glob("*.py"):
        names |= audiofsl_imports(path.read_text(encoding="utf-8"))
    for path in (root / "notebooks").glob("*.ipynb"):
        for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
            if cell["cell_type"] == "code":
                code = "".join(cell["source"])
                lines = [
                    line for line in code.splitlines() if not line.lstrip().startswith(("%", "!"))
                ]
                names |= audiofsl_imports("\n".join(lines))
    assert len(names) > 20
    assert [name for name in sorted(names) if not _resolves(name)] == []
