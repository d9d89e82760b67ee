"""Inference on users' audio: windows, predict, enrol and embedding export of trained runs."""

from __future__ import annotations

import csv
import json
import logging
import os
import re
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from hydra import compose, initialize_config_dir
from test_entry_points import TINY  # a small synthetic set and a small, fast model

from audiofsl.data.audio_io import load_audio
from audiofsl.data.clips import ClipDataset
from audiofsl.data.records import ClipRecord
from audiofsl.data.windows import WindowDataset, loop_window, window_starts
from audiofsl.enrol import run_enrol
from audiofsl.evaluation import PrototypeScorer
from audiofsl.inference import Predictor, cut_windows, load_model
from audiofsl.inference.audio_files import class_folder_names, find_audio_files, support_classes
from audiofsl.inference.enrolment import Enrolment
from audiofsl.inference.outputs import (
    check_max_rows,
    kept_output_files,
    relative_to_common_folder,
    shorten_middle,
)
from audiofsl.methods.base import CLASS_NAMES_KEY
from audiofsl.predict import run_predict
from audiofsl.runs.composition import build_datamodule, load_run
from audiofsl.train import run_training

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning", "ignore::FutureWarning")

CONF_DIR = Path(__file__).resolve().parents[1] / "conf"
SUPERVISED = ["+experiment=synthetic_supervised", "method.test_by=classifier"]
#: The good files of the mixed folder: (name, seconds, sample rate, format).
GOOD_FILES = [
    ("a_16k.wav", 1.0, 16000, "WAV"),
    ("b_22k.flac", 3.0, 22050, "FLAC"),
    ("c_44k.ogg", 0.2, 44100, "OGG"),
    ("sub/d_8k.wav", 2.5, 8000, "WAV"),
]
TONES = {"low": 250.0, "mid": 1000.0, "high": 3000.0}


def tone(freq: float, seconds: float, rate: int, seed: int = 0) -> np.ndarray:
    """A sine at ``freq`` with a little noise below 3.5 kHz, float32 [T].

    The noise is band-limited so that a file holds the same sound at every sample rate used
    here (8 kHz included): the tests check rate handling, not a tiny model's robustness to
    bandwidth (an 8 kHz file resampled to 16 kHz has nothing above 4 kHz).
    """
    t = np.arange(round(seconds * rate)) / rate
    spectrum = np.fft.rfft(np.random.default_rng(seed).standard_normal(t.size))
    spectrum[np.fft.rfftfreq(t.size, 1 / rate) > 3500] = 0
    noise = 0.02 * np.fft.irfft(spectrum, t.size)
    return (0.5 * np.sin(2 * np.pi * freq * t) + noise).astype(np.float32)


def write(path: Path, wave: np.ndarray, rate: int, fmt: str = "WAV") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, wave, rate, format=fmt, **({"subtype": "VORBIS"} if fmt == "OGG" else {}))
    return path


def compose_run(name: str, overrides: list[str], output_dir: Path, data_dir: Path | None = None):
    paths = [f"paths.output_dir={output_dir}"]
    paths += [f"paths.data_dir={data_dir}"] if data_dir is not None else []
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return compose(config_name=name, overrides=[*overrides, *paths])


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("data_cache")


@pytest.fixture(scope="module")
def protonet_run(tmp_path_factory, data_dir) -> Path:
    cfg = compose_run("train", TINY, tmp_path_factory.mktemp("protonet") / "run", data_dir)
    run_training(cfg)
    return Path(cfg.paths.output_dir)


@pytest.fixture(scope="module")
def classifier_run(tmp_path_factory, data_dir) -> Path:
    output = tmp_path_factory.mktemp("supervised") / "run"
    cfg = compose_run("train", [*SUPERVISED, *TINY], output, data_dir)
    run_training(cfg)
    return Path(cfg.paths.output_dir)


@pytest.fixture(scope="module")
def mixed_folder(tmp_path_factory) -> tuple[Path, list[str], str]:
    """Good files of several formats, lengths and rates; a text file named .wav; a .txt."""
    root = tmp_path_factory.mktemp("mixed")
    good = []
    for index, (name, seconds, rate, fmt) in enumerate(GOOD_FILES):
        freq = list(TONES.values())[index % len(TONES)]
        good.append(str(write(root / name, tone(freq, seconds, rate, seed=index), rate, fmt)))
    broken = root / "broken.wav"
    broken.write_text("not audio\n")
    (root / "notes.txt").write_text("not listed\n")
    return root, sorted([*good, str(broken)]), str(broken)


