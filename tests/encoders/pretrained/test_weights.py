import hashlib
from pathlib import Path

import pytest

from audiofsl.encoders.pretrained.weights import WEIGHTS_DIR_ENV, checkpoint_file, verify_sha256


def test_a_local_file_is_found_and_its_checksum_verified(tmp_path):
    path = tmp_path / "model.pth"
    path.write_bytes(b"weights")
    digest = hashlib.sha256(b"weights").hexdigest()
    assert checkpoint_file(path, file_name="model.pth", url=None, sha256=digest) == path
    assert checkpoint_file(tmp_path, file_name="model.pth", url=None) == path  # a folder
    with pytest.raises(ValueError, match=r"encoder\.checkpoint: .*model\.pth has SHA-256"):
        checkpoint_file(path, file_name="model.pth", url=None, sha256="0" * 64)
    verify_sha256(path, None, "x")  # nothing to check


def test_a_missing_file_says_where_to_put_it(tmp_path, monkeypatch):
    monkeypatch.setenv(WEIGHTS_DIR_ENV, str(tmp_path / "weights"))
    with pytest.raises(FileNotFoundError) as error:
        checkpoint_file(None, file_name="Cnn14.pth", url="https://example.org/Cnn14.pth")
    message = str(error.value)
    assert "encoder.checkpoint" in message and "https://example.org/Cnn14.pth" in message
    assert str(tmp_path / "weights") in message and "allow_download=true" in message


def test_downloads_only_when_allowed(tmp_path, monkeypatch):
    fetched = []

    def fake_urlretrieve(url, target):
        fetched.append(url)
        Path(target).write_bytes(b"w")

    monkeypatch.setattr("urllib.request.urlretrieve", fake_urlretrieve)
    monkeypatch.setenv(WEIGHTS_DIR_ENV, str(tmp_path))
    with pytest.raises(FileNotFoundError):
        checkpoint_file(None, file_name="a.pth", url="https://example.org/a.pth")
    assert fetched == []
    path = checkpoint_file(
        None, file_name="a.pth", url="https://example.org/a.pth", allow_download=True
    )
    assert fetched == ["https://example.org/a.pth"] and path.read_bytes() == b"w"
    assert not (tmp_path / "a.pth.part").exists()
