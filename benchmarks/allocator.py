"""CPU training steps with and without ``keep_freed_memory`` (JSON).

``python -m audiofsl.train`` makes glibc's malloc keep freed memory (``keep_freed_memory=true``,
:mod:`audiofsl.runs.allocator`): activations above 32 MB are otherwise mapped anew and their pages
faulted in again every step. This times ``trainer.fit`` on the CPU in the ``esc50_*`` overlays'
training shape (the streamed path of ``benchmarks/training_loop.py``: 5-way 1-shot 5-query
episodes of 5 s clips, Conv4 pooling 2 x 2, SpecAugment, Adam) in fresh processes, one with the
C library's defaults and one with the setting, alternating; it reports the median episodes/s,
the minor page faults per step and the peak resident size of each, and the ratio.

Usage: ``python benchmarks/allocator.py [--steps 15] [--rounds 2]``.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time

import lightning as L
import torch

from audiofsl.runs.allocator import keep_freed_memory

MODES = ("default", "keep")


class FaultsPerStep(L.Callback):
    """Minor page faults of every training step after the warm-up."""

    def __init__(self, warmup: int) -> None:
        self.warmup, self.faults = warmup, []
        self._before = 0

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self._before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if batch_idx >= self.warmup:
            self.faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - self._before)


def child(mode: str, steps: int) -> dict:
    """One fit in this process, with the C library's defaults or with the setting."""
    from training_loop import WARMUP_STEPS, StepTimes, compose_run, fit

    applied = keep_freed_memory() if mode == "keep" else False
    with tempfile.TemporaryDirectory(prefix="audiofsl-bench-") as data_dir:
        cfg = compose_run(data_dir, steps, ["data.loader.resident=never"])
        timer, faults = StepTimes(), FaultsPerStep(WARMUP_STEPS)
        fit(cfg, torch.device("cpu"), callbacks=[timer, faults])
    return {
        "applied": applied,
        "episodes_per_s": 1.0 / statistics.median(timer.times[WARMUP_STEPS:]),
        "page_faults_per_step": statistics.median(faults.faults),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def run_child(mode: str, steps: int) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", mode, "--steps", str(steps)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=15, help="training steps per fit")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds per mode")
    parser.add_argument("--child", choices=MODES, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.steps)))
        return
    start = time.perf_counter()
    runs: dict[str, list[dict]] = {mode: [] for mode in MODES}
    for _ in range(args.rounds):
        for mode in MODES:
            runs[mode].append(run_child(mode, args.steps))

    def median(mode: str, key: str) -> float:
        return statistics.median(run[key] for run in runs[mode])

    result = {
        "device": "cpu",
        "torch_threads": torch.get_num_threads(),
        "setting": "5-way 1-shot 5-query, 5 s clips at 16 kHz, Conv4 (pool 2), SpecAugment, "
        "streamed data",
        "timing": f"trainer.fit of {args.steps} steps in a fresh process per mode, median step "
        f"after the warm-up, {args.rounds} alternating rounds",
        "applied": runs["keep"][0]["applied"],
        "episodes_per_s": {mode: round(median(mode, "episodes_per_s"), 3) for mode in MODES},
        "page_faults_per_step": {mode: median(mode, "page_faults_per_step") for mode in MODES},
        "peak_rss_mb": {mode: round(median(mode, "peak_rss_mb")) for mode in MODES},
        "speedup_keep_vs_default": round(
            median("keep", "episodes_per_s") / median("default", "episodes_per_s"), 3
        ),
        "wall_s": round(time.perf_counter() - start, 1),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
