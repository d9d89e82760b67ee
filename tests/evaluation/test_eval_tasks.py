from collections import Counter

import pytest
import torch

from audiofsl.evaluation import (
    CachedSplit,
    EpisodeSettings,
    EvaluationCache,
    PrototypeScorer,
    WindowRules,
    evaluate_tasks,
    sample_episodes,
)


def windowed_split(n_classes=6, clips=5, dim=4, seed=0):
    """Clips of 1-4 windows, each window near its class centre; windows in shuffled order."""
    g = torch.Generator().manual_seed(seed)
    counts = torch.randint(1, 5, (n_classes * clips,), generator=g)
    clip_of_window = torch.arange(counts.numel()).repeat_interleave(counts)
    labels = torch.arange(n_classes).repeat_interleave(clips)
    centres = torch.randn(n_classes, dim, generator=g)
    reps = centres[labels[clip_of_window]] + 1.5 * torch.randn(
        clip_of_window.numel(), dim, generator=g
    )
    return CachedSplit(reps, clip_of_window, labels)


def loop_reference(split, settings, rules, scorer):
    """Per task, per query clip, per window: score, then combine with a Counter or a mean."""
    windows = {c: [w for w in range(len(split.clip_of_window)) if split.clip_of_window[w] == c]
               for c in range(split.n_clips)}  # fmt: skip
    mean = {c: split.representations[w].mean(0) for c, w in windows.items()}
    accuracies = []
    for task in sample_episodes(split.clip_labels, settings.n_way, settings.n_shot,
                                settings.n_query, settings.n_tasks, settings.seed):  # fmt: skip
        support = torch.stack([torch.stack([mean[int(c)] for c in row[: settings.n_shot]])
                               for row in task])  # fmt: skip
        correct = 0
        for true_class, row in enumerate(task):
            for clip in row[settings.n_shot :].tolist():
                if rules.query_windows == "mean_embedding":
                    queries = mean[clip][None]
                else:
                    queries = split.representations[windows[clip]]
                logits = scorer(support[None], queries[None])[0]  # [windows, W]
                if rules.query_windows == "vote":
                    votes = Counter(logits.argmax(-1).tolist())  # first-seen wins ties
                    predicted = votes.most_common(1)[0][0]
                else:
                    predicted = int(logits.mean(0).argmax())
                correct += predicted == true_class
        accuracies.append(correct / (settings.n_way * settings.n_query))
    return torch.tensor(accuracies)


@pytest.mark.parametrize("mode", ["vote", "mean", "mean_embedding"])
def test_multi_window_tasks_equal_a_per_clip_loop(mode):
    split = windowed_split()
    settings = EpisodeSettings(n_way=3, n_shot=2, n_query=2, n_tasks=25, seed=4)
    rules = WindowRules(query_windows=mode, tie_rule="first", support_windows="mean")
    scorer = PrototypeScorer("euclidean")
    got = evaluate_tasks(split, settings, scorer, rules, task_chunk=7)
    assert torch.allclose(got, loop_reference(split, settings, rules, scorer))
    assert 0.3 < got.mean() < 1.0


def test_one_window_per_clip_gives_the_same_result_in_every_mode():
    labels = torch.arange(5).repeat_interleave(4)
    reps = torch.randn(20, 3, generator=torch.Generator().manual_seed(0)) + labels[:, None]
    split = CachedSplit(reps, torch.arange(20), labels)
    settings = EpisodeSettings(n_way=3, n_shot=1, n_query=2, n_tasks=40, seed=0)
    results = [
        evaluate_tasks(split, settings, PrototypeScorer(), WindowRules(mode, "min_label", support))
        for mode in ("vote", "mean", "mean_embedding")
        for support in ("mean", "random")
    ]
    assert all(torch.equal(results[0], r) for r in results[1:])


