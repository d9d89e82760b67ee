"""Speed and memory of the data layer: indexing, streaming windows, peak RSS, printed as JSON.

Three parts, each figure paired with a reference measured in the same run on the same machine:

- ``index``: a folder of ``--index-classes`` x ``--index-files`` tiny WAVs (0.1 s of noise at
  8 kHz, 16-bit; written once and kept under ``--workdir``) read by
  ``FolderDataModule(root).indexed_clips()`` with a fresh ``loader.index_dir``. The first (cold)
  run checks every file; its files/s are reported. A second data module on the unchanged tree
  then starts from the CSV index: its start-up time against the cold run's is the ratio (should
  be well below 1). ``scan_folder`` alone (listing the tree) is timed after both, for context.
  The files sit in the OS page cache (they were just written or read): "cold" means no index,
  not a cold disk.
- ``loader``: a ``SyntheticDataModule`` of ``--loader-classes`` x 20 clips of 5 s at 16 kHz
  (70/10/20 % class split), 5-way 1-shot 5-query training episodes. The training DataLoader
  alone (no model) is iterated for ``--episodes`` episodes (or 15 s) after one warm-up, streaming
  each 5 s window from the files (``loader.cache_mb=0``) against the split decoded once into RAM
  (``cache_mb`` large), with 0 workers (torch's default threads, and one thread) and 2 workers;
  best of ``--repeats`` alternating rounds.
  Then a full CPU training step: the time spent fetching a batch from the loader against the
  time of the model step (ProtoNet, Conv4, log-mel 128 with per-example normalisation:
  features, ``training_step``, backward, Adam) over ``--steps`` steps after two warm-up steps;
  the data path's share is ``data / (data + step)`` (goal: at most 5 % when streaming), for
  streaming with 0 and 2 workers and the RAM cache with 0 workers (reference). With workers the
  fetch time is what the step waits for (loading overlaps the previous step). Without workers
  the loader's tensor operations run in the main process with torch's intra-op threads (loader
  workers use one thread each); on a loaded machine their thread synchronisation can dominate,
  so streaming without workers is also measured with one torch thread (model step included).
- ``rss``: peak resident memory of ``python -m audiofsl.train`` (one epoch of 20 episodes,
  small evaluation, 0.5 s clips, ``cache_mb=0`` so every split streams, no loader workers) on a
  synthetic set of ``--rss-classes`` x ``--rss-clips`` clips against one of ``--rss-classes``
  x ``--rss-clips-small`` clips: the ratio should be close to 1. As a check that the peak
  would show data held in memory, the large set is also run with the RAM cache (its peak should
  rise by about its decoded size). The datasets are generated beforehand (timed, once) so the
  training processes only read them. The peak is ``ru_maxrss`` of each training process, read
  by a small launcher process that forks it (see ``_LAUNCHER``).

The machine's load average is reported at the start and after each part: the numbers are only
comparable between runs under similar load.

Usage: ``python benchmarks/data.py [--quick] [--parts index,loader,rss] [--workdir DIR]``.
``--quick``: 10,000 files to index, 20 episodes, 4 steps, one round, rss sets of 5,000 and
1,000 clips (evaluation queries of the small set lowered to 5). Full run: 100,000 files,
40 episodes, 6 steps, two rounds, 20,000 and 2,000 clips. Generated files are kept under
``--workdir`` (default ``$TMPDIR/audiofsl-bench``) and reused by later runs.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from audiofsl.data import (
    ClassSplit,
    FolderDataModule,
    LoaderSettings,
    SyntheticDataModule,
    generate_synthetic_dataset,
    scan_folder,
)
from audiofsl.encoders import Conv4
from audiofsl.frontends import LogMel
from audiofsl.methods import ProtoNet
from audiofsl.samplers import EpisodeSpec

REPO = Path(__file__).resolve().parents[1]
TREE_RATE, TREE_FRAMES = 8000, 800  # 0.1 s
SAMPLE_RATE = 16000
LOADER_CLIP_SECONDS, LOADER_CLIPS_PER_CLASS = 5.0, 20
N_WAY, N_SHOT, N_QUERY = 5, 1, 5
RSS_CLIP_SECONDS = 0.5
_TREE_MARKER = ".complete"
#: Runs a command and writes its peak RSS (KB) and exit code to a file. A child's ru_maxrss
#: starts from the RSS of the process that forked it (Linux keeps the high-water mark across
#: exec), so the training run is forked by this small process, not by the benchmark.
_LAUNCHER = """
import os, subprocess, sys
process = subprocess.Popen(sys.argv[2:])
_, status, usage = os.wait4(process.pid, 0)
process.returncode = os.waitstatus_to_exitcode(status)
with open(sys.argv[1], "w") as result:
    result.write(f"{usage.ru_maxrss} {process.returncode}")
