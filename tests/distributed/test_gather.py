"""Gathers across ranks (2 CPU processes, gloo) against one process holding the whole batch."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "helpers"))
from ranks import ContrastiveModel, contrastive_gradients, gathered_rows, run_on_ranks  # noqa: E402

from audiofsl.distributed import World, current_world, gather_rows, gather_with_grad  # noqa: E402


def test_single_process_is_a_world_of_one_and_gathers_change_nothing() -> None:
    assert current_world() == World(0, 1) and not World().distributed
    rows = torch.randn(3, 2, requires_grad=True)
    assert gather_with_grad(rows) is rows and gather_rows(rows) is rows


@pytest.mark.parametrize(("rank", "size"), [(-1, 2), (2, 2), (0, 0), (True, 2)])
def test_world_rejects_impossible_ranks(rank, size) -> None:
    with pytest.raises(ValueError, match="World"):
        World(rank, size)


def test_gather_rows_keeps_rank_order_with_unequal_lengths() -> None:
    gathered = run_on_ranks(gathered_rows, 2)
    expected = torch.tensor([[0.0, 0.0], [1.0, 1.0], [1.0, 1.0]])
    for rows in gathered:
        torch.testing.assert_close(rows, expected)


@pytest.mark.parametrize("name", ["ntxent", "supcon", "cola"])
def test_gathered_loss_gradients_equal_one_process_on_the_whole_batch(name: str) -> None:
    generator = torch.Generator().manual_seed(1)
    inputs = torch.randn(2, 8, 8, generator=generator)  # [V, W * B, 8], B = 4 per rank
    labels = torch.tensor([0, 1, 0, -1, 2, 1, -1, 2])  # SupCon: unlabelled on both ranks
    ranks = run_on_ranks(contrastive_gradients, 2, name, inputs, labels)

    whole = ContrastiveModel(name, gather=False)
    loss = whole(inputs, labels)
    loss.backward()
    for rank in ranks:
        torch.testing.assert_close(rank["loss"], loss.detach(), rtol=1e-5, atol=1e-6)
        for key, parameter in whole.named_parameters():
            torch.testing.assert_close(rank[key], parameter.grad, rtol=1e-5, atol=1e-6)
    # the local-only loss would differ: the test can tell gathered negatives from local ones
    local = ContrastiveModel(name, gather=False)(inputs[:, :4], labels[:4])
    assert not torch.allclose(local, loss)


def test_gathered_evaluation_cache_equals_one_process_over_every_window() -> None:
    from ranks import gathered_cache, window_batch

    from audiofsl.evaluation.cache import EvaluationCache

    single = EvaluationCache()
    for start in range(0, 7, 3):
        batch = window_batch(list(range(start, min(start + 3, 7))))
        single.add(batch["index"].float()[:, None] * torch.ones(1, 3), batch)
    expected = single.finalize()
    for cached in run_on_ranks(gathered_cache, 2, 7):  # shards [0..3] and [4, 5, 6, 0]
        torch.testing.assert_close(cached.representations, expected.representations)
        torch.testing.assert_close(cached.clip_of_window, expected.clip_of_window)
        torch.testing.assert_close(cached.clip_labels, expected.clip_labels)


def test_the_training_mean_is_over_every_ranks_embeddings() -> None:
    from ranks import epoch_mean

    embeddings = [torch.randn(3, 4), torch.randn(5, 4) + 2.0]  # unequal counts per rank
    for mean in run_on_ranks(epoch_mean, 2, embeddings):
        torch.testing.assert_close(mean, torch.cat(embeddings).mean(0))


def test_each_rank_draws_its_own_augmentations_and_resumes_its_own_stream() -> None:
    from ranks import rank_streams

    first, second = run_on_ranks(rank_streams, 2)
    assert not torch.equal(first["first"], second["first"])  # not the same draws on each rank
    for rank in (first, second):
        assert rank["ranks"] == 2  # the checkpoint keeps both ranks' states
        torch.testing.assert_close(rank["restored"], rank["expected"])  # each its own
    again, _ = run_on_ranks(rank_streams, 2)
    torch.testing.assert_close(again["first"], first["first"])  # seeded: the same every run
