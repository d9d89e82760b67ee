"""Several episodes per optimiser step: the loss is the mean of the episodes' own losses."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from audiofsl.runs.composition import build_method

pytestmark = pytest.mark.filterwarnings("ignore:.*self.log.*")

N_WAY, N_SHOT, N_QUERY, N_EPISODES = 3, 2, 2, 3
SMALL = ["frontend.n_mels=32", "encoder.hidden_channels=16", "data.loader.clip_seconds=0.25"]


def episodes_batch(n_episodes: int) -> dict:
    """E episodes of random audio in the sampler's layout (episode by episode, class-major)."""
    per_episode = N_WAY * (N_SHOT + N_QUERY)
    audio = torch.randn(n_episodes * per_episode, 8000, generator=torch.Generator().manual_seed(0))
    label = torch.arange(N_WAY).repeat_interleave(N_SHOT + N_QUERY).repeat(n_episodes)
    return {"audio": audio, "label": label, "index": torch.arange(len(audio)), "n_way": N_WAY,
            "n_shot": N_SHOT, "n_query": N_QUERY, "episodes_per_batch": n_episodes}  # fmt: skip


def one_episode(batch: dict, episode: int) -> dict:
    """Episode ``episode`` of a featurised batch, every view of it (features are view-major)."""
    n_views, rows = batch["n_views"], len(batch["label"])
    per_episode = rows // batch["episodes_per_batch"]
    features = batch["features"].reshape(n_views, rows, *batch["features"].shape[1:])
    chosen = slice(episode * per_episode, (episode + 1) * per_episode)
    return {**batch, "features": features[:, chosen].flatten(0, 1),
            "label": batch["label"][chosen], "episodes_per_batch": 1}  # fmt: skip


@pytest.mark.parametrize(
    "experiment",
    ["synthetic_protonet", "synthetic_apl", "synthetic_views", "synthetic_relationnet",
     "synthetic_matching", "synthetic_attention"],
)  # fmt: skip
def test_a_batch_of_episodes_averages_their_losses(compose_config, experiment):
    torch.manual_seed(0)
    method = build_method(compose_config("train", [f"+experiment={experiment}", *SMALL]))
    method._trainer = SimpleNamespace(training=True)
    batch = method.on_after_batch_transfer(episodes_batch(N_EPISODES), 0)
    method._trainer = None
    method.eval()  # batch norm from running statistics: no coupling through batch statistics
    if hasattr(method, "relation"):  # an untrained relation module scores every pair alike
        with torch.no_grad():
            for parameter in method.relation.parameters():
                parameter.mul_(2.0)

    def loss_of(part: dict) -> torch.Tensor:
        torch.manual_seed(5)  # the same view order for view attention's shuffled fusion
        with torch.no_grad():
            return method.training_step(part, 0)

    together = loss_of(batch)
    each = torch.stack([loss_of(one_episode(batch, e)) for e in range(N_EPISODES)])
    assert torch.allclose(together, each.mean(), rtol=1e-5, atol=1e-6)
    assert each.std() > 1e-4  # the episodes differ, so a wrong grouping would show


def test_episodes_per_batch_must_divide_the_epoch():
    from audiofsl.samplers import EpisodeSpec

    with pytest.raises(ValueError, match="sampler.n_episodes=96"):
        EpisodeSpec(n_episodes=100, episodes_per_batch=16)
    with pytest.raises(ValueError, match="episodes_per_batch"):
        EpisodeSpec(episodes_per_batch=0)