"""


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


@contextlib.contextmanager
def quiet_stdout():
    """Progress bars and logs of the library go to stderr, so stdout holds only the JSON."""
    with contextlib.redirect_stdout(sys.stderr):
        yield


# ----------------------------------------------------------------------------- indexing
def write_tree(root: Path, n_classes: int, files_per_class: int) -> float | None:
    """``root/class_XXXX/clip_XXX.wav``: tiny noise WAVs; seconds taken, None when reused."""
    settings = {"classes": n_classes, "files": files_per_class, "frames": TREE_FRAMES}
    marker = root / _TREE_MARKER
    if marker.is_file() and json.loads(marker.read_text()) == settings:
        return None
    shutil.rmtree(root, ignore_errors=True)
    buffer = io.BytesIO()  # a WAV header written by libsndfile, the same for every file
    sf.write(buffer, np.zeros(TREE_FRAMES, np.int16), TREE_RATE, format="WAV", subtype="PCM_16")
    header = buffer.getvalue()[: -2 * TREE_FRAMES]

    def write_class(c: int) -> None:
        folder = root / f"class_{c:04d}"
        folder.mkdir(parents=True)
        noise = np.random.default_rng(c).normal(0, 3000, (files_per_class, TREE_FRAMES))
        pcm = noise.clip(-32768, 32767).astype("<i2")
        for i in range(files_per_class):
            (folder / f"clip_{i:03d}.wav").write_bytes(header + pcm[i].tobytes())

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(write_class, range(n_classes)))
    marker.write_text(json.dumps(settings))
    return time.perf_counter() - start


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def index_report(workdir: Path, n_classes: int, files_per_class: int) -> dict:
    root = workdir / f"tree-{n_classes}x{files_per_class}"
    written = write_tree(root, n_classes, files_per_class)
    n_files = n_classes * files_per_class
    index_dir = Path(tempfile.mkdtemp(prefix="index-", dir=workdir))
    try:
        settings = LoaderSettings(index_dir=str(index_dir))
        with quiet_stdout():
            cold_s, cold = timed(lambda: FolderDataModule(root, loader=settings).indexed_clips())
            (index_file,) = index_dir.glob("*.csv")
            index_mtime = index_file.stat().st_mtime_ns
            warm_s, warm = timed(lambda: FolderDataModule(root, loader=settings).indexed_clips())
            scan_s, records = timed(lambda: scan_folder(root))
        reused = index_file.stat().st_mtime_ns == index_mtime
        index_mb = index_file.stat().st_size / 2**20
    finally:
        shutil.rmtree(index_dir, ignore_errors=True)
    return {
        "files": n_files,
        "layout": f"{n_classes} class folders x {files_per_class} WAVs of 0.1 s at 8 kHz",
        "tree": "written this run" if written is not None else "reused from an earlier run",
        "tree_write_s": None if written is None else round(written, 1),
        "indexing_threads": 4,
        "cold_s": round(cold_s, 2),
        "cold_files_per_s": round(n_files / cold_s),
        "warm_start_s": round(warm_s, 2),
        "warm_vs_cold_ratio": round(warm_s / cold_s, 3),
        "warm_files_per_s": round(n_files / warm_s),
        "scan_folder_s": round(scan_s, 2),
        "scan_folder_share_of_warm_start": round(scan_s / warm_s, 3),
        "index_csv_mb": round(index_mb, 1),
        "index_reused_unchanged": reused,
        "usable_clips_cold_warm_listed": [len(cold), len(warm), len(records)],
    }


# ----------------------------------------------------------------------------- loading
def loader_module(workdir: Path, n_classes: int, cache_mb: float, workers: int, episodes: int):
    loader = LoaderSettings(
        sample_rate=SAMPLE_RATE,
        clip_seconds=LOADER_CLIP_SECONDS,
        num_workers=workers,
        cache_mb=cache_mb,
        index_dir=str(workdir / "index"),
    )
    return SyntheticDataModule(
        cache_dir=workdir / "synthetic",
        n_classes=n_classes,
        clips_per_class=LOADER_CLIPS_PER_CLASS,
        loader=loader,
        split=ClassSplit(ratios=(0.7, 0.1, 0.2)),
        train_sampler=EpisodeSpec(N_WAY, N_SHOT, N_QUERY, n_episodes=episodes),
        eval_episode=EpisodeSpec(N_WAY, N_SHOT, N_QUERY),
    )


MODES = {"stream": 0.0, "ram_cache": 1e6}
#: A bare-loader measurement stops after this many seconds (once it has MIN_EPISODES).
MAX_ITERATION_S, MIN_EPISODES = 15.0, 5
#: (name, loader workers, torch threads or None for the default) of the bare loader runs.
ITERATION_SETTINGS = (
    ("workers_0", 0, None),
    ("workers_0_torch_threads_1", 0, 1),
    ("workers_2", 2, None),
)
#: (name, mode, workers, torch threads) of the training-step runs; the RAM cache is the reference.
SHARE_SETTINGS = (
    ("stream_workers_0", "stream", 0, None),
    ("ram_cache_workers_0", "ram_cache", 0, None),
    ("stream_workers_2", "stream", 2, None),
    ("stream_workers_0_torch_threads_1", "stream", 0, 1),
)


@contextlib.contextmanager
def torch_threads(threads: int | None):
    """torch's intra-op threads set to ``threads`` inside the block (None: unchanged)."""
    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def iterate_rate(workdir: Path, n_classes: int, mode: str, workers: int, episodes: int):
    """Episodes/s of the bare training loader (after one warm-up episode), set-up seconds.

    The set-up is building the training split and its loader (decoding it for the cache).
    """
    module = loader_module(workdir, n_classes, MODES[mode], workers, episodes + 1)
    with quiet_stdout():
        setup_s, loader = timed(module.train_dataloader)
    dataset = module.train_set
    if dataset.cached != (mode == "ram_cache"):
        raise RuntimeError(f"{mode}: the training split is {dataset!r}")
    iterator = iter(loader)
    next(iterator)
    start = time.perf_counter()
    for done in range(1, episodes + 1):
        next(iterator)
        if done >= MIN_EPISODES and time.perf_counter() - start > MAX_ITERATION_S:
            break
    rate = done / (time.perf_counter() - start)
    del iterator, loader  # stops the workers
    return rate, setup_s, len(dataset)


