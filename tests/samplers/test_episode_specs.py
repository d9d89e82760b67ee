import pytest

from audiofsl.samplers import EpisodeSpec, MiniBatchSpec


def test_episode_spec_defaults_and_derived_sizes():
    spec = EpisodeSpec()
    assert (spec.n_way, spec.n_shot, spec.n_query, spec.n_episodes) == (5, 5, 5, 100)
    spec = EpisodeSpec(n_way=3, n_shot=2, n_query=4, n_episodes=7)
    assert spec.clips_per_class == 6
    assert spec.batch_size == 18


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"n_way": 1}, "n_way"),
        ({"n_shot": 0}, "n_shot"),
        ({"n_query": 0}, "n_query"),
        ({"n_episodes": 0}, "n_episodes"),
        ({"n_way": 2.5}, "n_way"),
        ({"n_shot": True}, "n_shot"),
    ],
)
def test_episode_spec_rejects_bad_values(kwargs, name):
    with pytest.raises(ValueError, match=f"EpisodeSpec.{name}"):
        EpisodeSpec(**kwargs)


def test_minibatch_spec():
    assert MiniBatchSpec() == MiniBatchSpec(batch_size=64, drop_last=True)
    with pytest.raises(ValueError, match="batch_size"):
        MiniBatchSpec(batch_size=0)
    with pytest.raises(ValueError, match="drop_last"):
        MiniBatchSpec(drop_last="yes")
