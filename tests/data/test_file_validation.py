import logging
import os
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from audiofsl.data import ClipRecord, EpisodeNeed, load_audio, validate_records
from audiofsl.data.feasibility import fit_needs, min_clips_to_keep
from audiofsl.data.validation import drop_small_classes


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
def test_unusable_files_are_skipped_with_one_logged_summary(mixed_records, num_threads, caplog):
    records, good = mixed_records
    with caplog.at_level(logging.WARNING, logger="audiofsl.data.validation"):
        kept, audio = validate_records(records, 8000, keep_audio=True, num_threads=num_threads)
    assert [r.path for r in kept] == good
    assert [torch.equal(a, load_audio(p, 8000)) for a, p in zip(audio, good, strict=True)] == [
        True
    ] * 3
    assert len(caplog.records) == 1
    message = caplog.records[0].getMessage()
    assert "skipped 4 of 7 audio files" in message
    for name, reason in [
        ("corrupt.wav", "unreadable"),
        ("empty.wav", "empty"),
        ("silent.flac", "silent"),
        ("nan.wav", "non-finite"),
    ]:
        assert any(name in line and reason in line for line in message.splitlines()), name


def test_no_warning_and_no_audio_when_all_files_are_fine(mixed_records, caplog):
    records, good = mixed_records
    clean = [r for r in records if r.path in good]
    with caplog.at_level(logging.WARNING):
        kept, audio = validate_records(clean, 8000)
    assert kept == clean and audio is None
    assert not caplog.records


def test_clips_far_shorter_than_the_minimum_are_reported(tmp_path, tone, write_audio, caplog):
    blip = write_audio(tmp_path / "blip.wav", tone(440, 0.01, 8000), 8000)
    fine = write_audio(tmp_path / "fine.wav", tone(440, 0.2, 8000), 8000)
    records = [ClipRecord(str(blip), "a"), ClipRecord(str(fine), "a")]
    with caplog.at_level(logging.WARNING):
        kept, _ = validate_records(records, 8000, min_seconds=0.1)
    assert kept == records[1:]
    assert "blip.wav: too short (0.010 s < data.min_clip_seconds=0.1)" in caplog.text
    assert validate_records(records, 8000, min_seconds=0.0)[0] == records


def test_file_names_that_are_not_utf8_load_and_print(tmp_path, tone, caplog):
    raw = os.path.join(os.fsencode(tmp_path), b"caf\xe9.wav")
    sf.write(raw, tone(440, 0.1, 8000), 8000)
    path = os.fsdecode(raw)  # a str with a lone surrogate, as os.listdir returns it
    assert load_audio(path, 8000).shape == (800,)
    broken = os.path.join(os.fsencode(tmp_path), b"bad\xff.wav")
    Path(os.fsdecode(broken)).write_bytes(b"not audio")
    with caplog.at_level(logging.WARNING):
        kept, _ = validate_records(
            [ClipRecord(path, "a"), ClipRecord(os.fsdecode(broken), "a")], 8000
        )
    assert len(kept) == 1
    assert "bad\ufffd.wav: unreadable" in caplog.text


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


def test_episode_needs_lower_evaluation_queries_and_name_settings(caplog):
    counts = Counter({"a": 16, "b": 16, "c": 12, "d": 30})
    val = EpisodeNeed(3, 5, 15, "evaluation.val")
    with caplog.at_level(logging.WARNING):
        lowered = fit_needs("val", counts, [val])
    # The 3rd largest class has 16 clips: 5 shots + 11 queries.
    assert lowered == {"evaluation.val": 11}
    assert "evaluation.val.n_query lowered from 15 to 11" in caplog.text
    assert min_clips_to_keep([val], lowered) == 16
    assert fit_needs("val", counts, [EpisodeNeed(3, 5, 11, "evaluation.val")]) == {}
    train = EpisodeNeed(3, 5, 15, "sampler", adjustable=False)
    with pytest.raises(ValueError, match=r"train split .*Set sampler.n_query=11,"):
        fit_needs("train", counts, [train])
    wide = EpisodeNeed(5, 1, 15, "evaluation.test[1]")
    with pytest.raises(ValueError, match=r"test split has 4 classes.*evaluation.test\[1\].n_way=4"):
        fit_needs("test", counts, [wide])
    few = EpisodeNeed(2, 16, 1, "sampler", adjustable=False)
    with pytest.raises(ValueError, match=r"Set sampler.n_shot=15,"):
        fit_needs("train", counts, [few])
