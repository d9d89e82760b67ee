"""Training batch sampling: episode shapes, the seeded episodic sampler and its collate."""

from audiofsl.samplers.collate import EpisodeCollate
from audiofsl.samplers.crops import WithCropSeeds
from audiofsl.samplers.episodic import EpisodicBatchSampler, epoch_generator
from audiofsl.samplers.layout import split_episode
from audiofsl.samplers.minibatch import ShuffledBatchSampler
from audiofsl.samplers.ranks import RankShard, evaluation_shard
from audiofsl.samplers.specs import EpisodeShape, EpisodeSpec, MiniBatchSpec

__all__ = [
    "EpisodeCollate",
    "EpisodeShape",
    "EpisodeSpec",
    "EpisodicBatchSampler",
    "MiniBatchSpec",
    "RankShard",
    "ShuffledBatchSampler",
    "WithCropSeeds",
    "epoch_generator",
    "evaluation_shard",
    "split_episode",
]
