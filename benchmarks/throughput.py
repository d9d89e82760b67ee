"""Throughput of ProtoNet + CRNN training and evaluation, printed as JSON.

Setting: 5-way 5-shot 5-query training episodes of 5 s clips at 16 kHz (MetaAudio's log-mel
frontend, CRNN "Hybrid" encoder), evaluation of 5-way 5-shot 15-query tasks.

Each figure is paired with a reference measured in the same run on the same machine:

- training: features computed clip by clip in a Python loop before the batched step, as
  one-off scripts do in their dataset's ``__getitem__``, against the batched frontend on the
  batch's device that audiofsl uses;
- evaluation: re-embedding every task's support and query clips (the usual per-task loop),
  against embedding each test clip once and drawing all tasks from the cached embeddings.

Usage: ``python benchmarks/throughput.py [--train-steps 20] [--eval-classes 20]``.
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import torch

from audiofsl.encoders import CRNN
from audiofsl.evaluation import evaluate_embeddings, sample_episodes
from audiofsl.frontends import LogMel
from audiofsl.heads import PrototypeHead
from audiofsl.losses import PrototypicalLoss
from audiofsl.samplers.layout import split_episode

SAMPLE_RATE = 16000
CLIP_SAMPLES = 5 * SAMPLE_RATE
N_WAY, N_SHOT, N_QUERY, EVAL_QUERY = 5, 5, 5, 15


def build(device: torch.device) -> tuple[LogMel, CRNN]:
    frontend = LogMel(sample_rate=SAMPLE_RATE, normalization="per_example").to(device)
    encoder = CRNN(n_features=frontend.n_features, rnn_type="lstm").to(device)
    return frontend, encoder


def training_rate(device: torch.device, steps: int, per_example_frontend: bool) -> float:
    """Training episodes per second (after two warm-up steps)."""
    frontend, encoder = build(device)
    head, loss_fn = PrototypeHead(), PrototypicalLoss()
    optimizer = torch.optim.Adam(encoder.parameters(), lr=1e-3)
    labels = torch.arange(N_WAY, device=device).repeat_interleave(N_QUERY)
    audio = torch.randn(N_WAY * (N_SHOT + N_QUERY), CLIP_SAMPLES)
    # The reference computes features in its dataset's __getitem__: on the host, clip by clip.
    host_frontend = LogMel(sample_rate=SAMPLE_RATE, normalization="per_example")
    for step in range(steps + 2):
        if step == 2:
            start = time.perf_counter()
        if per_example_frontend:
            features = torch.stack([host_frontend(clip[None])[0] for clip in audio]).to(device)
        else:
            features = frontend(audio.to(device))
        support, query = split_episode(encoder(features), N_WAY, N_SHOT, N_QUERY)
        loss = loss_fn(head(support, query), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    synchronize(device)
    return steps / (time.perf_counter() - start)


@torch.no_grad()
def embed_all(frontend, encoder, audio: torch.Tensor, batch_size: int = 100) -> torch.Tensor:
    device = next(encoder.parameters()).device
    chunks = [encoder(frontend(a.to(device))) for a in audio.split(batch_size)]
    return torch.cat(chunks)


def cached_evaluation_seconds(device, audio, labels, n_tasks: int) -> float:
    """Wall time: embed every clip once, then score ``n_tasks`` tasks on the cache."""
    frontend, encoder = build(device)
    encoder.eval()
    start = time.perf_counter()
    embeddings = embed_all(frontend, encoder, audio)
    evaluate_embeddings(embeddings, labels.to(device), N_WAY, N_SHOT, EVAL_QUERY, n_tasks, 0)
    synchronize(device)
    return time.perf_counter() - start


@torch.no_grad()
def per_task_rate(device, audio, labels, n_tasks: int) -> float:
    """Tasks per second when every task re-embeds its own clips."""
    frontend, encoder = build(device)
    encoder.eval()
    head = PrototypeHead()
    episodes = sample_episodes(labels, N_WAY, N_SHOT, EVAL_QUERY, n_tasks, seed=0)
    start = time.perf_counter()
    for task in episodes:
        embeddings = embed_all(frontend, encoder, audio[task.reshape(-1)])
        support, query = split_episode(embeddings, N_WAY, N_SHOT, EVAL_QUERY)
        head(support, query).argmax(-1)
    synchronize(device)
    return n_tasks / (time.perf_counter() - start)


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-steps", type=int, default=20)
    parser.add_argument("--eval-classes", type=int, default=20)
    parser.add_argument("--clips-per-class", type=int, default=20)
    parser.add_argument("--reference-tasks", type=int, default=5)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    device = torch.device(args.device)
    torch.manual_seed(0)

    ours_train = training_rate(device, args.train_steps, per_example_frontend=False)
    ref_train = training_rate(device, max(args.train_steps // 2, 2), per_example_frontend=True)

    n_clips = args.eval_classes * args.clips_per_class
    audio = torch.randn(n_clips, CLIP_SAMPLES)
    labels = torch.arange(args.eval_classes).repeat_interleave(args.clips_per_class)
    wall_100 = cached_evaluation_seconds(device, audio, labels, 100)
    wall_10000 = cached_evaluation_seconds(device, audio, labels, 10_000)
    ref_eval = per_task_rate(device, audio, labels, args.reference_tasks)

    report = {
        "device": str(device) if device.type == "cpu" else torch.cuda.get_device_name(device),
        "cpu": platform.processor() or platform.machine(),
        "torch_threads": torch.get_num_threads(),
        "setting": "ProtoNet + CRNN(lstm), log-mel 128, 5 s clips at 16 kHz",
        "train": {
            "episode": f"{N_WAY}-way {N_SHOT}-shot {N_QUERY}-query",
            "episodes_per_s": round(ours_train, 3),
            "reference_per_example_frontend_episodes_per_s": round(ref_train, 3),
            "speedup": round(ours_train / ref_train, 2),
        },
        "eval": {
            "episode": f"{N_WAY}-way {N_SHOT}-shot {EVAL_QUERY}-query",
            "test_clips": n_clips,
            "wall_s_100_tasks": round(wall_100, 3),
            "wall_s_10000_tasks": round(wall_10000, 3),
            "wall_ratio_10000_vs_100": round(wall_10000 / wall_100, 3),
            "tasks_per_s_10000": round(10_000 / wall_10000, 1),
            "reference_reembed_per_task_tasks_per_s": round(ref_eval, 3),
            "speedup_10000_tasks": round((10_000 / wall_10000) / ref_eval, 1),
        },
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
