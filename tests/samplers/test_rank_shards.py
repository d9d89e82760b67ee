"""Each rank's share of the training batches and of the evaluation windows."""

from __future__ import annotations

import pytest
import torch

from audiofsl.data.loaders import global_episodes
from audiofsl.distributed import World
from audiofsl.samplers import (
    EpisodeSpec,
    EpisodicBatchSampler,
    RankShard,
    ShuffledBatchSampler,
    WithCropSeeds,
    evaluation_shard,
)

LABELS = torch.arange(12).repeat_interleave(10)  # 12 classes x 10 clips


def rank_batches(spec: EpisodeSpec, world: World, epoch: int = 3) -> list[list[tuple[int, int]]]:
    sampler = EpisodicBatchSampler(LABELS, global_episodes(spec, world), seed=7)
    sampler.set_epoch(epoch)
    return list(RankShard(WithCropSeeds(sampler, seed=7), world))


@pytest.mark.parametrize("per_step", [1, 2])
def test_ranks_split_each_step_of_the_single_process_draw(per_step: int) -> None:
    """W ranks of E episodes a step see the episodes and crops of one process with W * E."""
    spec = EpisodeSpec(n_way=3, n_shot=1, n_query=2, n_episodes=8, episodes_per_batch=per_step)
    ranks = [rank_batches(spec, World(rank, 2)) for rank in range(2)]
    together = rank_batches(EpisodeSpec(3, 1, 2, 8, episodes_per_batch=2 * per_step), World())
    assert len(ranks[0]) == len(ranks[1]) == len(together) == 8 // (2 * per_step)
    for step, whole in enumerate(together):
        assert ranks[0][step] + ranks[1][step] == whole
        assert len(ranks[0][step]) == per_step * spec.batch_size  # whole episodes each
    episodes = [tuple(i for i, _ in batch[e * 9 : (e + 1) * 9])
                for rank in ranks for batch in rank for e in range(per_step)]  # fmt: skip
    assert len(episodes) == 8 and len(set(episodes)) == 8  # disjoint: no episode twice
    # the epoch is the single-process epoch: the same 8 episodes
    single = rank_batches(EpisodeSpec(3, 1, 2, 8), World())
    assert sorted(episodes) == sorted(tuple(i for i, _ in batch) for batch in single)


def test_episode_counts_that_do_not_divide_over_the_ranks_are_named() -> None:
    spec = EpisodeSpec(n_way=3, n_shot=1, n_query=2, n_episodes=10, episodes_per_batch=2)
    with pytest.raises(
        ValueError,
        match=r"sampler.n_episodes=10 must be a multiple of 2 "
        r"processes x sampler.episodes_per_batch=2 = 4.*n_episodes=8 or 12",
    ):
        global_episodes(spec, World(0, 2))
    assert global_episodes(spec, World()) is spec


@pytest.mark.parametrize("drop_last", [True, False])
def test_mini_batches_are_shards_of_one_shuffle(drop_last: bool) -> None:
    n_items, batch, world_size = 23, 4, 3
    order = ShuffledBatchSampler(n_items, batch * world_size, drop_last, seed=2)
    ranks = [list(RankShard(WithCropSeeds(order, 2), World(r, world_size)))
             for r in range(world_size)]  # fmt: skip
    counts = {len(rank) for rank in ranks}
    assert counts == {1 if drop_last else 2}  # equal step counts on every rank
    for step in range(len(ranks[0])):
        sizes = {len(rank[step]) for rank in ranks}
        assert len(sizes) == 1  # equal batch sizes, the last batch filled up
    items = [i for rank in ranks for batch in rank for i, _ in batch]
    if drop_last:
        assert len(items) == len(set(items)) == batch * world_size
    else:
        assert set(items) == set(range(n_items))
        assert len(items) == 2 * world_size * 4  # 23 items, the short batch filled to 12


@pytest.mark.parametrize(("n_items", "world_size"), [(10, 2), (11, 3), (2, 4)])
def test_evaluation_shards_cover_every_window_in_equal_blocks(n_items, world_size) -> None:
    shards = [evaluation_shard(n_items, World(r, world_size)) for r in range(world_size)]
    assert len({len(shard) for shard in shards}) == 1
    assert set().union(*map(set, shards)) == set(range(n_items))
    flat = [i for shard in shards for i in shard]
    assert flat[:n_items] == list(range(n_items))  # blocks in rank order, then the repeats
