"""Speed of few-shot evaluation over cached multi-window embeddings, printed as JSON.

Setting: a cached split of 400 clips of 20 classes, each clip cut into 1 to 6 windows with a
512-d embedding each (random, clustered by class so that accuracies are neither trivial nor
chance); 5-way 5-shot 15-query tasks; support clips represented by the mean of their windows;
every window of a query clip scored against the prototypes (negative squared euclidean
distance) and the windows combined by a majority vote (ties to the class voted for by the
earliest window, ``tie_rule="first"``) or by the mean of their logits.

``evaluate_tasks`` is timed on 100 and on 10,000 tasks: batching many tasks should make each
task cheaper, so ``per_task_cost_ratio_10000_vs_100`` (time per task on 10,000 tasks over
time per task on 100) should be below 1. The reference is the straightforward per-task loop
over the support clips, the query clips and their windows (prototypes of window means, one
distance computation per window, ``collections.Counter`` vote); it is timed on the same 100
tasks only, and its per-task accuracies are compared with ``evaluate_tasks``'.

The matching network's scorer (cosine attention over every support clip, window logits averaged)
is timed the same way against its own per-task, per-window, per-support-clip loop
(``matching_scorer_mean``).

Usage: ``python benchmarks/evaluation.py [--repeats 5] [--repeats-10000 3] [--threads 0]``.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from collections import Counter

import torch
from torch import Tensor

from audiofsl.evaluation import (
    CachedSplit,
    EpisodeSettings,
    PrototypeScorer,
    WindowRules,
    evaluate_tasks,
    sample_episodes,
)
from audiofsl.methods.matching import MatchingScorer

N_CLASSES, CLIPS_PER_CLASS, MAX_WINDOWS, DIM = 20, 20, 6, 512
N_WAY, N_SHOT, N_QUERY, SEED = 5, 5, 15, 0
RULES = {
    "vote_first": WindowRules(query_windows="vote", tie_rule="first"),
    "mean": WindowRules(query_windows="mean"),
}


def cached_split(device: torch.device) -> CachedSplit:
    """Random clustered window embeddings: class centre + clip offset + window noise."""
    generator = torch.Generator().manual_seed(0)
    n_clips = N_CLASSES * CLIPS_PER_CLASS
    labels = torch.arange(N_CLASSES).repeat_interleave(CLIPS_PER_CLASS)
    counts = torch.randint(1, MAX_WINDOWS + 1, (n_clips,), generator=generator)
    clip_of_window = torch.arange(n_clips).repeat_interleave(counts)
    centres = 0.25 * torch.randn(N_CLASSES, DIM, generator=generator)
    offsets = torch.randn(n_clips, DIM, generator=generator)
    noise = torch.randn(clip_of_window.numel(), DIM, generator=generator)
    reps = centres[labels][clip_of_window] + offsets[clip_of_window] + noise
    return CachedSplit(reps.to(device), clip_of_window.to(device), labels.to(device))


def settings(n_tasks: int) -> EpisodeSettings:
    return EpisodeSettings(N_WAY, N_SHOT, N_QUERY, n_tasks, SEED)


def timed_evaluation(
    split: CachedSplit, rules: WindowRules, n_tasks: int, repeats: int, scorer=None
):
    """Median wall time of ``evaluate_tasks`` on ``n_tasks`` tasks, and the accuracies."""
    scorer = scorer if scorer is not None else PrototypeScorer()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        accuracies = evaluate_tasks(split, settings(n_tasks), scorer, rules)
        accuracies.cpu()  # waits for the device
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2], accuracies.cpu()


def loop_reference(split: CachedSplit, rules: WindowRules, n_tasks: int) -> tuple[Tensor, int]:
    """Per-task Python loop over clips and windows.

    Returns:
        ``[n_tasks]`` accuracies and the number of query clips whose vote was tied.
    """
    reps = split.representations.cpu()
    windows_of_clip: list[list[int]] = [[] for _ in range(split.n_clips)]
    for window, clip in enumerate(split.clip_of_window.tolist()):
        windows_of_clip[clip].append(window)
    tasks = sample_episodes(split.clip_labels.cpu(), N_WAY, N_SHOT, N_QUERY, n_tasks, SEED)
    accuracies, ties = [], 0
    for task in tasks.tolist():
        prototypes = torch.stack(
            [
                torch.stack([reps[windows_of_clip[clip]].mean(0) for clip in row[:N_SHOT]]).mean(0)
                for row in task
            ]
        )
        correct = 0
        for label, row in enumerate(task):
            for clip in row[N_SHOT:]:
                logits = [-(prototypes - reps[w]).pow(2).sum(-1) for w in windows_of_clip[clip]]
                if rules.query_windows == "mean":
                    predicted = int(torch.stack(logits).mean(0).argmax())
                else:
                    votes = [int(window_logits.argmax()) for window_logits in logits]
                    counts = Counter(votes)
                    top = max(counts.values())
                    ties += sum(count == top for count in counts.values()) > 1
                    predicted = next(vote for vote in votes if counts[vote] == top)
                correct += predicted == label
        accuracies.append(correct / (N_WAY * N_QUERY))
    return torch.tensor(accuracies, dtype=torch.float32), ties


def matching_loop_reference(split: CachedSplit, n_tasks: int, scale: float) -> Tensor:
    """The matching network's scores task by task, query window by support clip (support clips
    as the mean of their windows, a query's window logits averaged)."""
    reps = split.representations.cpu()
    windows_of_clip: list[list[int]] = [[] for _ in range(split.n_clips)]
    for window, clip in enumerate(split.clip_of_window.tolist()):
        windows_of_clip[clip].append(window)
    tasks = sample_episodes(split.clip_labels.cpu(), N_WAY, N_SHOT, N_QUERY, n_tasks, SEED)
    accuracies = []
    for task in tasks.tolist():
        support = [[reps[windows_of_clip[clip]].mean(0) for clip in row[:N_SHOT]] for row in task]
        correct = 0
        for label, row in enumerate(task):
            for clip in row[N_SHOT:]:
                logits = []
                for w in windows_of_clip[clip]:
                    sims = [[scale * float(torch.cosine_similarity(reps[w], x, dim=0)) for x in c]
                            for c in support]  # fmt: skip
                    logits.append(torch.tensor(sims).logsumexp(-1))
                correct += int(torch.stack(logits).mean(0).argmax()) == label
        accuracies.append(correct / (N_WAY * N_QUERY))
    return torch.tensor(accuracies, dtype=torch.float32)