# ----------------------------------------------------------------- without a run
@pytest.mark.parametrize("length", [1, 5, 8, 9, 43])
@pytest.mark.parametrize("hop", [8, 4, 3])
def test_windows_equal_the_loop_reference_and_the_window_dataset(length, hop):
    wave = torch.randn(length)
    windows = cut_windows(wave, 8, hop)
    starts = window_starts(length, 8, hop)
    reference = torch.stack([loop_window(wave, start, 8) for start in starts])
    assert torch.equal(windows, reference)
    clips = ClipDataset([ClipRecord("clip.wav", "a")], {"a": 0}, 16000, 8 / 16000,
                        crop="start", cache_audio=True, audio=[wave])  # fmt: skip
    dataset = WindowDataset(clips, hop=hop)
    assert torch.equal(windows, torch.stack([item["audio"] for item in dataset]))


def test_audio_files_are_found_in_folders_and_bad_settings_are_named(mixed_folder, tmp_path):
    root, listed, _ = mixed_folder
    assert find_audio_files(root) == listed  # recursive, sorted, .txt left out
    named = [listed[1], str(root / "notes.txt")]
    assert find_audio_files(named) == named  # files named explicitly are kept
    with pytest.raises(FileNotFoundError, match="queries: .*missing"):
        find_audio_files([root / "missing.wav"], setting="queries")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="audio: no audio files"):
        find_audio_files(tmp_path / "empty")
    with pytest.raises(ValueError, match="support: .*no sub-folders"):
        support_classes(tmp_path / "empty")
    assert support_classes(root) == {"sub": [listed[-1]]}


def test_enrolment_prototypes_follow_the_scorer():
    embeddings = torch.tensor([[1.0, 0.0], [3.0, 0.0], [0.0, 2.0]])
    owner = torch.tensor([0, 0, 1])
    plain = Enrolment.from_embeddings(embeddings, owner, ["x", "y"])
    assert torch.allclose(plain.prototypes, torch.tensor([[2.0, 0.0], [0.0, 2.0]]))
    assert plain.distance == "euclidean" and plain.counts == {"x": 2, "y": 1}
    (row,) = plain.assign(torch.tensor([[1.5, 0.5]]), ["q.wav"])
    assert row.label == "x"
    distances = torch.tensor([row.distances["x"], row.distances["y"]])
    assert row.confidence == pytest.approx(float((-distances).softmax(0)[0]))
    scorer = PrototypeScorer(distance="cosine", transform="l2")
    cosine = Enrolment.from_embeddings(embeddings, owner, ["x", "y"], scorer)
    assert torch.allclose(cosine.prototypes, torch.tensor([[1.0, 0.0], [0.0, 1.0]]))
    assert cosine.assign(torch.tensor([[0.1, 5.0]]), ["q"])[0].label == "y"
    with pytest.raises(ValueError, match="every class"):
        Enrolment.from_embeddings(embeddings, owner, ["x", "y", "z"])


# ----------------------------------------------------------------- with trained runs
@pytest.mark.slow
def test_predict_lists_every_readable_file_and_the_unreadable_one(
    classifier_run, mixed_folder, compose_config, data_dir
):
    root, listed, broken = mixed_folder
    cfg = compose_config("predict", [f"run_dir={classifier_run}", f"audio={root}"])
    result = run_predict(cfg)
    good = [path for path in listed if path != broken]
    assert [row.path for row in result["predictions"]] == good
    assert [path for path, _ in result["unreadable"]] == [broken]
    run_cfg = compose_run("train", [*SUPERVISED, *TINY], classifier_run, data_dir)
    names = build_datamodule(run_cfg).train_set.class_names  # the run's training classes
    for row in result["predictions"]:
        probabilities = [p for _, p in row.top]
        assert len(row.top) == 3 and probabilities == sorted(probabilities, reverse=True)
        assert 0.0 < sum(probabilities) <= 1.0 + 1e-6
        assert row.labels == [row.top[0][0]] and {n for n, _ in row.top} <= set(names)
    assert result["csv"].parent == classifier_run / "predictions"  # a new file per call
    with result["csv"].open() as handle:
        rows = list(csv.DictReader(handle))
    assert [r["path"] for r in rows] == good and rows[0]["label_1"] == rows[0]["predicted"]
    written = json.loads(result["json"].read_text())
    assert [u["path"] for u in written["unreadable"]] == [broken]
    assert len(written["predictions"]) == len(good)


