"""Run a function on several CPU processes joined by a gloo process group (for tests).

``run_on_ranks(fn, world_size, *args)`` spawns ``world_size`` processes; each joins the group,
calls ``fn(rank, world_size, *args)`` and sends back what it returns. The functions must live in
an importable module (this one, or a test helper module on ``sys.path``).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import torch
import torch.distributed as dist
import torch.multiprocessing as mp


def _worker(rank: int, world_size: int, init_file: str, results, fn, args) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank,
                            world_size=world_size)  # fmt: skip
    try:
        results[rank] = fn(rank, world_size, *args)
    finally:
        dist.destroy_process_group()


def run_on_ranks(fn, world_size: int, *args) -> list:
    """What ``fn(rank, world_size, *args)`` returned on each rank, in rank order."""
    with tempfile.TemporaryDirectory() as folder:
        init_file = str(Path(folder) / "init")
        with mp.Manager() as manager:
            results = manager.dict()
            mp.spawn(_worker, args=(world_size, init_file, results, fn, args), nprocs=world_size)
            return [results[rank] for rank in range(world_size)]


class ContrastiveModel(torch.nn.Module):
    """A linear projection of ``[V, B, 8]`` inputs scored by a contrastive loss."""

    def __init__(self, name: str, gather: bool) -> None:
        super().__init__()
        from audiofsl.heads import BilinearSimilarity
        from audiofsl.losses import ColaLoss, NTXentLoss, SupConLoss

        torch.manual_seed(0)
        self.name = name
        self.projection = torch.nn.Linear(8, 6)
        self.loss = {
            "ntxent": lambda: NTXentLoss(0.5, gather_distributed=gather),
            "supcon": lambda: SupConLoss(0.1, gather_distributed=gather),
            "cola": lambda: ColaLoss(BilinearSimilarity(6), gather_distributed=gather),
        }[name]()

    def forward(self, inputs: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        views = self.projection(inputs)
        if self.name == "supcon":
            return self.loss(views, labels.repeat(views.shape[0]))
        return self.loss(views)


def contrastive_gradients(rank: int, world_size: int, name: str, inputs, labels) -> dict:
    """Loss and parameter gradients of a DDP-wrapped :class:`ContrastiveModel` on this rank.

    ``inputs`` ``[V, W * B, 8]`` and ``labels`` ``[W * B]`` hold the whole batch; rank ``r``
    takes clips ``r * B .. (r + 1) * B - 1``. DDP averages the gradients in backward.
    """
    from torch.nn.parallel import DistributedDataParallel

    model = DistributedDataParallel(ContrastiveModel(name, gather=True))
    batch = inputs.shape[1] // world_size
    mine = slice(rank * batch, (rank + 1) * batch)
    loss = model(inputs[:, mine], labels[mine])
    loss.backward()
    grads = {key: p.grad.clone() for key, p in model.module.named_parameters()}
    return grads | {"loss": loss.detach()}


def gathered_rows(rank: int, world_size: int) -> torch.Tensor:
    """:func:`audiofsl.distributed.gather_rows` of ``rank + 1`` rows valued ``rank``."""
    from audiofsl.distributed import gather_rows

    return gather_rows(torch.full((rank + 1, 2), float(rank)))


def window_batch(indices: list[int]) -> dict:
    """An evaluation batch of windows ``indices`` (clip = window // 2, class = clip % 3)."""
    index = torch.tensor(indices)
    return {"index": index, "segment": index // 2, "label": (index // 2) % 3}


def gathered_cache(rank: int, world_size: int, n_windows: int):
    """The evaluation cache of this rank's shard of ``n_windows``, finalised with a gather."""
    from audiofsl.distributed import World, gather_rows
    from audiofsl.evaluation.cache import EvaluationCache
    from audiofsl.samplers import evaluation_shard

    cache = EvaluationCache()
    shard = evaluation_shard(n_windows, World(rank, world_size))
    for start in range(0, len(shard), 2):  # batches of 2 windows
        batch = window_batch(shard[start : start + 2])
        cache.add(batch["index"].float()[:, None] * torch.ones(1, 3), batch)
    return cache.finalize(gather_rows)


def epoch_mean(rank: int, world_size: int, embeddings: torch.Tensor) -> torch.Tensor:
    """The committed training mean after rank ``r`` added ``embeddings[r]`` ``[n_r, D]``."""
    from audiofsl.methods.train_mean import EpochMean

    tracker = EpochMean(embeddings[rank].shape[1])
    tracker.add(embeddings[rank])
    mean, fitted = torch.zeros(embeddings[rank].shape[1]), torch.zeros((), dtype=torch.bool)
    tracker.commit(mean, fitted)
    return mean if bool(fitted) else None


def rank_streams(rank: int, world_size: int) -> dict:
    """ResumeState across ranks: draws after set-up, and a save-and-restore round trip."""
    from types import SimpleNamespace

    from audiofsl.runs.resume import ResumeState

    torch.manual_seed(5)  # lightning.seed_everything gives every rank the same seed
    callback = ResumeState()
    callback.setup(SimpleNamespace(global_rank=rank, world_size=world_size), None, "fit")
    first = torch.rand(3)
    saved = callback.state_dict()
    expected = torch.rand(3)
    torch.rand(7)  # moves on, as a killed run would have
    callback.load_state_dict(saved)
    return {"first": first, "expected": expected, "restored": torch.rand(3),
            "ranks": len(saved["ranks"])}  # fmt: skip