def model_step() -> Callable[[dict], None]:
    """A CPU ProtoNet training step on an episodic batch: features, loss, backward, Adam."""
    method = ProtoNet(LogMel(sample_rate=SAMPLE_RATE, normalization="per_example"), Conv4())
    method.log = lambda *args, **kwargs: None  # no trainer to log to
    method.train()
    optimizer = method.configure_optimizers()

    def step(batch: dict) -> None:
        # The training branch of FewShotMethod.on_after_batch_transfer (it needs a trainer).
        features = method.augmentation(batch["audio"], method.frontend)
        loss = method.training_step(
            {**batch, "features": features, "n_views": method.augmentation.n_views}, 0
        )
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    return step


def share_report(workdir, n_classes, mode, workers, steps, step: Callable) -> dict:
    """Seconds spent fetching batches against seconds in the model step, after 2 warm-ups."""
    warmup = 2
    module = loader_module(workdir, n_classes, MODES[mode], workers, steps + warmup)
    with quiet_stdout():
        module.setup("fit")
    data_s = step_s = 0.0
    loader = module.train_dataloader()
    iterator = iter(loader)
    for index in range(steps + warmup):
        t0 = time.perf_counter()
        batch = next(iterator)
        t1 = time.perf_counter()
        step(batch)
        t2 = time.perf_counter()
        if index >= warmup:
            data_s += t1 - t0
            step_s += t2 - t1
    del iterator, loader
    return {
        "data_ms_per_step": round(data_s / steps * 1e3, 1),
        "model_step_ms": round(step_s / steps * 1e3, 1),
        "data_share": round(data_s / (data_s + step_s), 4),
    }