@pytest.mark.slow
def test_class_names_given_saved_or_numbered(classifier_run, mixed_folder, caplog):
    paths = [mixed_folder[1][0]]
    names = [f"name{i}" for i in range(10)]
    rows, _ = load_model(classifier_run, class_names=names).predict_files(paths, top_k=20)
    assert len(rows[0].top) == 10 and {n for n, _ in rows[0].top} == set(names)
    with pytest.raises(ValueError, match="class_names: 2 names"):
        load_model(classifier_run, class_names=["a", "b"]).predict_files(paths)
    run_cfg, _, checkpoint = load_run(classifier_run)
    saved = torch.load(checkpoint, map_location="cpu", weights_only=False)[CLASS_NAMES_KEY]
    assert saved == build_datamodule(run_cfg).train_set.class_names  # written by the run
    assert load_model(classifier_run).class_names == saved  # read back, no data rebuilt
    nowhere = load_model(classifier_run)
    nowhere.method.class_names = None  # a checkpoint without names
    with caplog.at_level(logging.WARNING):
        assert nowhere.class_names == [f"class_{i}" for i in range(10)]
    assert "class_names=[NAME,...]" in caplog.text
    max_rows, _ = nowhere.predict_files(paths, combine="max")
    assert max_rows[0].top[0][1] >= rows[0].top[0][1] - 1e-6  # the max is above the mean


@pytest.mark.slow
def test_multi_label_runs_give_every_label_over_the_threshold(classifier_run, mixed_folder):
    config, method, checkpoint = load_run(classifier_run)
    method.multi_label = True  # as a multi-label run, with its tuned threshold
    method.threshold = torch.full((10,), 0.5)
    names = [f"name{i}" for i in range(10)]
    predictor = Predictor(config, method, checkpoint, class_names=names)
    rows, _ = predictor.predict_files(mixed_folder[1], top_k=10)
    for row in rows:  # independent sigmoid probabilities, best first
        assert row.labels == [name for name, p in row.top if p > 0.5]


@pytest.mark.slow
def test_predict_needs_a_classifier(protonet_run, mixed_folder):
    with pytest.raises(ValueError, match="no classifier"):
        load_model(protonet_run).predict_files(mixed_folder[1])


@pytest.mark.slow
def test_windows_and_embeddings_of_files(protonet_run, mixed_folder):
    predictor = load_model(protonet_run, batch_size=4)
    assert (predictor.window, predictor.hop, predictor.sample_rate) == (8000, 8000, 16000)
    root, listed, broken = mixed_folder
    long_file = str(root / "b_22k.flac")  # 3 s: 6 windows of 0.5 s
    wave = load_audio(long_file, 16000)
    windows = predictor.windows(wave)
    reference = torch.stack([loop_window(wave, s, 8000) for s in range(0, 48000, 8000)])
    assert windows.shape == (6, 8000) and torch.equal(windows, reference)
    clip = load_audio(root / "c_44k.ogg", 16000)  # 0.2 s: one window, the clip looped
    short = predictor.windows(clip)
    assert short.shape == (1, 8000) and torch.equal(short[0, : 2 * len(clip)], clip.repeat(2))

    embeddings, failures = predictor.embed_files([long_file, broken, listed[0]])
    assert embeddings.shape == (2, predictor.method.encoder.out_dim)
    assert [path for path, _ in failures] == [broken]
    predictor.method.eval()
    expected = predictor.method.embed_audio(reference).mean(dim=0)
    assert torch.allclose(embeddings[0], expected, atol=1e-5)


@pytest.mark.slow
def test_enrol_assigns_tones_to_their_class(protonet_run, tmp_path):
    predictor = load_model(protonet_run)
    support = {name: [write(tmp_path / "support" / name / "1.wav", tone(freq, 1.0, 16000), 16000)]
               for name, freq in TONES.items()}  # fmt: skip
    enrolment = predictor.enrol(support)
    assert enrolment.classes == list(TONES) and enrolment.counts == dict.fromkeys(TONES, 1)
    queries, expected = [], []
    variants = [(0.3, 8000, "WAV"), (2.2, 44100, "FLAC"), (0.7, 22050, "OGG")]
    for index, (name, freq) in enumerate(TONES.items()):
        for seconds, rate, fmt in variants:
            path = tmp_path / "queries" / f"{name}_{rate}.{fmt.lower()}"
            queries.append(write(path, tone(freq, seconds, rate, seed=index + 1), rate, fmt))
            expected.append(name)
    rows, failures = predictor.classify(queries)
    assert [row.label for row in rows] == expected and not failures
    assert all(1 / 3 < row.confidence <= 1 and set(row.distances) == set(TONES) for row in rows)
    with pytest.raises(ValueError, match="class 'broken' has no readable support file"):
        predictor.enrol({"low": support["low"], "broken": [tmp_path / "none.wav"]})
    with pytest.raises(ValueError, match="no classes enrolled"):
        load_model(protonet_run).classify(queries)


