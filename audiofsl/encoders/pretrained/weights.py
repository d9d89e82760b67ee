"""Where pretrained weights come from: local files first, downloads only when allowed."""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)

#: Environment variable naming the folder searched for checkpoint files given by name.
WEIGHTS_DIR_ENV = "AUDIOFSL_WEIGHTS_DIR"


def weights_dir() -> Path:
    """The folder for pretrained weights: ``$AUDIOFSL_WEIGHTS_DIR``, else
    ``~/.cache/audiofsl/weights``."""
    configured = os.environ.get(WEIGHTS_DIR_ENV)
    return Path(configured) if configured else Path.home() / ".cache" / "audiofsl" / "weights"


def sha256_of(path: str | Path, chunk: int = 1 << 20) -> str:
    """The SHA-256 hex digest of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def verify_sha256(path: Path, expected: str | None, setting: str) -> None:
    """Raises a ValueError naming ``setting`` when ``path``'s SHA-256 is not ``expected``
    (nothing is checked when ``expected`` is None)."""
    if not expected:
        return
    actual = sha256_of(path)
    if actual.lower() != expected.lower():
        raise ValueError(
            f"{setting}: {path} has SHA-256 {actual}, not the expected {expected}. The file is "
            "damaged or another checkpoint; download it again or correct the checksum."
        )


def checkpoint_file(
    checkpoint: str | Path | None,
    *,
    file_name: str,
    url: str | None,
    sha256: str | None = None,
    allow_download: bool = False,
    setting: str = "encoder.checkpoint",
) -> Path:
    """The local checkpoint file of a pretrained encoder, downloaded only when allowed.

    Args:
        checkpoint: a path to the file; None looks for ``file_name`` in :func:`weights_dir`.
        file_name: the published file's name.
        url: where the published file can be downloaded (named in the error).
        sha256: the expected SHA-256 of the file (checked when given).
        allow_download: fetch ``url`` into :func:`weights_dir` when the file is missing.
        setting: the configuration key named in errors.

    Raises:
        FileNotFoundError: saying where to put the file, when it is missing and downloads are
            not allowed.
    """
    path = Path(checkpoint).expanduser() if checkpoint else weights_dir() / file_name
    if path.is_dir():
        path = path / file_name
    if not path.is_file():
        if not allow_download or url is None:
            raise FileNotFoundError(
                f"{setting}: no checkpoint at {path}. Download {url or file_name} and pass its "
                f"path ({setting}=/path/to/{file_name}), or put it in {weights_dir()} (set "
                f"{WEIGHTS_DIR_ENV} to use another folder); {setting.rsplit('.', 1)[0]}"
                ".allow_download=true fetches it."
            )
        _download(url, path)
    verify_sha256(path, sha256, setting)
    return path


def _download(url: str, path: Path) -> None:
    """Fetch ``url`` into ``path`` (through a temporary file, so a broken download leaves
    nothing behind)."""
    from urllib.request import urlretrieve

    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".part")
    log.info("downloading %s to %s", url, path)
    urlretrieve(url, partial)  # noqa: S310 (an https URL from the encoder's settings)
    partial.replace(path)


def is_local_source(source: str | Path) -> bool:
    """True when ``source`` names an existing local folder (not a hub model id)."""
    return Path(source).expanduser().is_dir()


def fingerprint(path: Path) -> str:
    """A cheap identity of a weights file or folder: names, sizes and modification times."""
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    digest = hashlib.sha256()
    for file in files:
        stat = file.stat()
        digest.update(f"{file.name}:{stat.st_size}:{stat.st_mtime_ns};".encode())
    return digest.hexdigest()[:16]
