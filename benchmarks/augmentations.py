"""Speed of audiofsl's waveform augmentations, printed as JSON.

1. Each transform that torch-audiomentations also has is timed on both sides on the same
   batch (64 clips of 5 s at 16 kHz, CPU), with p=1 and per-example parameters on both sides
   (torch-audiomentations ``mode="per_example"``); ``ratio`` is the peer's time over ours.
   Transforms only audiofsl has are timed too. The file-based transforms read noise clips and
   impulse responses written to a temporary folder. Without torch-audiomentations installed
   only our timings are printed.
2. The share of the waveform augmentation (the ``magcil_wave`` preset) and the log-mel
   frontend in a full CPU training step of ProtoNet (5-way 5-shot 5-query episodes of 5 s
   clips, Conv4), against the same step without augmentation.

Times are the best of ``--repeats`` rounds in which the two sides take turns. On a shared
machine, ``--threads 1 --clock cpu`` (process CPU time of a single thread) gives the steadiest
ratios.

Usage: ``python benchmarks/augmentations.py [--batch 64] [--seconds 5] [--repeats 3]
[--threads N] [--clock wall|cpu]``.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
import types
import warnings
from collections.abc import Callable
from pathlib import Path

import soundfile as sf
import torch
from omegaconf import OmegaConf

import audiofsl.augmentations as ours
from audiofsl.encoders import Conv4
from audiofsl.frontends import LogMel
from audiofsl.heads import PrototypeHead
from audiofsl.losses import PrototypicalLoss
from audiofsl.samplers.layout import split_episode

SAMPLE_RATE = 16000
N_WAY, N_SHOT, N_QUERY = 5, 5, 5
CONF = Path(__file__).resolve().parents[1] / "conf" / "augmentation"


def write_sound_files(folder: Path) -> tuple[Path, Path]:
    """Eight noise clips (3 s) and eight impulse responses (0.4 s decaying noise) as wav."""
    generator = torch.Generator().manual_seed(0)
    noise_dir, ir_dir = folder / "noise", folder / "ir"
    noise_dir.mkdir()
    ir_dir.mkdir()
    for index in range(8):
        noise = 0.1 * torch.randn(3 * SAMPLE_RATE, generator=generator)
        sf.write(noise_dir / f"noise_{index}.wav", noise.numpy(), SAMPLE_RATE)
        t = torch.arange(int(0.4 * SAMPLE_RATE)) / SAMPLE_RATE
        decay = torch.exp(-t / (0.05 + 0.02 * index))
        response = torch.randn(t.numel(), generator=generator) * decay
        sf.write(ir_dir / f"ir_{index}.wav", (response / response.abs().max()).numpy(), SAMPLE_RATE)
    return noise_dir, ir_dir


CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}
clock = CLOCKS["wall"]


def best_times(functions: list[Callable[[], object]], repeats: int) -> list[float]:
    """Best wall time of each function over ``repeats`` rounds (one warm-up call each).

    The functions take turns within a round, so a busy machine slows them alike.
    """
    for function in functions:
        function()
    best = [float("inf")] * len(functions)
    for _ in range(repeats):
        for index, function in enumerate(functions):
            start = clock()
            function()
            best[index] = min(best[index], clock() - start)
    return best


def patch_torchaudio_io() -> list[str]:
    """Gives torchaudio the ``info``/``load`` that torch-audiomentations' file reading calls.

    torchaudio 2.9+ removed ``torchaudio.info`` (and ``load`` needs an extra decoder); this
    benchmark-only patch reads files with soundfile instead.
    """
    import torchaudio

    patched = []
    if not hasattr(torchaudio, "info"):

        def info(path: str) -> types.SimpleNamespace:
            meta = sf.info(path)
            return types.SimpleNamespace(num_frames=meta.frames, sample_rate=meta.samplerate)

        torchaudio.info = info
        patched.append("torchaudio.info")

    def load(path: str, frame_offset: int = 0, num_frames: int = -1, **_: object):
        data, rate = sf.read(
            path, start=frame_offset, frames=num_frames, dtype="float32", always_2d=True
        )
        return torch.from_numpy(data.T.copy()), rate

    torchaudio.load = load
    patched.append("torchaudio.load")
    return patched


def transform_pairs(noise_dir: Path, ir_dir: Path, peer) -> dict[str, tuple]:
    """Name -> (our transform, the peer's transform or None), all with p=1."""
    sr = SAMPLE_RATE
    kw = {"mode": "per_example", "p": 1.0, "sample_rate": sr, "output_type": "dict"}

    def p(name: str, *args, **kwargs):
        return None if peer is None else getattr(peer, name)(*args, **kwargs, **kw)

    return {
        "Gain": (ours.Gain(-6, 6, p=1), p("Gain", -6, 6)),
        "PolarityInversion": (ours.PolarityInversion(p=1), p("PolarityInversion")),
        "TimeInversion": (ours.TimeInversion(p=1), p("TimeInversion")),
        "Shift": (ours.Shift(-0.5, 0.5, p=1), p("Shift", -0.5, 0.5, rollover=True)),
        "ColoredNoise": (
            ours.ColoredNoise(3, 30, min_decay=-2, max_decay=2, p=1),
            p("AddColoredNoise", 3, 30, -2, 2),
        ),
        "LowPass": (ours.LowPass(sr, 150, 7500, p=1), p("LowPassFilter", 150, 7500)),
        "HighPass": (ours.HighPass(sr, 20, 2400, p=1), p("HighPassFilter", 20, 2400)),
        "BandPass": (ours.BandPass(sr, p=1), p("BandPassFilter", 200, 4000, 0.5, 1.99)),
        "BandStop": (ours.BandStop(sr, p=1), p("BandStopFilter", 200, 4000, 0.5, 1.99)),
        "PitchShift": (ours.PitchShift(-4, 4, p=1), p("PitchShift", -4, 4)),
        "BackgroundNoise": (
            ours.BackgroundNoise(noise_dir, sr, 3, 30, p=1),
            p("AddBackgroundNoise", noise_dir, 3, 30),
        ),
        "ImpulseResponse": (
            ours.ImpulseResponse(ir_dir, sr, p=1),
            p("ApplyImpulseResponse", ir_dir),
        ),
        "Fade": (ours.Fade(p=1), None),
        "TimeMasking": (ours.TimeMasking(5, 0.01, p=1), None),
        "SpliceOut": (ours.SpliceOut(8, 400, p=1), None),
        "TimeStretch": (ours.TimeStretch(0.9, 1.1, p=1), None),
        "Mixup": (ours.Mixup(0.4), None),
    }


def compare_transforms(audio: torch.Tensor, repeats: int) -> dict:
    try:
        import torch_audiomentations as peer
    except Exception:  # missing, or its torchaudio was built for another torch (OSError)
        peer = None
    report: dict = {"peer": None if peer is None else f"torch-audiomentations {peer.__version__}"}
    if peer is not None:
        report["peer_patches"] = patch_torchaudio_io()
    rows = {}
    with tempfile.TemporaryDirectory() as folder:
        noise_dir, ir_dir = write_sound_files(Path(folder))
        try:
            pairs = transform_pairs(noise_dir, ir_dir, peer)
        except Exception as error:  # the peer's constructors read files
            report["peer_error"] = f"{type(error).__name__}: {error}"
            pairs = transform_pairs(noise_dir, ir_dir, None)
        batch3d = audio[:, None, :]
        for name, (mine, theirs) in pairs.items():
            functions = [lambda m=mine: m(audio)]
            if theirs is not None:
                functions.append(lambda t=theirs: t(batch3d).samples)
            try:
                times = best_times(functions, repeats)
            except Exception as error:  # the peer failed: time ours alone
                times = best_times(functions[:1], repeats)
                rows[name] = {"peer_error": f"{type(error).__name__}: {error}"[:200]}
            row = rows.setdefault(name, {})
            row["ours_s"] = round(times[0], 4)
            if len(times) == 2:
                row["peer_s"] = round(times[1], 4)
                row["ratio"] = round(times[1] / times[0], 2)
    report["transforms"] = rows
    return report


def training_step_share(steps: int, seconds_per_clip: float) -> dict:
    """Time of a CPU ProtoNet step with the magcil_wave preset + log-mel, and without."""
    data = {"loader": {"sample_rate": SAMPLE_RATE}}  # what the preset's interpolations read
    config = OmegaConf.create({"data": data, "aug": OmegaConf.load(CONF / "magcil_wave.yaml")})
    from hydra.utils import instantiate

    pipeline = instantiate(config.aug)
    frontend = LogMel(sample_rate=SAMPLE_RATE, normalization="per_example")
    encoder = Conv4(n_features=frontend.n_features)
    head, loss_fn = PrototypeHead(), PrototypicalLoss()
    optimizer = torch.optim.Adam(encoder.parameters(), lr=1e-3)
    labels = torch.arange(N_WAY).repeat_interleave(N_QUERY)
    audio = torch.randn(N_WAY * (N_SHOT + N_QUERY), int(seconds_per_clip * SAMPLE_RATE))
    totals = {"augmentation": 0.0, "frontend": 0.0}

    def step(augment: bool) -> None:
        start = clock()
        waves = pipeline.waveform(audio) if augment else audio
        middle = clock()
        features = frontend(waves)
        end = clock()
        if augment:
            totals["augmentation"] += middle - start
            totals["frontend"] += end - middle
        support, query = split_episode(encoder(features), N_WAY, N_SHOT, N_QUERY)
        loss = loss_fn(head(support, query), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    step(False)  # warm-up
    step(True)
    totals.update(augmentation=0.0, frontend=0.0)
    result = {False: 0.0, True: 0.0}
    for _ in range(steps):  # alternating, so a busy machine slows both alike
        for augment in (False, True):
            start = clock()
            step(augment)
            result[augment] += (clock() - start) / steps
    augmentation, frontend_s = totals["augmentation"] / steps, totals["frontend"] / steps
    return {
        "setting": f"ProtoNet + Conv4, {N_WAY}-way {N_SHOT}-shot {N_QUERY}-query, "
        f"{seconds_per_clip:g} s clips, log-mel 128, magcil_wave preset",
        "step_s_without_augmentation": round(result[False], 4),
        "step_s_with_augmentation": round(result[True], 4),
        "augmentation_s": round(augmentation, 4),
        "frontend_s": round(frontend_s, 4),
        "share_augmentation": round(augmentation / result[True], 3),
        "share_augmentation_and_frontend": round((augmentation + frontend_s) / result[True], 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--train-steps", type=int, default=5)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    parser.add_argument("--clock", choices=sorted(CLOCKS), default="wall")
    args = parser.parse_args()
    global clock
    clock = CLOCKS[args.clock]
    if args.threads:
        torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore")
    torch.manual_seed(0)
    audio = 0.1 * torch.randn(args.batch, int(args.seconds * SAMPLE_RATE))
    report = {
        "device": "cpu",
        "cpu": platform.processor() or platform.machine(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "clock": args.clock,
        "batch": f"{args.batch} x {args.seconds:g} s at {SAMPLE_RATE} Hz, p=1, per example",
        **compare_transforms(audio, args.repeats),
        "training_step": training_step_share(args.train_steps, args.seconds),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
