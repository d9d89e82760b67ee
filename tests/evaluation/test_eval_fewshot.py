import pytest
import torch

from audiofsl.evaluation import EmbeddingTransform, evaluate_embeddings, sample_episodes


def _slow_reference(emb, labels, n_way, n_shot, n_query, n_tasks, seed, metric):
    """Loop over tasks and queries with explicit distances."""
    episodes = sample_episodes(labels, n_way, n_shot, n_query, n_tasks, seed)
    accuracies = []
    for task in episodes:
        protos = [emb[row[:n_shot]].mean(0) for row in task]
        correct = 0
        for c, row in enumerate(task):
            for q in row[n_shot:]:
                x = emb[q]
                if metric == "cosine":
                    d = [1 - torch.dot(x, p) / (x.norm() * p.norm()) for p in protos]
                else:
                    d = [((x - p) ** 2).sum() for p in protos]
                correct += int(torch.stack(d).argmin()) == c
        accuracies.append(correct / (n_way * n_query))
    return torch.tensor(accuracies)


def _data(n_classes=8, per_class=10, dim=6, spread=1.0, seed=0):
    g = torch.Generator().manual_seed(seed)
    centres = torch.randn(n_classes, dim, generator=g)
    labels = torch.arange(n_classes).repeat_interleave(per_class)
    emb = centres[labels] + spread * torch.randn(labels.numel(), dim, generator=g)
    return emb, labels


@pytest.mark.parametrize("metric", ["squared_euclidean", "euclidean", "cosine"])
def test_matches_slow_loop_reference(metric):
    emb, labels = _data()
    got = evaluate_embeddings(emb, labels, 4, 2, 3, 40, seed=2, distance=metric)
    expected = _slow_reference(emb, labels, 4, 2, 3, 40, 2, metric)
    assert got.shape == (40,) and got.dtype == torch.float32
    assert torch.allclose(got, expected)
    assert 0.3 < got.mean() < 1.0  # a task of medium difficulty


def test_separable_embeddings_are_perfect():
    labels = torch.arange(10).repeat_interleave(6)
    emb = torch.eye(10)[labels] * 5.0 + 0.01 * torch.randn(60, 10)
    acc = evaluate_embeddings(emb, labels, 5, 1, 5, 100, seed=0)
    assert torch.equal(acc, torch.ones(100))


def test_random_embeddings_are_near_chance():
    labels = torch.arange(50).repeat_interleave(20)
    emb = torch.randn(1000, 16, generator=torch.Generator().manual_seed(0))
    acc = evaluate_embeddings(emb, labels, 5, 5, 15, 2000, seed=0)
    assert abs(acc.mean().item() - 0.2) < 0.02


def test_task_chunk_does_not_change_the_result():
    labels = torch.arange(100).repeat_interleave(10)
    emb, _ = _data(n_classes=100, dim=32, spread=2.0)
    one = evaluate_embeddings(emb, labels, 5, 5, 5, 10_000, seed=1, task_chunk=10_000)
    chunked = evaluate_embeddings(emb, labels, 5, 5, 5, 10_000, seed=1, task_chunk=777)
    assert torch.equal(one, chunked)


def test_half_precision_input_is_evaluated_in_float32():
    emb, labels = _data()
    full = evaluate_embeddings(emb, labels, 4, 2, 3, 30, seed=0)
    half = evaluate_embeddings(emb.half(), labels, 4, 2, 3, 30, seed=0)
    assert half.dtype == torch.float32
    assert (full - half).abs().mean() < 0.05


def test_transform_modes():
    emb = torch.tensor([[3.0, 4.0], [1.0, 0.0], [-1.0, 2.0]])
    assert torch.equal(EmbeddingTransform("none")(emb), emb)
    assert torch.allclose(EmbeddingTransform("l2")(emb).norm(dim=1), torch.ones(3))
    centred = EmbeddingTransform("center")(emb)
    assert torch.allclose(centred, emb - torch.tensor([1.0, 2.0]))
    train_mean = torch.tensor([1.0, 0.0])
    assert torch.allclose(EmbeddingTransform("center")(emb, train_mean), emb - train_mean)
    cl2n = EmbeddingTransform("center_l2")(emb, train_mean)
    assert torch.allclose(cl2n[0], torch.tensor([2.0, 4.0]) / 20**0.5)


def test_center_transform_uses_train_mean_in_evaluation():
    emb, labels = _data()
    shift = torch.full((6,), 50.0)
    plain = evaluate_embeddings(emb, labels, 4, 2, 3, 30, seed=0, distance="cosine")
    # Cosine is not shift invariant, but centring on the shift undoes it exactly.
    shifted = evaluate_embeddings(
        emb + shift,
        labels,
        4,
        2,
        3,
        30,
        seed=0,
        distance="cosine",
        transform="center",
        train_mean=shift,
    )
    assert torch.allclose(plain, shifted, atol=1e-6)


def test_errors_name_the_setting():
    emb, labels = _data()
    with pytest.raises(ValueError, match="mode"):
        EmbeddingTransform("whiten")
    with pytest.raises(ValueError, match="train_mean"):
        EmbeddingTransform("center")(emb, torch.zeros(3))
    with pytest.raises(ValueError, match="embeddings"):
        evaluate_embeddings(emb[:5], labels, 4, 2, 3, 1)
    with pytest.raises(ValueError, match="task_chunk"):
        evaluate_embeddings(emb, labels, 4, 2, 3, 1, task_chunk=0)
    with pytest.raises(ValueError, match="distance"):
        evaluate_embeddings(emb, labels, 4, 2, 3, 1, distance="manhattan")
    with pytest.raises(ValueError, match="n_way"):
        evaluate_embeddings(emb, labels, 9, 2, 3, 1)
