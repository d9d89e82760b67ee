import pytest
import torch

from audiofsl.samplers import EpisodeSpec, EpisodicBatchSampler

# Classes with non-contiguous ids and unequal sizes, items interleaved.
LABELS = torch.tensor([3, 7, 100, 42] * 6 + [7] * 5 + [100] * 9)


def make(spec=None, seed=0, labels=LABELS, **kwargs):
    spec = spec or EpisodeSpec(n_way=3, n_shot=2, n_query=3, n_episodes=20)
    return EpisodicBatchSampler(labels, spec, seed=seed, **kwargs)


def test_length_and_class_major_structure():
    spec = EpisodeSpec(n_way=3, n_shot=2, n_query=3, n_episodes=20)
    sampler = make(spec)
    episodes = list(sampler)
    assert len(sampler) == 20 and len(episodes) == 20
    for episode in episodes:
        assert len(episode) == spec.batch_size
        blocks = LABELS[torch.tensor(episode)].view(spec.n_way, spec.clips_per_class)
        assert (blocks == blocks[:, :1]).all(), "each block must hold one class"
        assert len(set(blocks[:, 0].tolist())) == spec.n_way, "classes must be distinct"
        for block in torch.tensor(episode).view(spec.n_way, -1):
            assert len(set(block.tolist())) == spec.clips_per_class, "clips must be distinct"


def test_episodes_tensor_matches_iteration():
    sampler = make()
    sampler.set_epoch(4)
    flat = torch.tensor(list(sampler))
    assert torch.equal(sampler.episodes().reshape(20, -1), flat)
    assert torch.equal(sampler.episodes(4), sampler.episodes())


def test_same_seed_and_epoch_repeat_and_set_epoch_changes_episodes():
    first, second = make(seed=5), make(seed=5)
    assert list(first) == list(second)
    assert list(first) == list(first), "iterating twice in one epoch repeats the episodes"
    epoch0 = list(first)
    first.set_epoch(1)
    epoch1 = list(first)
    assert epoch1 != epoch0
    second.set_epoch(1)
    assert list(second) == epoch1
    assert list(make(seed=6)) != epoch0


def test_epoch_fn_overrides_set_epoch():
    epoch = {"value": 0}
    reference = make(seed=2)
    sampler = make(seed=2, epoch_fn=lambda: epoch["value"])
    sampler.set_epoch(9)  # ignored while epoch_fn is set
    assert list(sampler) == list(reference)
    epoch["value"] = 3
    reference.set_epoch(3)
    assert list(sampler) == list(reference)
    assert sampler.current_epoch() == 3


def test_draws_are_roughly_uniform_over_classes_and_clips():
    labels = torch.arange(6).repeat_interleave(torch.tensor([4, 4, 4, 4, 4, 12]))
    spec = EpisodeSpec(n_way=2, n_shot=1, n_query=1, n_episodes=3000)
    indices = make(spec, labels=labels).episodes().reshape(-1)
    class_counts = torch.bincount(labels[indices], minlength=6).float()
    expected = 3000 * 2 * 2 / 6  # picks per class: episodes x classes x clips / n_classes
    assert ((class_counts - expected).abs() < 0.1 * expected).all(), class_counts
    big = indices[labels[indices] == 5]
    clip_counts = torch.bincount(big - 20, minlength=12).float()
    assert (clip_counts > 0.7 * clip_counts.mean()).all(), clip_counts


def test_too_few_classes_for_n_way():
    spec = EpisodeSpec(n_way=5, n_shot=2, n_query=3)
    with pytest.raises(ValueError, match=r"n_way=5 but only 4 of 4 classes"):
        make(spec)


def test_a_small_class_is_refused_naming_it():
    labels = torch.tensor([0] * 5 + [1] * 5 + [2] * 5 + [9] * 2)
    spec = EpisodeSpec(n_way=2, n_shot=2, n_query=3)
    with pytest.raises(ValueError, match=r"class 9 has 2 clips but an episode needs .* = 5"):
        make(spec, labels=labels)


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        (torch.zeros(3, 4, dtype=torch.long), "1-D"),
        (torch.tensor([], dtype=torch.long), "non-empty"),
        (torch.tensor([0.0, 1.0]), "integers"),
    ],
)
def test_bad_labels(labels, message):
    with pytest.raises(ValueError, match=message):
        make(labels=labels)


def test_bad_seed_epoch_and_spec():
    with pytest.raises(ValueError, match="seed"):
        make(seed=-1)
    with pytest.raises(ValueError, match="epoch"):
        make().set_epoch(-1)
    with pytest.raises(TypeError, match="EpisodeSpec"):
        EpisodicBatchSampler(LABELS, {"n_way": 3})


def test_training_and_evaluation_draw_episodes_with_one_algorithm():
    from audiofsl.evaluation import sample_episodes
    from audiofsl.samplers import epoch_generator
    from audiofsl.samplers.drawing import ClassTable, draw_episodes

    labels = torch.arange(7).repeat_interleave(5)
    spec = EpisodeSpec(n_way=3, n_shot=2, n_query=1, n_episodes=6)
    sampler = EpisodicBatchSampler(labels, spec, seed=4)
    table = ClassTable.from_labels(labels)
    assert torch.equal(
        sampler.episodes(epoch=2), draw_episodes(table, 6, 3, 3, epoch_generator(4, 2))
    )
    evaluation = sample_episodes(labels, 3, 2, 1, 6, seed=9)
    assert torch.equal(evaluation, draw_episodes(table, 6, 3, 3, torch.Generator().manual_seed(9)))


def test_several_episodes_per_batch_are_the_same_episodes_grouped():
    single = make(EpisodeSpec(n_way=3, n_shot=2, n_query=3, n_episodes=12))
    grouped = make(EpisodeSpec(n_way=3, n_shot=2, n_query=3, n_episodes=12, episodes_per_batch=4))
    batches = list(grouped)
    assert len(grouped) == len(batches) == 3
    assert torch.equal(torch.tensor(batches).reshape(12, -1), torch.tensor(list(single)))
