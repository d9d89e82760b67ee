"""Speed of the losses and scorers audiofsl writes itself against loop references (JSON).

Parts: the prototypical contrastive loss (CPL, below), RelationNet's batched scoring, COLA's
bilinear loss and the kNN of the few-data study, each against a plain loop (values checked).
The contrastive losses taken from pytorch-metric-learning (NT-Xent, SupCon) are not timed.

Settings: one 5-way 5-shot 5-query episode of 256-d embeddings (the MLSP 2025 setting), and
4 episodes (e.g. augmented views) of 10-way 5-shot 15-query; ``M = 3`` candidates per other
class, temperature 6, forward and backward. audiofsl's vectorised loss is timed against a
reference written the way a straightforward implementation is (the public code of
Sgouropoulos et al., 2025, has this shape): a Python loop over queries and, inside it, over
the other classes, each drawing its ``M`` candidates with ``torch.randperm`` and computing
cosine similarities to the class prototype, then a softmax cross-entropy over the stacked
rows (and, for several episodes, a loop over episodes).

Both are also run on the same candidates, to check that the values agree. The two are timed
in alternating rounds so that both see the same load on a shared machine; medians are
reported.

Usage: ``python benchmarks/losses.py [--rounds 20] [--device cpu] [--threads 0]``.
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import torch
import torch.nn.functional as F

from audiofsl.evaluation.knn import knn_scores
from audiofsl.heads import BilinearSimilarity, RelationModule
from audiofsl.losses import ColaLoss, PrototypicalContrastiveLoss

DIM, N_SHOT, M, TEMPERATURE = 256, 5, 3, 6.0
SETTINGS = {"1x 5-way 5-shot 5-query": (1, 5, 5), "4x 10-way 5-shot 15-query": (4, 10, 15)}


def loop_episode(
    support: torch.Tensor, query: torch.Tensor, candidates: torch.Tensor | None = None
) -> torch.Tensor:
    """Per-query, per-class loop over one episode (support [W, S, D], query [W, Q, D]).

    Draws each query's candidates with ``torch.randperm`` unless ``candidates``
    (``[W, Q, (W - 1) * M + 1]`` rows of the flattened queries, as drawn by
    :meth:`PrototypicalContrastiveLoss.draw_candidates`) are given.
    """
    n_way, n_query = query.shape[:2]
    protos = support.mean(dim=1)
    queries = query.reshape(-1, query.shape[-1])
    rows = []
    for i in range(queries.shape[0]):
        label = i // n_query
        samples = []
        for k, other in enumerate(c for c in range(n_way) if c != label):
            if candidates is None:
                picked = other * n_query + torch.randperm(n_query, device=query.device)[:M]
            else:
                picked = candidates[label, i % n_query, k * M : (k + 1) * M]
            samples.append(queries[picked])
        samples = torch.cat([*samples, queries[i : i + 1]])
        rows.append(F.cosine_similarity(protos[label][None], samples) / TEMPERATURE)
    logits = torch.stack(rows)
    targets = torch.full((queries.shape[0],), (n_way - 1) * M, device=logits.device)
    return F.cross_entropy(logits, targets)


def loop_reference(support, query, candidates=None) -> torch.Tensor:
    """Mean of :func:`loop_episode` over the episodes of ``[E, W, S, D]``/``[E, W, Q, D]``."""
    losses = [
        loop_episode(support[e], query[e], None if candidates is None else candidates[e])
        for e in range(query.shape[0])
    ]
    return torch.stack(losses).mean()


def time_calls(fn, support, query, repeats: int, times: list[float]) -> None:
    """Appends the wall times of ``repeats`` forward + backward passes to ``times``."""
    for _ in range(repeats):
        s, q = support.detach().requires_grad_(), query.detach().requires_grad_()
        start = time.perf_counter()
        fn(s, q).backward()
        if s.is_cuda:
            torch.cuda.synchronize(s.device)
        times.append(time.perf_counter() - start)


def median(values: list[float]) -> float:
    return sorted(values)[len(values) // 2]


def measure(n_episodes: int, n_way: int, n_query: int, rounds: int, device) -> dict:
    support = torch.randn(n_episodes, n_way, N_SHOT, DIM, device=device)
    query = torch.randn(n_episodes, n_way, n_query, DIM, device=device)
    loss_fn = PrototypicalContrastiveLoss(n_candidates=M, temperature=TEMPERATURE)
    candidates = loss_fn.draw_candidates(n_episodes, n_way, n_query, device)
    ours_value = loss_fn.loss_from_candidates(support, query, candidates).item()
    reference_value = loop_reference(support, query, candidates).item()

    reference_repeats = max(1, 100 // (n_episodes * n_way * n_query))
    time_calls(loss_fn, support, query, 20, [])  # warm-up
    time_calls(loop_reference, support, query, reference_repeats, [])
    ours_times: list[float] = []
    reference_times: list[float] = []
    for _ in range(rounds):
        time_calls(loss_fn, support, query, 20, ours_times)
        time_calls(loop_reference, support, query, reference_repeats, reference_times)
    ours, reference = median(ours_times), median(reference_times)
    return {
        "ours_ms_median": round(ours * 1e3, 4),
        "reference_loop_ms_median": round(reference * 1e3, 4),
        "speedup": round(reference / ours, 1),
        "ours_value": ours_value,
        "reference_value": reference_value,
        "values_match": abs(ours_value - reference_value) <= 1e-5 * max(1.0, reference_value),
    }


@torch.no_grad()
def relation_scoring(rounds: int, device) -> dict:
    """RelationNet scoring of 10 tasks (5-way 5-shot 15-query) of Conv4 maps [64, 8, 9]:
    the batched ``RelationModule.score`` against a loop over tasks, queries and classes."""
    relation = RelationModule(64, hidden_channels=64).to(device).eval()
    protos = torch.randn(10, 5, 64, 8, 9, device=device)
    query = torch.randn(10, 75, 64, 8, 9, device=device)

    def loop() -> torch.Tensor:
        return torch.stack([
            torch.stack([
                torch.cat([relation(torch.cat([p, q])[None], logits=True) for p in task_protos])
                for q in task_query
            ])
            for task_protos, task_query in zip(protos, query, strict=True)
        ])  # fmt: skip

    return ratio_report(lambda: relation.score(protos, query, logits=True), loop, rounds)


def ratio_report(ours, loop, rounds: int, atol: float = 1e-4) -> dict:
    """Median times of ``ours()`` and ``loop()`` (alternating) and whether their values agree."""
    ours_times, loop_times = [], []
    for _ in range(max(1, rounds // 4)):
        start = time.perf_counter()
        value = ours()
        ours_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        reference = loop()
        loop_times.append(time.perf_counter() - start)
    return {
        "ours_ms_median": round(median(ours_times) * 1e3, 3),
        "reference_loop_ms_median": round(median(loop_times) * 1e3, 3),
        "speedup": round(median(loop_times) / median(ours_times), 1),
        "values_match": bool(torch.allclose(value, reference, atol=atol)),
    }


def cola_loss(rounds: int, device) -> dict:
    """COLA's bilinear loss forward + backward at batch 64, P = 512, against a per-anchor loop
    (each anchor's scores against every positive, then its cross-entropy)."""
    loss = ColaLoss(BilinearSimilarity(512)).to(device)
    views = torch.randn(2, 64, 512, device=device, requires_grad=True)

    def ours() -> torch.Tensor:
        value = loss(views)
        value.backward()
        return value.detach()

    def loop() -> torch.Tensor:
        anchors, positives = views[0], views[1]
        terms = []
        for i in range(anchors.shape[0]):
            scores = torch.stack([loss.similarity(anchors[i : i + 1], p[None])[0, 0]
                                  for p in positives])  # fmt: skip
            terms.append(-F.log_softmax(scores, 0)[i])
        value = torch.stack(terms).mean()
        value.backward()
        return value.detach()

    return ratio_report(ours, loop, max(4, rounds // 5))


def knn(rounds: int, device) -> dict:
    """1-NN votes of 800 test clips against 1,000 labelled clips (40-d MFCC statistics, 10
    classes): ``knn_scores`` against a loop over queries."""
    fit, query = torch.randn(1000, 40, device=device), torch.randn(800, 40, device=device)
    labels = torch.randint(0, 10, (1000,), device=device)

    def ours() -> torch.Tensor:
        return knn_scores(fit, labels, query, 10).argmax(-1).float()

    def loop() -> torch.Tensor:
        return torch.stack([labels[(fit - q).norm(dim=1).argmin()] for q in query]).float()

    return ratio_report(ours, loop, rounds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    torch.manual_seed(0)
    report = {
        "device": str(device) if device.type == "cpu" else torch.cuda.get_device_name(device),
        "cpu": platform.processor() or platform.machine(),
        "torch_threads": torch.get_num_threads(),
        "setting": f"CPL forward+backward, D={DIM}, M={M}, temperature={TEMPERATURE}",
    }
    for name, (n_episodes, n_way, n_query) in SETTINGS.items():
        report[name] = measure(n_episodes, n_way, n_query, args.rounds, device)
    report["relation_scoring_10_tasks"] = relation_scoring(args.rounds, device)
    report["cola_loss_batch64"] = cola_loss(args.rounds, device)
    report["knn_800_queries"] = knn(args.rounds, device)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