def loader_report(workdir: Path, n_classes: int, episodes: int, steps: int, repeats: int):
    n_clips = n_classes * LOADER_CLIPS_PER_CLASS
    generation_s, manifest = timed(
        lambda: generate_synthetic_dataset(
            workdir / "synthetic",
            n_classes=n_classes,
            clips_per_class=LOADER_CLIPS_PER_CLASS,
            clip_seconds=LOADER_CLIP_SECONDS,
            sample_rate=SAMPLE_RATE,
            progress=False,
        )
    )
    with quiet_stdout():  # index the files once, outside the timings
        loader_module(workdir, n_classes, 0.0, 0, 1).indexed_clips()
    rates: dict[tuple[str, str], float] = {}
    setups: dict[str, float] = {}
    train_clips = 0
    for _ in range(repeats):
        for name, workers, threads in ITERATION_SETTINGS:
            for mode in MODES:
                with torch_threads(threads):
                    rate, setup_s, train_clips = iterate_rate(
                        workdir, n_classes, mode, workers, episodes
                    )
                rates[mode, name] = max(rate, rates.get((mode, name), 0.0))
                setups[mode] = min(setup_s, setups.get(mode, float("inf")))
    iteration = {}
    for name, _, _ in ITERATION_SETTINGS:
        stream, cached = rates["stream", name], rates["ram_cache", name]
        iteration[name] = {
            "stream_episodes_per_s": round(stream, 1),
            "ram_cache_episodes_per_s": round(cached, 1),
            "stream_vs_ram_cache_ratio": round(stream / cached, 3),
        }
    torch.manual_seed(0)
    step = model_step()
    share = {}
    for name, mode, workers, threads in SHARE_SETTINGS:
        with torch_threads(threads):
            share[name] = share_report(workdir, n_classes, mode, workers, steps, step)
    best_stream = min(v["data_share"] for k, v in share.items() if k.startswith("stream"))
    return {
        "dataset": (
            f"{n_clips} synthetic clips of {LOADER_CLIP_SECONDS:g} s at {SAMPLE_RATE} Hz "
            f"({n_classes} classes, 70/10/20 % split: {train_clips} training clips, "
            f"{train_clips * LOADER_CLIP_SECONDS * SAMPLE_RATE * 4 / 2**20:.0f} MB decoded)"
        ),
        "generation_s": round(generation_s, 1),
        "files_on_disk_mb": round(
            sum(p.stat().st_size for p in manifest.parent.rglob("*.wav")) / 2**20
        ),
        "episode": f"{N_WAY}-way {N_SHOT}-shot {N_QUERY}-query",
        "iteration": {
            "timing": (
                f"{episodes} episodes (or {MAX_ITERATION_S:g} s, at least {MIN_EPISODES}) "
                f"after 1 warm-up, best of {repeats} rounds"
            ),
            **iteration,
            "stream_setup_s": round(setups["stream"], 2),
            "ram_cache_setup_s": round(setups["ram_cache"], 2),
        },
        "training_step_share": {
            "model": "ProtoNet + Conv4 + LogMel(128, per_example), CPU, Adam",
            "timing": f"mean of {steps} steps after 2 warm-up steps, one run each",
            "torch_threads": torch.get_num_threads(),
            **share,
            "goal_stream_data_share": "<= 0.05",
            "goal_met_with_best_stream_setting": best_stream <= 0.05,
        },
    }


# ----------------------------------------------------------------------------- memory
def peak_rss_run(
    data_dir: Path, run_dir: Path, n_classes: int, clips: int, cache_mb: float = 0
) -> dict:
    """Peak RSS (MB) and wall time of one short ``audiofsl.train`` run on a synthetic set."""
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True)
    command = [
        sys.executable, "-m", "audiofsl.train",
        f"paths.data_dir={data_dir}", f"hydra.run.dir={run_dir}",
        f"data.n_classes={n_classes}", f"data.clips_per_class={clips}",
        f"data.loader.clip_seconds={RSS_CLIP_SECONDS}", f"data.loader.cache_mb={cache_mb:g}",
        "data.loader.num_workers=0", "trainer.max_epochs=1", "trainer.limit_train_batches=20",
        "evaluation.val.n_tasks=20", "evaluation.test.0.n_tasks=50", "logger=csv",
    ]  # fmt: skip
    environment = {**os.environ, "PYTHONUNBUFFERED": "1"}
    result_path = run_dir.parent / f"{run_dir.name}.rss"
    result_path.unlink(missing_ok=True)
    with (run_dir.parent / f"{run_dir.name}.log").open("w") as log_file:
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-c", _LAUNCHER, str(result_path), *command],
            cwd=REPO, stdout=log_file, stderr=subprocess.STDOUT, env=environment, check=False,
        )  # fmt: skip
        wall = time.perf_counter() - start
    peak_kb, exit_code = (int(x) for x in result_path.read_text().split())
    report = {
        "clips": n_classes * clips,
        "cache_mb": cache_mb,
        "peak_rss_mb": round(peak_kb / 1024),
        "wall_s": round(wall, 1),
        "exit_code": exit_code,
    }
    if exit_code != 0:
        lines = (run_dir.parent / f"{run_dir.name}.log").read_text().splitlines()
        report["log_tail"] = lines[-15:]
    return report


