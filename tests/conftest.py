"""Shared test configuration: ``gpu`` tests run only where CUDA exists; config composition."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

CONF_DIR = Path(__file__).resolve().parents[1] / "conf"


@pytest.fixture(scope="session", autouse=True)
def data_dir_outside_the_user_cache(tmp_path_factory: pytest.TempPathFactory):
    """Runs that keep the default ``paths.data_dir`` (the user's cache, or AUDIOFSL_DATA_DIR)
    write into one folder of the test session instead, commands started by tests included."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AUDIOFSL_DATA_DIR", str(tmp_path_factory.mktemp("audiofsl_data")))
        yield


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if torch.cuda.is_available():
        return
    no_cuda = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(no_cuda)


ComposeFn = Callable[..., DictConfig]


@pytest.fixture
def compose_config(tmp_path: Path) -> ComposeFn:
    """Compose ``conf/<name>.yaml`` with outputs under tmp_path (data_dir optional)."""

    def _compose(name: str, overrides: list[str], data_dir: Path | None = None) -> DictConfig:
        paths = [f"paths.output_dir={tmp_path / 'run'}"]
        if data_dir is not None:
            paths.append(f"paths.data_dir={data_dir}")
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
            return compose(config_name=name, overrides=[*overrides, *paths])

    return _compose


@pytest.fixture(scope="session")
def torchaudio_reference():
    """torchaudio, a reference for the frontends and the resampler, or a skip where it does not
    import (it is not a dependency of audiofsl, and its builds import only beside a matching
    torch: a mismatch raises OSError, not ImportError)."""
    try:
        import torchaudio
        import torchaudio.functional
        import torchaudio.transforms
    except Exception as error:
        pytest.skip(f"torchaudio does not import here ({type(error).__name__}: {error})")
    return torchaudio