def test_random_support_windows_are_seeded():
    split = windowed_split(seed=1)
    settings = EpisodeSettings(n_way=3, n_shot=1, n_query=2, n_tasks=30, seed=2)
    rules = WindowRules("vote", "first", "random")
    one = evaluate_tasks(split, settings, PrototypeScorer(), rules)
    assert torch.equal(one, evaluate_tasks(split, settings, PrototypeScorer(), rules))


def test_the_cache_orders_windows_and_renumbers_clips_whatever_the_batch_order():
    cache = EvaluationCache()
    reps = torch.arange(6.0)[:, None]
    segment = torch.tensor([10, 10, 11, 12, 12, 12])  # dataset clip ids
    labels = torch.tensor([0, 0, 1, 2, 2, 2])
    for rows in ([3, 0, 5], [1, 4, 2]):
        rows = torch.tensor(rows)
        cache.add(reps[rows], {"index": rows, "segment": segment[rows], "label": labels[rows]})
    split = cache.finalize()
    assert torch.equal(split.representations, reps)
    assert split.clip_of_window.tolist() == [0, 0, 1, 2, 2, 2]
    assert split.clip_labels.tolist() == [0, 1, 2]
    cache.add(reps[:1], {"index": torch.tensor([0]), "label": labels[:1]})
    with pytest.raises(ValueError, match="twice"):
        cache.finalize()


def test_unknown_window_rules_name_the_setting():
    with pytest.raises(ValueError, match="evaluation.query_windows"):
        WindowRules(query_windows="median")
    with pytest.raises(ValueError, match="evaluation.support_windows"):
        WindowRules(support_windows="all")


@pytest.mark.gpu
@pytest.mark.parametrize("mode", ["vote", "mean", "mean_embedding"])
def test_tasks_on_cuda_equal_cpu(mode):
    split = windowed_split(seed=2)
    settings = EpisodeSettings(n_way=3, n_shot=2, n_query=2, n_tasks=50, seed=1)
    rules = WindowRules(query_windows=mode, tie_rule="max_posterior", support_windows="random")
    on_cpu = evaluate_tasks(split, settings, PrototypeScorer("cosine"), rules)
    cuda = CachedSplit(*(t.cuda() for t in (split.representations, split.clip_of_window,
                                            split.clip_labels)))  # fmt: skip
    on_gpu = evaluate_tasks(cuda, settings, PrototypeScorer("cosine"), rules)
    assert on_gpu.device.type == "cuda"
    assert torch.allclose(on_gpu.cpu(), on_cpu)


@pytest.mark.gpu
@pytest.mark.parametrize("distance", ["squared_euclidean", "euclidean"])
def test_512d_window_votes_on_cuda_equal_cpu(distance):
    """The evaluation benchmark's setting: clustered 512-d windows, distances in the expanded
    form (one batched matmul), majority votes with ties to the earliest window."""
    generator = torch.Generator().manual_seed(0)
    labels = torch.arange(20).repeat_interleave(20)
    counts = torch.randint(1, 7, (400,), generator=generator)
    clip_of_window = torch.arange(400).repeat_interleave(counts)
    centres = 0.25 * torch.randn(20, 512, generator=generator)
    clips = centres[labels] + 0.9 * torch.randn(400, 512, generator=generator)
    windows = clips[clip_of_window] + 0.9 * torch.randn(len(clip_of_window), 512,
                                                         generator=generator)  # fmt: skip
    split = CachedSplit(windows, clip_of_window, labels)
    settings = EpisodeSettings(n_way=5, n_shot=5, n_query=15, n_tasks=100, seed=0)
    rules = WindowRules(query_windows="vote", tie_rule="first")
    on_cpu = evaluate_tasks(split, settings, PrototypeScorer(distance), rules)
    cuda = CachedSplit(windows.cuda(), clip_of_window.cuda(), labels.cuda())
    on_gpu = evaluate_tasks(cuda, settings, PrototypeScorer(distance), rules).cpu()
    assert 0.3 < float(on_cpu.mean()) < 0.99  # neither trivial nor chance
    assert torch.equal(on_gpu, on_cpu), int((on_gpu != on_cpu).sum())
