import math
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F

from audiofsl.encoders import Conv4
from audiofsl.evaluation import CachedSplit, EpisodeSettings, evaluate_tasks, sample_episodes
from audiofsl.frontends import LogMel
from audiofsl.methods import MatchingNet, MatchingScorer

pytestmark = pytest.mark.filterwarnings("ignore:.*self.log.*")


def loop_probabilities(support, query, scale):
    """The paper's prediction sum_i a(q, x_i) y_i, one query and one support clip at a time."""
    n_way, n_shot, _ = support.shape
    weights = [[math.exp(scale * float(F.cosine_similarity(query, support[c, s], dim=0)))
                for s in range(n_shot)] for c in range(n_way)]  # fmt: skip
    total = sum(sum(row) for row in weights)
    return torch.tensor([sum(row) / total for row in weights])


@pytest.mark.parametrize("scale", [1.0, 7.5])
def test_the_scores_give_the_attention_mass_of_each_class(scale):
    g = torch.Generator().manual_seed(0)
    support, query = torch.randn(2, 4, 3, 6, generator=g), torch.randn(2, 5, 6, generator=g)
    logits = MatchingScorer(scale)(support, query)
    assert logits.shape == (2, 5, 4)
    for t in range(2):
        for q in range(5):
            expected = loop_probabilities(support[t], query[t, q], scale)
            assert torch.allclose(logits[t, q].softmax(-1), expected.float(), atol=1e-6)


def test_seeded_tasks_are_scored_like_a_loop_over_tasks_and_queries():
    g = torch.Generator().manual_seed(1)
    labels = torch.arange(5).repeat_interleave(6)
    embeddings = torch.randn(5, 8, generator=g)[labels] + torch.randn(30, 8, generator=g)
    split = CachedSplit(embeddings, torch.arange(30), labels)
    settings = EpisodeSettings(n_way=3, n_shot=2, n_query=3, n_tasks=20, seed=2)
    accuracy = evaluate_tasks(split, settings, MatchingScorer(2.0))
    expected = []
    for task in sample_episodes(labels, 3, 2, 3, 20, 2):
        support = embeddings[task[:, :2]]
        correct = [int(loop_probabilities(support, embeddings[q], 2.0).argmax()) == c
                   for c in range(3) for q in task[c, 2:]]  # fmt: skip
        expected.append(sum(correct) / len(correct))
    assert torch.allclose(accuracy, torch.tensor(expected))


def test_a_scale_that_is_not_positive_names_the_setting():
    with pytest.raises(ValueError, match="method.scale"):
        MatchingScorer(0.0)


def tone_episode(n_way=3, n_shot=2, n_query=2, n_samples=8000):
    """Classes are pure tones at distinct pitches, class-major, support before query."""
    t = torch.arange(n_samples) / 16000
    rows = []
    for freq in (300.0, 1200.0, 4000.0)[:n_way]:
        for _ in range(n_shot + n_query):
            phase = torch.rand(1) * 6.28
            rows.append(torch.sin(2 * torch.pi * freq * t + phase) + 0.05 * torch.randn_like(t))
    return {"audio": torch.stack(rows), "label": torch.arange(n_way).repeat_interleave(4),
            "n_way": n_way, "n_shot": n_shot, "n_query": n_query}  # fmt: skip


def test_training_episodes_teach_the_encoder_to_match_tones():
    torch.manual_seed(0)
    model = MatchingNet(LogMel(n_mels=32, normalization="per_example"),
                        Conv4(n_features=32, hidden_channels=16), scale=5.0)  # fmt: skip
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for step in range(25):
        model._trainer = SimpleNamespace(training=True)
        batch = model.on_after_batch_transfer(tone_episode(), 0)
        model._trainer = None
        loss = model.training_step(batch, step)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert sum(losses[-5:]) / 5 < 0.5 * sum(losses[:5]) / 5
    # The loss is the cross-entropy of the attended class distribution of the step's queries.
    assert model.prototype_scorer() is None  # enrolment by prototypes does not apply
