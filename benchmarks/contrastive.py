"""Training speed of COLA and CLAR steps against the same steps on precomputed features (JSON).

What on-device feature extraction and augmentation cost a contrastive training step, at
batch 64 on the paper's architectures:

- **COLA**: EfficientNet-B0 on COLA's 64-band log-mel (25 ms windows, 10 ms hop); each 3 s
  clip gives two random 1 s windows cut on the device, projection Dense(512) + LayerNorm +
  tanh, bilinear similarity, cross-entropy over the batch.
- **CLAR**: ResNet18 on CLAR's 3-channel STFT magnitude/phase/log-mel stack of 5 s clips, two
  views augmented by CLAR's six waveform augmentations, NT-Xent + cross-entropy.

One full step is what a batch costs after it reached the device: views, augmentations and
features on the batch (``ContrastiveMethod.on_after_batch_transfer``), ``training_step``,
backward and an Adam step. The precomputed step feeds the same features, computed once
beforehand, to the same ``training_step``, backward and Adam: the ratio full / precomputed is
the cost of computing features (and augmenting) on the fly, which a precomputed pipeline
avoids at the price of fixed augmentations. Timed in alternating rounds, medians reported.

Usage: ``python benchmarks/contrastive.py [--steps 3] [--warmup 1] [--batch 64]``.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
from pathlib import Path
from types import SimpleNamespace

import torch
from hydra import compose, initialize_config_dir
from methods import Step, time_rounds

from audiofsl.methods import ContrastiveMethod
from audiofsl.runs.composition import build_method

SAMPLE_RATE = 16000
CONF = Path(__file__).resolve().parents[1] / "conf"


def build(experiment: str, overrides: list[str]) -> ContrastiveMethod:
    """The method of an experiment overlay (the data module is not needed for a step)."""
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        output_dir = tempfile.mkdtemp(prefix="audiofsl-bench-")  # nothing is written there
        cfg = compose("train", [f"+experiment={experiment}", "data.root=/unused",
                                f"paths.output_dir={output_dir}", *overrides])  # fmt: skip
    if "n_classes" in cfg.method:
        cfg.method.n_classes = 10
    method = build_method(cfg)
    method.log = lambda *args, **kwargs: None  # no trainer to log to
    return method.train()


def batch_of(seconds: float, batch_size: int, device: torch.device) -> dict:
    audio = 0.1 * torch.randn(batch_size, round(seconds * SAMPLE_RATE), device=device)
    labels = torch.arange(batch_size, device=device) % 10
    return {"audio": audio, "label": labels, "index": torch.arange(batch_size, device=device)}


def steps(method: ContrastiveMethod, batch: dict) -> dict[str, Step]:
    """The full step and the step on features computed once beforehand."""
    optimizer = torch.optim.Adam(method.parameters(), lr=1e-4)
    method._trainer = SimpleNamespace(training=True)  # the training branch of the transfer hook
    precomputed = method.on_after_batch_transfer(dict(batch), 0)

    def optimise(prepared: dict) -> None:
        loss = method.training_step(prepared, 0)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    def full() -> None:
        optimise(method.on_after_batch_transfer(dict(batch), 0))

    def on_precomputed() -> None:
        optimise(precomputed)

    return {"full": full, "precomputed": on_precomputed}


def report(method: ContrastiveMethod, batch: dict, rounds: int, warmup: int, device) -> dict:
    seconds = time_rounds(steps(method.to(device), batch), rounds, warmup, device)
    return {
        "ms_per_step": {name: round(s * 1e3) for name, s in seconds.items()},
        "steps_per_s": {name: round(1 / s, 3) for name, s in seconds.items()},
        "full_vs_precomputed": round(seconds["full"] / seconds["precomputed"], 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3, help="timed steps per candidate")
    parser.add_argument("--warmup", type=int, default=1, help="untimed steps per candidate")
    parser.add_argument("--batch", type=int, default=64, help="clips per batch")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    device = torch.device(args.device)
    torch.manual_seed(0)
    cola = build("fma_cola", [])
    clar = build("esc50_clar", [])
    result = {
        "device": str(device) if device.type == "cpu" else torch.cuda.get_device_name(device),
        "cpu": platform.processor() or platform.machine(),
        "torch_threads": torch.get_num_threads(),
        "batch": args.batch,
        "timing": f"median of {args.steps} steps after {args.warmup} warm-up, alternating rounds",
        "cola_efficientnet_b0": report(
            cola, batch_of(3.0, args.batch, device), args.steps, args.warmup, device
        ),
        "clar_resnet18": report(
            clar, batch_of(5.0, args.batch, device), args.steps, args.warmup, device
        ),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
