import numpy as np
import pytest

from audiofsl.data import ClipRecord, apply_class_pattern, read_manifest, scan_folder


@pytest.fixture
def folder(tmp_path, write_audio):
    silence = np.zeros(80, dtype=np.float32)
    for rel in [
        "b/2.wav",
        "b/10.flac",
        "a/x.WAV",
        "a/sub/y.ogg",
        ".hidden/z.wav",
        "a/.secret.wav",
        "loose.wav",
    ]:
        write_audio(tmp_path / rel, silence, 8000)
    (tmp_path / "a" / "notes.txt").write_text("not audio")
    (tmp_path / "empty_class").mkdir()
    return tmp_path


def test_scan_folder_is_sorted_and_skips_hidden_and_other_files(folder):
    records = scan_folder(folder)
    relative = [(r.class_name, r.path[len(str(folder)) + 1 :]) for r in records]
    assert relative == [
        ("a", "a/sub/y.ogg"),
        ("a", "a/x.WAV"),
        ("b", "b/10.flac"),
        ("b", "b/2.wav"),
    ]
    assert [r.class_name for r in scan_folder(folder, extensions=("flac",))] == ["b"]


def test_scan_folder_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        scan_folder(tmp_path / "nowhere")
    (tmp_path / "cls").mkdir()
    (tmp_path / "cls" / "a.txt").write_text("x")
    with pytest.raises(ValueError, match=r"<root>/<class>/<clip>"):
        scan_folder(tmp_path)


def test_read_manifest_resolves_paths_from_its_folder(folder, tmp_path):
    manifest = tmp_path / "lists" / "m.csv"
    manifest.parent.mkdir()
    absolute = folder / "a" / "x.WAV"
    manifest.write_text(f"label,path,extra\ndog,../b/2.wav,1\ncat, {absolute} ,2\n")
    assert read_manifest(manifest) == [
        ClipRecord(str(manifest.parent / "../b/2.wav"), "dog"),
        ClipRecord(str(absolute), "cat"),
    ]


def test_read_manifest_errors_name_the_file(folder, tmp_path):
    manifest = tmp_path / "m.csv"
    manifest.write_text("file,label\nb/2.wav,dog\n")
    with pytest.raises(ValueError, match=r"m\.csv' lacks the column\(s\) \['path'\]"):
        read_manifest(manifest)
    manifest.write_text("path,label\nb/2.wav,dog\nb/missing.wav,dog\n")
    with pytest.raises(FileNotFoundError, match=r"m\.csv' lists 1 file.*missing\.wav"):
        read_manifest(manifest)
    manifest.write_text("path,label\nb/2.wav,\n")
    with pytest.raises(ValueError, match="line 2"):
        read_manifest(manifest)
    with pytest.raises(FileNotFoundError, match="absent.csv"):
        read_manifest(tmp_path / "absent.csv")


def test_class_pattern_relabels_from_file_names():
    records = [ClipRecord("d/3/3_theo_12.flac", "3"), ClipRecord("d/3/3_lucas_0.flac", "3")]
    relabelled = apply_class_pattern(records, r"^(\d+_[a-z]+)_\d+$")
    assert [r.class_name for r in relabelled] == ["3_theo", "3_lucas"]
    assert [r.path for r in relabelled] == [r.path for r in records]
    assert [r.class_name for r in apply_class_pattern(records, r"[a-z]+")] == ["theo", "lucas"]
    with pytest.raises(ValueError, match=r"does not match 1 file.*3_lucas_0"):
        apply_class_pattern(records, r"theo")
    with pytest.raises(ValueError, match="data.class_pattern"):
        apply_class_pattern(records, r"(unclosed")
