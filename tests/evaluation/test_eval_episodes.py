import pytest
import torch

from audiofsl.evaluation import EpisodeSettings, sample_episodes


def _labels():
    # Uneven classes with non-contiguous label values; class 40 is too small for 4 + 3 clips.
    sizes = {3: 12, 7: 9, 11: 7, 20: 15, 25: 8, 40: 4, 41: 10}
    labels = torch.cat([torch.full((n,), c) for c, n in sizes.items()])
    return labels[torch.randperm(labels.numel(), generator=torch.Generator().manual_seed(1))]


def test_shape_dtype_and_class_major_structure():
    labels = _labels()
    episodes = sample_episodes(labels, n_way=4, n_shot=4, n_query=3, n_tasks=200, seed=0)
    assert episodes.shape == (200, 4, 7) and episodes.dtype == torch.long
    task_labels = labels[episodes]  # [tasks, n_way, K]
    assert (task_labels == task_labels[..., :1]).all()  # one label per row
    row_classes = task_labels[..., 0]
    assert all(len(set(row.tolist())) == 4 for row in row_classes)  # distinct classes
    flat = episodes.flatten(1)
    assert all(len(set(task.tolist())) == flat.shape[1] for task in flat)  # no duplicate
    assert 40 not in row_classes.unique().tolist()  # too few clips


def test_all_eligible_classes_and_clips_are_used():
    labels = _labels()
    episodes = sample_episodes(labels, n_way=3, n_shot=4, n_query=3, n_tasks=500, seed=3)
    eligible = {c for c in labels.unique().tolist() if (labels == c).sum() >= 7}
    assert set(labels[episodes].unique().tolist()) == eligible
    used = set(episodes.unique().tolist())
    assert used == {i for i, c in enumerate(labels.tolist()) if c in eligible}


def test_deterministic_and_seed_dependent():
    labels = _labels()
    first = sample_episodes(labels, 3, 2, 2, 50, seed=5)
    torch.manual_seed(123)  # the global generator must not matter
    torch.rand(10)
    assert torch.equal(first, sample_episodes(labels, 3, 2, 2, 50, seed=5))
    assert not torch.equal(first, sample_episodes(labels, 3, 2, 2, 50, seed=6))


def test_many_tasks_span_several_draws():
    labels = torch.arange(30).repeat_interleave(5)
    episodes = sample_episodes(labels, 5, 1, 1, 2500, seed=0)
    assert episodes.shape == (2500, 5, 2)
    assert (labels[episodes] == labels[episodes][..., :1]).all()
    # Different chunks of tasks are different draws, not copies.
    assert not torch.equal(episodes[:1000], episodes[1000:2000])


def test_too_few_classes_names_the_settings():
    labels = _labels()
    with pytest.raises(ValueError, match="n_way=7.*n_shot"):
        sample_episodes(labels, n_way=7, n_shot=4, n_query=3, n_tasks=1, seed=0)
    with pytest.raises(ValueError, match="n_query"):
        sample_episodes(labels, n_way=2, n_shot=10, n_query=10, n_tasks=1, seed=0)


@pytest.mark.parametrize("name", ["n_way", "n_shot", "n_query", "n_tasks"])
def test_non_positive_counts_raise(name):
    kwargs = {"n_way": 2, "n_shot": 1, "n_query": 1, "n_tasks": 1, name: 0}
    with pytest.raises(ValueError, match=name):
        sample_episodes(_labels(), seed=0, **kwargs)


def test_bad_labels_raise():
    with pytest.raises(ValueError, match="labels"):
        sample_episodes(torch.rand(20), 2, 1, 1, 1)
    with pytest.raises(ValueError, match="labels"):
        sample_episodes(torch.zeros(0, dtype=torch.long), 2, 1, 1, 1)


def test_episode_settings_tag_and_validation():
    settings = EpisodeSettings(n_way=5, n_shot=1)
    assert settings.tag == "5way1shot"
    assert EpisodeSettings().tag == "5way5shot"
    with pytest.raises(ValueError, match="n_shot"):
        EpisodeSettings(n_shot=0)
