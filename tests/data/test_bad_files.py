"""A corpus of broken and unusual audio files: each problem is named, the rest is used.

Zero-channel files: libsndfile refuses to open a WAV whose header declares 0 channels ("Channel
count is zero"), so such a file is reported as unreadable (with that reason) rather than by the
index's own "no channels" check.
"""

import io
import logging
import struct
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from audiofsl.data import FolderDataModule, LoaderSettings, load_audio
from audiofsl.data.audio_io import resampled_length
from audiofsl.samplers import EpisodeSpec
from audiofsl.train import run_training

RATE = 16000  # the loader's rate
N_CLASSES = 6
USABLE = ["stereo.wav", "u8.wav", "rate8k.wav", "rate96k.wav", "clip.mp3", "clip.ogg", "clip.flac"]


def tone(seconds, rate, channels=1, seed=0):
    t = np.arange(round(seconds * rate)) / rate
    wave = (0.4 * np.sin(2 * np.pi * (220 + 60 * seed) * t)).astype(np.float32)
    return wave if channels == 1 else np.stack([wave, 0.5 * wave], axis=1)


def bad_corpus(root: Path) -> dict[str, tuple[str, str]]:
    """root/c<k>/*: good clips, unusual but usable files and broken ones.

    Returns:
        {file name: (expected index problem ("" = usable), class)} of the unusual files.
    """
    for c in range(N_CLASSES):
        for i in range(3):
            (root / f"c{c}").mkdir(parents=True, exist_ok=True)
            sf.write(root / f"c{c}" / f"good{i}.wav", tone(0.5, RATE, seed=c), RATE)
    files = {}

    def add(name, klass, problem, writer):
        writer(root / klass / name)
        files[name] = (problem, klass)

    wave = tone(0.5, 44100, seed=1)
    add("stereo.wav", "c0", "", lambda p: sf.write(p, tone(0.5, 44100, 2), 44100))
    add("u8.wav", "c1", "", lambda p: sf.write(p, tone(0.5, 22050), 22050, subtype="PCM_U8"))
    add("rate8k.wav", "c2", "", lambda p: sf.write(p, tone(0.5, 8000, seed=2), 8000))
    add("rate96k.wav", "c3", "", lambda p: sf.write(p, tone(0.5, 96000), 96000, subtype="PCM_24"))
    add("clip.mp3", "c4", "", lambda p: sf.write(p, tone(0.5, 44100, 2), 44100, format="MP3"))
    add("clip.ogg", "c5", "", lambda p: sf.write(p, tone(0.5, 48000), 48000))
    add("clip.flac", "c0", "", lambda p: sf.write(p, tone(0.5, 44100), 44100, subtype="PCM_24"))
    add("short.wav", "c1", "too short", lambda p: sf.write(p, tone(0.05, RATE), RATE))
    add("empty.wav", "c2", "empty (no samples)", lambda p: sf.write(p, wave[:0], 44100))
    add("silent.wav", "c3", "silent", lambda p: sf.write(p, 0 * wave, 44100))
    nan = wave.copy()
    nan[1000] = np.nan
    add("nan.wav", "c4", "non-finite", lambda p: sf.write(p, nan, 44100, subtype="FLOAT"))
    inf = wave.copy()
    inf[-5] = np.inf
    add("inf.wav", "c5", "non-finite", lambda p: sf.write(p, inf, 44100, subtype="DOUBLE"))
    whole = _wav_bytes(wave)
    add("truncated.wav", "c0", "truncated", lambda p: p.write_bytes(whole[: len(whole) // 2]))
    add(
        "random.wav",
        "c1",
        "unreadable",
        lambda p: p.write_bytes(np.random.default_rng(0).bytes(3000)),
    )
    add("notes.wav", "c2", "unreadable", lambda p: p.write_text("not audio, a text file\n"))
    zero = bytearray(whole)
    at = zero.find(b"fmt ") + 10  # the channel count of the fmt chunk
    zero[at : at + 2] = struct.pack("<H", 0)
    add("zero_channels.wav", "c3", "unreadable", lambda p: p.write_bytes(bytes(zero)))
    return files


def _wav_bytes(wave: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, wave, 44100, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("bad_corpus")
    return root, bad_corpus(root)


def module(root, **kwargs):
    loader = LoaderSettings(sample_rate=RATE, clip_seconds=0.25)
    return FolderDataModule(root, loader=loader, eval_needs={}, **kwargs)


def test_the_index_names_each_problem(corpus, caplog):
    root, files = corpus
    source = module(root)
    with caplog.at_level(logging.WARNING):
        kept = [Path(c.record.path).name for c in source.indexed_clips()]
    summary = caplog.text
    assert "skipped 9 of 34 audio files" in summary
    for name, (problem, _) in files.items():
        if problem:
            assert name not in kept
            line = next(line for line in summary.splitlines() if f"/{name}:" in line)
            assert f"{name}: {problem}" in line, line
        else:
            assert name in kept
    assert "Channel count is zero" in summary
    assert "too short (0.050 s < data.loader.min_clip_seconds=0.1)" in summary
    assert len(kept) == N_CLASSES * 3 + 7


@pytest.mark.parametrize("name", USABLE)
def test_usable_files_load_mono_at_the_loader_rate(corpus, name):
    root, files = corpus
    path = root / files[name][1] / name
    info = sf.info(path)
    wave = load_audio(path, RATE)
    assert wave.dim() == 1 and wave.dtype == torch.float32
    assert len(wave) == resampled_length(info.frames, info.samplerate, RATE)
    assert abs(len(wave) / RATE - 0.5) < 0.06  # mp3 adds a few frames of padding
    assert 0.1 < wave.abs().max() < 1.0
    clips = {Path(c.record.path).name: c for c in module(root).indexed_clips()}
    assert clips[name].channels == info.channels and clips[name].sample_rate == info.samplerate


def test_training_and_evaluation_go_on_with_the_rest(corpus):
    root, _ = corpus
    source = module(root, train_sampler=EpisodeSpec(n_way=2, n_shot=1, n_query=2, n_episodes=2))
    source.setup()
    every = [source.train_set, source.val_set, source.test_set]
    names = [Path(r.path).name for dataset in every for r in dataset.records]
    assert len(names) == N_CLASSES * 3 + 7 and set(USABLE) <= set(names)
    batch = next(iter(source.train_dataloader()))
    assert batch["audio"].shape == (6, 4000) and torch.isfinite(batch["audio"]).all()
    for split in ("val", "test"):
        for batch in source.sequential_dataloader(split):
            assert batch["audio"].shape[1] == 4000 and torch.isfinite(batch["audio"]).all()
    for dataset in every:  # every usable clip decodes, whatever its format
        for index in range(len(dataset)):
            assert dataset[index]["audio"].abs().max() > 0.1


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_a_training_run_skips_the_bad_files(corpus, compose_config, tmp_path):
    root, _ = corpus
    overrides = [
        "+debug=fast",
        "data=folder",
        f"data.root={root}",
        "data.split.sizes=[2,2,2]",
        "frontend.n_mels=32",
        "encoder.hidden_channels=16",
        "sampler.n_way=2",
        "sampler.n_shot=1",
        "sampler.n_query=2",
        "sampler.n_episodes=3",
        "trainer.max_epochs=1",
        "evaluation.val.n_way=2",
        "evaluation.val.n_query=2",
        "evaluation.val.n_tasks=5",
        "evaluation.test=[{_target_: audiofsl.evaluation.EpisodeSettings, n_way: 2, "
        "n_shot: 1, n_query: 2, n_tasks: 10, seed: 1}]",
    ]
    metrics = run_training(compose_config("train", overrides, tmp_path / "cache"))
    assert 0.0 <= metrics["test/acc"] <= 1.0