@pytest.mark.slow
def test_enrol_entry_point_writes_the_assignments(protonet_run, mixed_folder, compose_config,
                                                  tmp_path):  # fmt: skip
    for name, freq in TONES.items():
        write(tmp_path / "support" / name / "example.flac", tone(freq, 1.5, 22050), 22050, "FLAC")
    root, listed, broken = mixed_folder
    output = tmp_path / "out" / "assigned.csv"
    overrides = [f"run_dir={protonet_run}", f"support={tmp_path / 'support'}",
                 f"queries=[{listed[0]},{broken}]", f"output_file={output}"]  # fmt: skip
    result = run_enrol(compose_config("enrol", overrides))
    assert [(row.path, row.label) for row in result["assignments"]] == [(listed[0], "low")]
    assert [path for path, _ in result["unreadable"]] == [broken]
    with output.open() as handle:
        (row,) = list(csv.DictReader(handle))
    assert row["label"] == "low" and {"distance_low", "distance_high"} <= set(row)
    written = json.loads(output.with_suffix(".json").read_text())
    assert written["support"] == dict.fromkeys(TONES, 1)

    default = [f"run_dir={protonet_run}", f"support={tmp_path / 'support'}", f"queries={root}"]
    first = run_enrol(compose_config("enrol", default))
    second = run_enrol(compose_config("enrol", [*default, "max_rows=2"]))
    assert first["csv"].parent == second["csv"].parent == protonet_run / "enrolment"
    assert first["csv"] != second["csv"] and first["json"] != second["json"]
    assert first["csv"].read_text() == second["csv"].read_text()  # both kept, every row


@pytest.mark.slow
def test_export_embeddings_writes_arrays_metadata_and_a_projector_log(protonet_run, mixed_folder,
                                                                      tmp_path):  # fmt: skip
    _, listed, broken = mixed_folder
    predictor = load_model(protonet_run)
    labels = [f"label{i}" for i in range(len(listed))]
    written, failures = predictor.export_embeddings(listed, labels, tmp_path / "export")
    good = [(path, label) for path, label in zip(listed, labels, strict=True) if path != broken]
    assert np.load(written["embeddings"]).shape == (len(good), predictor.method.encoder.out_dim)
    with written["metadata"].open() as handle:
        assert [tuple(r) for r in csv.reader(handle)] == [("path", "label"), *good]
    assert [path for path, _ in failures] == [broken]
    assert list(written["tensorboard"].rglob("projector_config.pbtxt"))
    with pytest.raises(ValueError, match="labels: 1 labels"):
        predictor.export_embeddings(listed, ["one"], tmp_path / "other")


# ----------------------------------------------------------------- what predict and enrol print
@pytest.mark.parametrize(
    ("text", "width", "expected"),
    [
        ("a/b/name.wav", 40, "a/b/name.wav"),
        ("violin/long_session_folder/take_03.wav", 24, "violin/long…/take_03.wav"),
        ("folder/a_file_name_longer_than_the_column.wav", 12, "a_fil…mn.wav"),
        ("abc", 1, "…"),
        ("long_folder/name.wav", 10, "…/name.wav"),
        ("long_folder/name.wav", 8, "name.wav"),
    ],
)
def test_long_paths_keep_their_start_and_file_name(text, width, expected):
    shown = shorten_middle(text.replace("/", os.sep), width)
    assert shown == expected.replace("/", os.sep) and len(shown) <= width


def test_paths_are_shown_relative_to_the_folder_holding_them(tmp_path):
    paths = [tmp_path / "myaudio" / "violin" / "a.wav", tmp_path / "myaudio" / "cello" / "b.wav"]
    assert relative_to_common_folder(paths) == (
        str(tmp_path / "myaudio"), [os.path.join("violin", "a.wav"), os.path.join("cello", "b.wav")]
    )  # fmt: skip
    assert relative_to_common_folder([paths[0]]) == (str(paths[0].parent), ["a.wav"])


def test_output_files_never_replace_earlier_ones(tmp_path):
    now = datetime(2026, 11, 21, 10, 0, 0)
    first, first_json = kept_output_files(tmp_path, now)
    assert (first.name, first_json.name) == ("2026-11-21_10-00-00.csv", "2026-11-21_10-00-00.json")
    first.write_text("kept")
    second, _ = kept_output_files(tmp_path, now)
    assert second.name == "2026-11-21_10-00-00_2.csv"
    assert kept_output_files(tmp_path, datetime(2026, 11, 21, 10, 0, 1))[0].name.endswith("01.csv")


