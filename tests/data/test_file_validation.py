import logging
import os
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

import audiofsl.data.index as index_module
from audiofsl.data import ClipRecord, EpisodeNeed, index_clips, load_audio
from audiofsl.data.feasibility import fit_needs, min_clips_to_keep, ordinal
from audiofsl.data.index import report_unusable
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


@pytest.mark.parametrize("check", ["quick", "full"])
def test_indexing_records_each_problem_and_summarises_it(mixed_records, check, caplog):
    records, good = mixed_records
    clips = index_clips(records, check=check, num_threads=2, progress=False)
    assert [c.record for c in clips] == records
    assert [c.record.path for c in clips if c.usable] == good
    reasons = {Path(c.record.path).name: c.problem for c in clips}
    assert reasons["corrupt.wav"].startswith("unreadable")
    assert reasons["empty.wav"].startswith("empty")
    assert reasons["silent.flac"].startswith("silent")
    assert reasons["nan.wav"].startswith("non-finite")
    good_clip = next(c for c in clips if c.usable)
    assert (good_clip.frames, good_clip.sample_rate, good_clip.channels) == (400, 8000, 1)
    with caplog.at_level(logging.WARNING):
        report_unusable(clips)
    assert len(caplog.records) == 1
    message = caplog.records[0].getMessage()
    assert "skipped 4 of 7 audio files" in message and "corrupt.wav: unreadable" in message


def test_a_truncated_wav_is_found_from_its_header(tmp_path, tone, write_audio):
    path = write_audio(tmp_path / "cut.wav", tone(300, 1.0, 8000), 8000, "PCM_16")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    (clip,) = index_clips([ClipRecord(str(path), "a")], progress=False)
    assert clip.problem.startswith("truncated (the header announces")


def test_a_second_index_reuses_unchanged_files_and_checks_changed_ones(mixed_records, tmp_path):
    records, good = mixed_records
    index = tmp_path / "index" / "source.csv"
    first = index_clips(records, index, progress=False)
    calls = []
    original = index_module.inspect
    index_module.inspect = lambda record, check: calls.append(record) or original(record, check)
    try:
        assert index_clips(records, index, progress=False) == first
        assert calls == []  # nothing re-read
        Path(good[0]).write_bytes(b"now broken")
        again = index_clips(records, index, progress=False)
    finally:
        index_module.inspect = original
    assert [r.path for r in calls] == [good[0]]
    assert again[0].problem.startswith("unreadable") and again[1:] == first[1:]
    assert "path,class_name,labels,fold,split,group,frames" in index.read_text().splitlines()[0]


def test_file_names_that_are_not_utf8_index_load_and_print(tmp_path, tone, caplog):
    raw = os.path.join(os.fsencode(tmp_path), b"caf\xe9.wav")
    sf.write(raw, tone(440, 0.1, 8000), 8000)
    path = os.fsdecode(raw)  # a str with a lone surrogate, as os.listdir returns it
    assert load_audio(path, 8000).shape == (800,)
    broken = os.path.join(os.fsencode(tmp_path), b"bad\xff.wav")
    Path(os.fsdecode(broken)).write_bytes(b"not audio")
    records = [ClipRecord(path, "a"), ClipRecord(os.fsdecode(broken), "a")]
    clips = index_clips(records, tmp_path / "index.csv", progress=False)
    assert clips[0].usable and not clips[1].usable
    assert index_clips(records, tmp_path / "index.csv", progress=False) == clips  # CSV round trip
    with caplog.at_level(logging.WARNING):
        report_unusable(clips)
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
        fitted = fit_needs("val", counts, [val])
    # The 3rd largest class has 16 clips: 5 shots + 11 queries.
    assert fitted == {"evaluation.val": EpisodeNeed(3, 5, 11, "evaluation.val")}
    assert "evaluation.val.n_query lowered from 15 to 11" in caplog.text
    assert "its 3rd largest class has 16 clips" in caplog.text
    assert min_clips_to_keep([val], fitted) == 16
    assert fit_needs("val", counts, [EpisodeNeed(3, 5, 11, "evaluation.val")]) == {}
    train = EpisodeNeed(3, 5, 15, "sampler", adjustable=False)
    with pytest.raises(ValueError, match=r"train split .*3rd largest.*set sampler.n_query=11 or"):
        fit_needs("train", counts, [train])
    wide = EpisodeNeed(5, 1, 15, "evaluation.test.1")
    with pytest.raises(ValueError, match=r"test split has 4 cl.*set evaluation.test.1.n_way=4 or"):
        fit_needs("test", counts, [wide])
    few = EpisodeNeed(2, 16, 1, "sampler", adjustable=False)
    with pytest.raises(ValueError, match=r"2nd largest .*set sampler.n_shot=15 or"):
        fit_needs("train", counts, [few])


def test_fitting_n_way_lowers_it_to_the_classes_that_hold_enough_clips(caplog):
    counts = Counter({"a": 16, "b": 16, "c": 12, "d": 3})
    wide = EpisodeNeed(5, 5, 15, "evaluation.test.0")
    with caplog.at_level(logging.WARNING):
        fitted = fit_needs("test", counts, [wide], fit_n_way=True)
    # 3 classes hold more than 5 clips; the 3rd largest has 12: 5 shots + 7 queries.
    assert fitted == {"evaluation.test.0": EpisodeNeed(3, 5, 7, "evaluation.test.0")}
    assert "evaluation.test.0.n_way lowered from 5 to 3" in caplog.text
    train = EpisodeNeed(4, 5, 10, "sampler", adjustable=False)
    assert fit_needs("train", counts, [train], fit_n_way=True)["sampler"].n_way == 2
    single = Counter({"a": 30, "b": 3})  # one class only holds an episode's clips
    advice = "set sampler.n_way=2 sampler.n_shot=2 sampler.n_query=1 or"
    with pytest.raises(ValueError, match=advice):
        fit_needs("train", single, [train], fit_n_way=True)


@pytest.mark.parametrize(
    ("n", "expected"),
    [(1, "1st"), (2, "2nd"), (3, "3rd"), (4, "4th"), (11, "11th"), (12, "12th"), (13, "13th"),
     (21, "21st"), (22, "22nd"), (23, "23rd"), (101, "101st"), (111, "111th"), (112, "112th")],
)  # fmt: skip
def test_ordinals(n, expected):
    assert ordinal(n) == expected
