"""Episodes per second through Lightning's training loop: streamed or resident data, one episode
or several per step (JSON).

Setting: the ``esc50_*`` overlays' training shape on generated audio: 5-way 1-shot 5-query
episodes of 5 s clips at 16 kHz, 128-band log-mel, Conv4 pooling 2 x 2, SpecAugment, Adam. Each
figure is ``trainer.fit`` over one epoch of episodes (no validation), so it counts everything a
real run pays per step: the DataLoader, the transfer, features and augmentation on the device,
forward, backward, the optimiser and Lightning's own hooks.

- **Throughput**: today's path (``data.loader.resident=never``, one episode a step: each
  episode's clips cropped and stacked on the host, then copied) against the resident one
  (``always``: the training clips held on the device once, each episode's windows cut there by
  index), with one episode a step and with ``E`` (``sampler.episodes_per_batch``: one forward
  over E episodes); alternating rounds on the same machine, medians after warm-up steps. The
  ratios are against today's path.
- **Operations per episode**: profiler events of the step (CUDA kernels on a GPU, ``aten``
  operators and inductor's fused C++ kernels on the CPU) divided by its episodes: the launch
  overhead that several episodes a step share, or that a compiled encoder removes
  (``--compile MODE`` adds each resident path with ``callbacks.compile.mode=MODE``).
- **Shares of a step** (a separate fit, synchronising the device at every boundary so the
  times are the device's): data (loader and transfer), frontend, augmentation, forward (the
  training step), backward and optimiser, from Lightning's profiler hooks.

Usage: ``python benchmarks/training_loop.py [--steps 15] [--rounds 2] [--device cuda]
[--episodes-per-batch 16] [--compile reduce-overhead]``.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
from pathlib import Path

import lightning as L
import torch
import torch._inductor.config as inductor_config
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from lightning.pytorch.profilers import SimpleProfiler

from audiofsl.runs.composition import build_datamodule, build_method

CONF = Path(__file__).resolve().parents[1] / "conf"
WARMUP_STEPS = 5


def compose_run(data_dir: str, episodes: int, overrides: list[str]):
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose("train", [
            f"paths.data_dir={data_dir}", f"paths.output_dir={data_dir}/run",
            "data.n_classes=40", "data.clips_per_class=10", "data.split.sizes=[30,5,5]",
            "data.loader.clip_seconds=5", "encoder.pool=2",
            "sampler.n_way=5", "sampler.n_shot=1", "sampler.n_query=5",
            f"sampler.n_episodes={episodes}", "augmentation=specaugment", *overrides,
        ])  # fmt: skip


class StepTimes(L.Callback):
    """Wall-clock time of every training step, batch fetch included (device synchronised)."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self._last: float | None = None

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if pl_module.device.type == "cuda":
            torch.cuda.synchronize(pl_module.device)
        now = time.perf_counter()
        if self._last is not None:
            self.times.append(now - self._last)
        self._last = now


class DeviceProfiler(SimpleProfiler):
    """Lightning's SimpleProfiler, synchronising the device before every start and stop."""

    def __init__(self, device: torch.device, dirpath: str) -> None:
        super().__init__(dirpath=dirpath, filename="profile")  # the report goes to a file
        self.device = device

    def _sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def start(self, action_name: str) -> None:
        self._sync()
        super().start(action_name)

    def stop(self, action_name: str) -> None:
        self._sync()
        super().stop(action_name)


def fit(cfg, device: torch.device, profiler=None, callbacks=()) -> L.LightningModule:
    torch.manual_seed(0)
    datamodule = build_datamodule(cfg)
    method = build_method(cfg)
    trainer = L.Trainer(
        accelerator=device.type, devices=1, max_epochs=1, limit_val_batches=0,
        num_sanity_val_steps=0, logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False, profiler=profiler,
        callbacks=[*callbacks, instantiate(cfg.callbacks.compile)],
    )  # fmt: skip
    if profiler is not None:
        frontend = method.frontend
        frontend.register_forward_pre_hook(lambda *_: profiler.start("frontend"))
        frontend.register_forward_hook(lambda *_: profiler.stop("frontend"))
    trainer.fit(method, datamodule=datamodule)
    return method


class OpCounter(L.Callback):
    """Profiler events of ``steps`` training steps after the warm-up."""

    def __init__(self, steps: int = 2) -> None:
        self.steps, self.events = steps, 0
        self._profile: torch.profiler.profile | None = None

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if batch_idx == WARMUP_STEPS:
            activities = [torch.profiler.ProfilerActivity.CPU]
            if pl_module.device.type == "cuda":
                activities.append(torch.profiler.ProfilerActivity.CUDA)
            self._profile = torch.profiler.profile(activities=activities)
            self._profile.__enter__()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if self._profile is not None and batch_idx == WARMUP_STEPS + self.steps - 1:
            self._profile.__exit__(None, None, None)
            cuda = pl_module.device.type == "cuda"

            def counted(event) -> bool:
                if cuda:
                    return event.device_type == torch.autograd.DeviceType.CUDA
                return event.name.startswith(("aten::", "cpp_fused"))

            self.events = sum(1 for event in self._profile.events() if counted(event))
            self._profile = None