def measure_matching(split: CachedSplit, repeats: int, repeats_10000: int) -> dict:
    """The matching network's scorer (attention over every support clip) against its loop."""
    scorer, rules = MatchingScorer(10.0), RULES["mean"]
    wall_100, acc_100 = timed_evaluation(split, rules, 100, repeats, scorer)
    wall_10000, _ = timed_evaluation(split, rules, 10_000, repeats_10000, scorer)
    start = time.perf_counter()
    reference_acc = matching_loop_reference(split, 100, scorer.scale)
    reference_wall = time.perf_counter() - start
    differing = int((acc_100 != reference_acc).sum())
    return {
        "wall_s_100_tasks": round(wall_100, 4),
        "tasks_per_s_10000": round(10_000 / wall_10000, 1),
        "reference_loop_tasks_per_s": round(100 / reference_wall, 1),
        "speedup_100_tasks": round(reference_wall / wall_100, 1),
        "speedup_10000_tasks": round((10_000 / wall_10000) / (100 / reference_wall), 1),
        "tasks_with_different_accuracy": differing,
        "accuracies_match": differing == 0,
    }


def measure(split: CachedSplit, rules: WindowRules, repeats: int, repeats_10000: int) -> dict:
    wall_100, acc_100 = timed_evaluation(split, rules, 100, repeats)
    wall_10000, acc_10000 = timed_evaluation(split, rules, 10_000, repeats_10000)
    start = time.perf_counter()
    reference_acc, ties = loop_reference(split, rules, 100)
    reference_wall = time.perf_counter() - start
    differing = int((acc_100 != reference_acc).sum())
    report = {
        "wall_s_100_tasks": round(wall_100, 4),
        "wall_s_10000_tasks": round(wall_10000, 3),
        "tasks_per_s_100": round(100 / wall_100, 1),
        "tasks_per_s_10000": round(10_000 / wall_10000, 1),
        "per_task_cost_ratio_10000_vs_100": round((wall_10000 / 10_000) / (wall_100 / 100), 3),
        "reference_loop_wall_s_100_tasks": round(reference_wall, 3),
        "reference_loop_tasks_per_s": round(100 / reference_wall, 1),
        "speedup_100_tasks": round(reference_wall / wall_100, 1),
        "speedup_10000_tasks": round((10_000 / wall_10000) / (100 / reference_wall), 1),
        "acc_mean_100_tasks": round(acc_100.mean().item(), 5),
        "reference_acc_mean_100_tasks": round(reference_acc.mean().item(), 5),
        "tasks_with_different_accuracy": differing,
        "accuracies_match": differing == 0,
        "acc_mean_10000_tasks": round(acc_10000.mean().item(), 5),
    }
    if rules.query_windows == "vote":
        report["reference_tied_votes_100_tasks"] = ties
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed runs of 100 tasks")
    parser.add_argument("--repeats-10000", type=int, default=3, help="timed runs of 10,000 tasks")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    split = cached_split(device)
    timed_evaluation(split, RULES["vote_first"], 100, 1)  # warm-up
    report = {
        "device": str(device) if device.type == "cpu" else torch.cuda.get_device_name(device),
        "cpu": platform.processor() or platform.machine(),
        "torch_threads": torch.get_num_threads(),
        "setting": (
            f"{split.n_clips} clips of {N_CLASSES} classes, 1-{MAX_WINDOWS} windows each "
            f"({split.clip_of_window.numel()} windows) of {DIM}-d embeddings; "
            f"{N_WAY}-way {N_SHOT}-shot {N_QUERY}-query tasks, support = mean of its windows, "
            "nearest prototype (squared euclidean)"
        ),
        "timing": (
            f"100 tasks: median of {args.repeats} runs; 10,000 tasks: median of "
            f"{args.repeats_10000}; reference loop: one run of 100 tasks"
        ),
    }
    for name, rules in RULES.items():
        report[f"query_windows_{name}"] = measure(split, rules, args.repeats, args.repeats_10000)
    report["matching_scorer_mean"] = measure_matching(split, args.repeats, args.repeats_10000)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