def rss_report(workdir: Path, n_classes: int, clips_large: int, clips_small: int) -> dict:
    data_dir = workdir / "rss-data"
    generation_s = {}
    for clips in (clips_small, clips_large):
        seconds, _ = timed(
            lambda clips=clips: generate_synthetic_dataset(
                data_dir / "synthetic",
                n_classes=n_classes,
                clips_per_class=clips,
                clip_seconds=RSS_CLIP_SECONDS,
                sample_rate=SAMPLE_RATE,
                progress=False,
            )
        )
        generation_s[f"{n_classes * clips}_clips"] = round(seconds, 1)
    datasets_before = sorted(p.name for p in (data_dir / "synthetic").iterdir())
    small = peak_rss_run(data_dir, workdir / "rss-runs" / "small", n_classes, clips_small)
    large = peak_rss_run(data_dir, workdir / "rss-runs" / "large", n_classes, clips_large)
    cached = peak_rss_run(
        data_dir, workdir / "rss-runs" / "large-cached", n_classes, clips_large, 100_000
    )
    datasets_after = sorted(p.name for p in (data_dir / "synthetic").iterdir())
    return {
        "run": (
            f"python -m audiofsl.train, {RSS_CLIP_SECONDS:g} s clips, cache_mb=0 (streaming), "
            "num_workers=0, 1 epoch x 20 episodes (5-way 5-shot 5-query), val 20 tasks, "
            "test 50 tasks, csv logger"
        ),
        "generation_s": generation_s,
        "generation": "once per settings; a later run only checks that the files exist",
        "training_processes_generated_nothing": datasets_before == datasets_after,
        "large": large,
        "small_reference": small,
        "large_ram_cache_check": cached,
        "peak_rss_ratio_large_vs_small": round(large["peak_rss_mb"] / small["peak_rss_mb"], 3),
        "decoded_audio_mb_large_small": [
            round(n_classes * clips * RSS_CLIP_SECONDS * SAMPLE_RATE * 4 / 2**20)
            for clips in (clips_large, clips_small)
        ],
        "peak_rss_increase_large_ram_cache_vs_streaming_mb": (
            cached["peak_rss_mb"] - large["peak_rss_mb"]
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes (see the docstring)")
    parser.add_argument("--parts", default="index,loader,rss")
    parser.add_argument("--workdir", default=os.path.join(tempfile.gettempdir(), "audiofsl-bench"))
    parser.add_argument("--index-classes", type=int, default=None)
    parser.add_argument("--index-files", type=int, default=100)
    parser.add_argument("--loader-classes", type=int, default=40)
    parser.add_argument("--episodes", type=int, default=None)
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--rss-classes", type=int, default=100)
    parser.add_argument("--rss-clips", type=int, default=None)
    parser.add_argument("--rss-clips-small", type=int, default=None)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    args = parser.parse_args()
    quick = args.quick
    index_classes = args.index_classes or (100 if quick else 1000)
    episodes = args.episodes or (20 if quick else 40)
    steps = args.steps or (4 if quick else 6)
    repeats = args.repeats or (1 if quick else 2)
    rss_clips = args.rss_clips or (50 if quick else 200)
    rss_clips_small = args.rss_clips_small or (10 if quick else 20)
    if args.threads:
        torch.set_num_threads(args.threads)
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    parts = [p.strip() for p in args.parts.split(",") if p.strip()]

    started = time.perf_counter()
    report: dict = {
        "cpu": platform.processor() or platform.machine(),
        "cpu_cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "quick": quick,
        "workdir": str(workdir),
        "load_average_1_5_15_min": {"start": load()},
    }
    if "index" in parts:
        report["index"] = index_report(workdir, index_classes, args.index_files)
        report["load_average_1_5_15_min"]["after_index"] = load()
    if "loader" in parts:
        report["loader"] = loader_report(workdir, args.loader_classes, episodes, steps, repeats)
        report["load_average_1_5_15_min"]["after_loader"] = load()
    if "rss" in parts:
        report["rss"] = rss_report(workdir, args.rss_classes, rss_clips, rss_clips_small)
        report["load_average_1_5_15_min"]["after_rss"] = load()
    report["benchmark_wall_s"] = round(time.perf_counter() - started, 1)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
