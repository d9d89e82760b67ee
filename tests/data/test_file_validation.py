import logging
import warnings

import numpy as np
import pytest
import torch

from audiofsl.data import ClipRecord, SkippedAudioWarning, load_audio, validate_records
from audiofsl.data.validation import drop_small_classes, require_classes


@pytest.fixture
def mixed_records(tmp_path, tone, write_audio):
    good = [
        write_audio(tmp_path / f"good{i}.wav", tone(300 + 100 * i, 0.05, 8000), 8000)
        for i in range(3)
    ]
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(b"\x00\x01garbage" * 50)
    empty = write_audio(tmp_path / "empty.wav", np.zeros(0, dtype=np.float32), 8000)
    silent = write_audio(tmp_path / "silent.flac", np.zeros(400, dtype=np.float32), 8000)
    nan = tone(300, 0.05, 8000)
    nan[10] = np.nan
    nan = write_audio(tmp_path / "nan.wav", nan, 8000, "FLOAT")
    paths = [good[0], corrupt, good[1], empty, silent, nan, good[2]]
    return [ClipRecord(str(p), "x") for p in paths], [str(p) for p in good]


@pytest.mark.parametrize("num_threads", [1, 3])
def test_unusable_files_are_skipped_with_one_warning(mixed_records, num_threads):
    records, good = mixed_records
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        kept, audio = validate_records(records, 8000, keep_audio=True, num_threads=num_threads)
    assert [r.path for r in kept] == good
    assert [torch.equal(a, load_audio(p, 8000)) for a, p in zip(audio, good, strict=True)] == [
        True
    ] * 3
    assert len(caught) == 1 and caught[0].category is SkippedAudioWarning
    message = str(caught[0].message)
    assert "skipped 4 of 7 audio files" in message
    for name, reason in [
        ("corrupt.wav", "unreadable"),
        ("empty.wav", "empty"),
        ("silent.flac", "silent"),
        ("nan.wav", "non-finite"),
    ]:
        assert any(name in line and reason in line for line in message.splitlines()), name


def test_no_warning_and_no_audio_when_all_files_are_fine(mixed_records):
    records, good = mixed_records
    clean = [r for r in records if r.path in good]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        kept, audio = validate_records(clean, 8000)
    assert kept == clean and audio is None


def test_drop_small_classes_logs_and_keeps_audio_aligned(caplog):
    records = [
        ClipRecord(f"{c}{i}.wav", c) for c, n in [("a", 3), ("b", 1), ("c", 2)] for i in range(n)
    ]
    audio = [torch.full((2,), float(i)) for i in range(len(records))]
    with caplog.at_level(logging.WARNING, logger="audiofsl.data.validation"):
        kept, kept_audio = drop_small_classes(records, audio, 2, "val", "eval_episode")
    assert [r.class_name for r in kept] == ["a", "a", "a", "c", "c"]
    assert [int(a[0]) for a in kept_audio] == [0, 1, 2, 4, 5]
    assert "val split: dropped 1 class(es) with fewer than 2 clips" in caplog.text
    assert "b (1)" in caplog.text
    caplog.clear()
    assert drop_small_classes(records, None, 1, "val", "eval_episode") == (records, None)
    assert caplog.text == ""


def test_require_classes_names_split_and_n_way():
    records = [ClipRecord("a.wav", "a"), ClipRecord("b.wav", "b")]
    require_classes(records, 2, 1, "test", "eval_episode.n_way=2")
    with pytest.raises(ValueError, match=r"test split has 2 usable classes.*n_way=3 needs 3"):
        require_classes(records, 3, 1, "test", "eval_episode.n_way=3")
