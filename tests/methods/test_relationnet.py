import pytest
import torch

from audiofsl.encoders import Conv4
from audiofsl.evaluation import CachedSplit, EpisodeSettings, evaluate_tasks, sample_episodes
from audiofsl.frontends import LogMel
from audiofsl.heads import RelationModule
from audiofsl.methods import RelationNet


def tiny_relationnet() -> RelationNet:
    frontend = LogMel(sample_rate=8000, n_fft=256, hop_length=128, n_mels=32)
    encoder = Conv4(n_features=32, hidden_channels=8, n_blocks=2)
    relation = RelationModule(encoder.feature_channels, hidden_channels=8, hidden_units=4)
    return RelationNet(frontend, encoder, relation).eval()


def test_scoring_equals_a_loop_over_tasks_queries_and_classes():
    torch.manual_seed(0)
    method = tiny_relationnet()
    maps = torch.randn(24, 8, 8, 4)
    labels = torch.arange(6).repeat_interleave(4)
    split = CachedSplit(maps, torch.arange(24), labels)
    settings = EpisodeSettings(n_way=3, n_shot=2, n_query=2, n_tasks=7, seed=3)
    accuracy = evaluate_tasks(split, settings, method.scorer)
    expected = []
    for task in sample_episodes(labels, 3, 2, 2, 7, 3):
        protos = [maps[row[:2]].mean(0) for row in task]
        correct = 0
        for true_class, row in enumerate(task):
            for q in row[2:]:
                pairs = torch.stack([torch.cat([p, maps[q]]) for p in protos])
                correct += int(method.relation(pairs).argmax()) == true_class
        expected.append(correct / 6)
    assert torch.allclose(accuracy, torch.tensor(expected))


def test_a_training_step_gives_a_finite_loss_and_gradients_to_the_relation_module():
    method = tiny_relationnet().train()
    audio = torch.randn(3 * 4, 4000)
    batch = {"audio": audio, "n_way": 3, "n_shot": 2, "n_query": 2, "label": torch.zeros(12)}
    batch["features"], batch["n_views"] = method.frontend(audio), 1
    method.log = lambda *args, **kwargs: None
    loss = method.training_step(batch, 0)
    loss.backward()
    assert torch.isfinite(loss)
    assert all(p.grad is not None for p in method.relation.parameters())


def test_an_encoder_without_feature_maps_is_refused():
    with pytest.raises(TypeError, match="forward_features"):
        RelationNet(torch.nn.Identity(), torch.nn.Linear(2, 2), RelationModule(2))