@pytest.mark.parametrize("bad", [-1, 2.5, "all", True])
def test_max_rows_must_be_a_count_or_null(bad):
    assert check_max_rows(None) is None and check_max_rows(0) == 0
    with pytest.raises(ValueError, match="max_rows="):
        check_max_rows(bad)


def test_class_folder_layouts_are_recognised(tmp_path):
    for name in ("violin/a.wav", "cello/deep/b.flac", "empty/notes.txt"):
        (tmp_path / "layout" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "layout" / name).write_text("x")
    assert class_folder_names(tmp_path / "layout") == ["cello", "violin"]
    (tmp_path / "layout" / "loose.wav").write_text("x")  # a file beside the folders: no layout
    assert class_folder_names(tmp_path / "layout") == []
    assert class_folder_names(tmp_path / "layout" / "violin") == []  # files only
    assert class_folder_names(tmp_path / "layout" / "violin" / "a.wav") == []


@pytest.fixture(scope="module")
def partly_known_folder(tmp_path_factory, classifier_run) -> tuple[Path, list[str]]:
    """myaudio/<class>/<clip>.wav: two of the run's classes, violin and cello (6 clips each),
    and one deep file with long names; 25 files."""
    root = tmp_path_factory.mktemp("user") / "myaudio"
    known = load_model(classifier_run).class_names[:2]
    for index, name in enumerate([*known, "violin", "cello"]):
        for clip in range(6):
            write(root / name / f"clip_{clip:02d}.wav", tone(300.0 * (index + 1), 0.3, 16000,
                                                              seed=clip), 16000)  # fmt: skip
    deep = root / "violin" / "a_very_long_recording_session_name" / "second_level" / "take_03.wav"
    write(deep, tone(500.0, 0.3, 16000), 16000)
    return root, known


def table_lines(printed: str) -> list[str]:
    """The printed table's body: lines that show one of the files."""
    return [line for line in printed.splitlines() if ".wav" in line and "%" in line]


@pytest.mark.slow
def test_predict_rows_fit_80_columns_and_each_call_is_kept(
    classifier_run, partly_known_folder, compose_config, capsys, monkeypatch
):
    monkeypatch.setenv("COLUMNS", "80")
    root, known = partly_known_folder
    overrides = [f"run_dir={classifier_run}", f"audio={root}", "max_rows=null"]
    first = run_predict(compose_config("predict", overrides))
    printed = capsys.readouterr().out
    rows = table_lines(printed)
    assert len(rows) == 25 and all(len(line) <= 80 for line in printed.splitlines()[:-1])
    assert rows[0].startswith(os.path.join("cello", "clip_00.wav"))  # relative to myaudio
    deep = os.path.join("violin", "a_v"), f"…{os.sep}take_03.wav"
    assert any(line.startswith(deep[0]) and deep[1] in line for line in rows), printed
    assert f"files under {root}" in printed

    second = run_predict(compose_config("predict", overrides[:2]))  # 25 files > max_rows=20
    printed = capsys.readouterr().out
    assert not table_lines(printed) and "max_rows=20" in printed
    counts = [line.split() for line in printed.splitlines() if line.startswith("class_")]
    assert sum(int(words[-1]) for words in counts) == 25
    assert first["csv"] != second["csv"] and first["csv"].is_file() and first["json"].is_file()
    with second["csv"].open() as handle:
        assert len(list(csv.DictReader(handle))) == 25  # the summary's CSV has every row
    assert set(second["unknown_classes"][str(root)]) == {"violin", "cello"}


@pytest.mark.slow
def test_predict_command_warns_about_unknown_classes_and_says_written_once(
    classifier_run, partly_known_folder, tmp_path
):
    root, known = partly_known_folder
    command = [sys.executable, "-m", "audiofsl.predict", f"run_dir={classifier_run}",
               f"audio={root}", f"hydra.run.dir={tmp_path / 'log'}"]  # fmt: skip
    done = subprocess.run(command, cwd=CONF_DIR.parent, capture_output=True, text=True,
                          timeout=600, env={**os.environ, "COLUMNS": "80"})  # fmt: skip
    assert done.returncode == 0, done.stderr
    printed = done.stdout + done.stderr
    assert printed.count("written:") == 1
    (warning,) = [line for line in printed.splitlines() if "not trained on" in line]
    assert re.search(r"not trained on: (.*?)\. Their", warning).group(1) == "cello, violin"
    assert "the run's 10 classes (" in warning  # TINY trains on 10 classes, named here
    assert f"data.root={root} data/split=clips" in printed
    assert not table_lines(printed)  # 25 files: counts per class, not every row