def episodes_per_second(cfg, device: torch.device) -> float:
    timer = StepTimes()
    fit(cfg, device, callbacks=[timer])
    return cfg.sampler.episodes_per_batch / statistics.median(timer.times[WARMUP_STEPS:])


def operations_per_episode(cfg, device: torch.device) -> float:
    counter = OpCounter()
    fit(cfg, device, callbacks=[counter])
    return counter.events / (counter.steps * cfg.sampler.episodes_per_batch)


def shares(cfg, device: torch.device) -> dict[str, float]:
    """Fractions of the profiled step time spent in each part."""
    profiler = DeviceProfiler(device, cfg.paths.output_dir)
    method = fit(cfg, device, profiler=profiler)
    name = type(method).__name__

    def total(fragment: str) -> float:
        return sum(sum(times[WARMUP_STEPS:]) for action, times in
                   profiler.recorded_durations.items() if action.endswith(fragment))  # fmt: skip

    parts = {
        "data": total("train_dataloader_next") + total(f"{name}.transfer_batch_to_device"),
        "features": total(f"{name}.on_after_batch_transfer"),
        "frontend": total("frontend"),
        "forward": total("Strategy.training_step"),
        "backward": total("Strategy.backward"),
        "optimizer_step": total(f"{name}.optimizer_step"),
        "zero_grad": total(f"{name}.optimizer_zero_grad"),
    }
    # The optimiser step wraps the closure (training step and backward).
    optimiser = parts["optimizer_step"] - parts["forward"] - parts["backward"]
    step = {
        "data": parts["data"],
        "frontend": parts["frontend"],
        "augmentation": parts["features"] - parts["frontend"],
        "forward": parts["forward"],
        "backward": parts["backward"],
        "optimiser": optimiser + parts["zero_grad"],
    }
    whole = sum(step.values())
    return {key: round(value / whole, 3) for key, value in step.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=15, help="training steps per fit")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds per path")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument(
        "--episodes-per-batch", type=int, default=None,
        help="E of the several-episodes path (default: 16 on CUDA, 4 on the CPU)",
    )  # fmt: skip
    parser.add_argument(
        "--compile", default=None, metavar="MODE",
        help="also time the resident paths with callbacks.compile.mode=MODE",
    )  # fmt: skip
    args = parser.parse_args()
    device = torch.device(args.device)
    # inductor's C++ kernels record themselves in the profiler: they count as operations
    inductor_config.cpp.enable_kernel_profile = True
    several = args.episodes_per_batch or (16 if device.type == "cuda" else 4)
    paths = {
        "streamed": ["data.loader.resident=never"],
        "resident": ["data.loader.resident=always"],
        f"resident_{several}_per_step": ["data.loader.resident=always",
                                         f"sampler.episodes_per_batch={several}"],
    }  # fmt: skip
    if args.compile:
        for key in [key for key in paths if key.startswith("resident")]:
            paths[f"{key}_compiled"] = [*paths[key], f"callbacks.compile.mode={args.compile}"]
    with tempfile.TemporaryDirectory(prefix="audiofsl-bench-") as data_dir:
        configs = {}
        for key, extra in paths.items():
            per_step = several if "per_step" in key else 1
            configs[key] = compose_run(data_dir, args.steps * per_step, extra)
        rates: dict[str, list[float]] = {key: [] for key in paths}
        for _ in range(args.rounds):
            for key, cfg in configs.items():
                rates[key].append(episodes_per_second(cfg, device))
        operations = {
            key: round(operations_per_episode(cfg, device)) for key, cfg in configs.items()
        }
        profile = {key: shares(configs[key], device) for key in ("streamed", "resident")}
    rate = {key: statistics.median(values) for key, values in rates.items()}
    result = {
        "device": str(device) if device.type == "cpu" else torch.cuda.get_device_name(device),
        "cpu": platform.processor() or platform.machine(),
        "torch_threads": torch.get_num_threads(),
        "setting": "5-way 1-shot 5-query, 5 s clips at 16 kHz, Conv4 (pool 2), SpecAugment",
        "compile_mode": args.compile,
        "timing": f"trainer.fit of {args.steps} steps, median step after {WARMUP_STEPS} "
        f"warm-up steps, {args.rounds} alternating rounds",
        "episodes_per_s": {key: round(value, 2) for key, value in rate.items()},
        "vs_streamed": {key: round(value / rate["streamed"], 3) for key, value in rate.items()},
        "operations_per_episode": operations,
        "step_shares": profile,
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
