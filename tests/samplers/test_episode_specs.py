import dataclasses

import pytest

from audiofsl.data.feasibility import EpisodeNeed
from audiofsl.evaluation import EpisodeSettings
from audiofsl.samplers import EpisodeShape, EpisodeSpec, MiniBatchSpec


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


def test_one_episode_shape_for_the_sampler_evaluation_and_the_data_checks():
    spec = EpisodeSpec(n_way=4, n_shot=2, n_query=3, n_episodes=7)
    settings = EpisodeSettings(n_way=4, n_shot=2, n_query=3, n_tasks=9, seed=1)
    need = EpisodeNeed.of(settings, "evaluation.val")
    for shaped in (spec, settings, need):
        assert isinstance(shaped, EpisodeShape)
        assert shaped.shape == EpisodeShape(4, 2, 3)
        assert (shaped.clips_per_class, shaped.batch_size) == (5, 20)
    assert need.setting == "evaluation.val" and need.adjustable
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.n_way = 3  # shapes are values: changed by dataclasses.replace only
