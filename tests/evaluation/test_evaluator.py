from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F

from audiofsl.evaluation import CachedSplit, EpisodeSettings, EvaluationProtocol, PrototypeScorer
from audiofsl.evaluation.classification import classifier_metrics
from audiofsl.evaluation.episodes import sample_episodes
from audiofsl.evaluation.evaluator import (
    ClassifierEvaluator,
    EpisodicEvaluator,
    split_evaluator,
)


def clustered_split(n_classes: int = 6, per_class: int = 8, dim: int = 4) -> CachedSplit:
    """One window per clip; embeddings around a class centre, offset by a shared mean."""
    g = torch.Generator().manual_seed(3)
    labels = torch.arange(n_classes).repeat_interleave(per_class)
    centres = torch.randn(n_classes, dim, generator=g)
    embeddings = 5.0 + centres[labels] + 0.9 * torch.randn(len(labels), dim, generator=g)
    return CachedSplit(embeddings, torch.arange(len(labels)), labels)


def loop_accuracy(split: CachedSplit, setting: EpisodeSettings, train_mean: torch.Tensor) -> float:
    """Nearest prototype of centred, L2-normalised embeddings, task by task, query by query."""
    tasks = sample_episodes(split.clip_labels, setting.n_way, setting.n_shot, setting.n_query,
                            setting.n_tasks, setting.seed)  # fmt: skip
    rows = F.normalize(split.representations - train_mean, dim=-1)
    correct = []
    for task in tasks:
        prototypes = torch.stack(
            [rows[task[c, : setting.n_shot]].mean(0) for c in range(len(task))]
        )
        for c in range(len(task)):
            for index in task[c, setting.n_shot :]:
                distances = ((prototypes - rows[index]) ** 2).sum(-1)
                correct.append(float(int(distances.argmin()) == c))
    return sum(correct) / len(correct)


def method(scorer=None, train_mean=None, threshold=None):
    return SimpleNamespace(scorer=scorer, fitted_train_mean=lambda: train_mean,
                           decision_threshold=lambda: threshold)  # fmt: skip


def test_episodes_are_scored_like_a_loop_and_every_test_setting_is_logged():
    split = clustered_split()
    settings = [EpisodeSettings(3, 1, 2, n_tasks=40, seed=1),
                EpisodeSettings(4, 2, 3, n_tasks=30, seed=2)]  # fmt: skip
    evaluator = EpisodicEvaluator(EvaluationProtocol(test=settings))
    mean = split.representations.mean(0)
    scorer = PrototypeScorer(transform="center_l2")
    metrics = evaluator.score("test", split, method(scorer, mean))
    assert list(metrics) == ["test/acc", "test/acc_ci95", f"test/{settings[0].tag}/acc",
                             f"test/{settings[0].tag}/acc_ci95", f"test/{settings[1].tag}/acc",
                             f"test/{settings[1].tag}/acc_ci95"]  # fmt: skip
    for setting in settings:
        assert metrics[f"test/{setting.tag}/acc"] == pytest.approx(
            loop_accuracy(split, setting, mean)
        )
    assert metrics["test/acc"] == metrics[f"test/{settings[0].tag}/acc"]
    # What reports read is the split before the scorer's transform.
    assert evaluator.last.split == "test"
    assert torch.equal(evaluator.last.cached.representations, split.representations)


def test_validation_measures_the_validation_setting_only():
    split = clustered_split()
    val = EpisodeSettings(3, 2, 2, n_tasks=25, seed=5)
    evaluator = EpisodicEvaluator(EvaluationProtocol(val=val))
    metrics = evaluator.score("val", split, method(PrototypeScorer(transform="center_l2"), None))
    assert list(metrics) == ["val/acc", "val/acc_ci95"]
    # Without a fitted training mean, centring uses the split's own mean.
    split_mean = split.representations.mean(0)
    assert metrics["val/acc"] == pytest.approx(loop_accuracy(split, val, split_mean))


def test_per_epoch_validation_draws_the_tasks_of_seed_plus_epoch():
    split = clustered_split()
    val = EpisodeSettings(3, 2, 2, n_tasks=25, seed=5)
    scored = method(PrototypeScorer(transform="center_l2"), None)
    split_mean = split.representations.mean(0)
    fresh = EpisodicEvaluator(EvaluationProtocol(val=val, val_tasks="per_epoch"))
    fixed = EpisodicEvaluator(EvaluationProtocol(val=val))
    per_epoch = []
    for epoch in range(4):
        expected = loop_accuracy(split, EpisodeSettings(3, 2, 2, n_tasks=25, seed=5 + epoch),
                                 split_mean)  # fmt: skip
        per_epoch.append(fresh.score("val", split, scored, epoch)["val/acc"])
        assert per_epoch[-1] == pytest.approx(expected)
        assert fixed.score("val", split, scored, epoch)["val/acc"] == pytest.approx(
            loop_accuracy(split, val, split_mean)
        )
    assert len(set(per_epoch)) > 1  # new tasks, not the same ones re-scored


def test_an_unknown_validation_task_rule_names_the_setting():
    with pytest.raises(ValueError, match="evaluation.val_tasks='fresh'"):
        EvaluationProtocol(val_tasks="fresh")


def test_an_episodic_evaluation_without_a_scorer_names_the_method():
    with pytest.raises(TypeError, match="SimpleNamespace sets no scorer"):
        EpisodicEvaluator().score("val", clustered_split(), method(None))


def test_the_classifier_evaluator_reports_clip_metrics_under_the_split():
    g = torch.Generator().manual_seed(0)
    clip_of_window = torch.tensor([0, 0, 1, 2, 2, 2, 3])
    split = CachedSplit(torch.randn(7, 3, generator=g), clip_of_window, torch.tensor([0, 1, 2, 1]))
    evaluator = ClassifierEvaluator(clip_combination="max")
    metrics = evaluator.score("test", split, method())
    expected = classifier_metrics(split, "max")
    assert metrics == {f"test/{name}": value for name, value in expected.items()}
    assert evaluator.last.cached is split and evaluator.by_classifier


def test_a_multi_label_threshold_is_tuned_in_place_on_validation_only():
    g = torch.Generator().manual_seed(1)
    targets = (torch.rand(12, 3, generator=g) > 0.5).float()
    logits = 4 * (targets - 0.5) + torch.randn(12, 3, generator=g)
    split = CachedSplit(logits, torch.arange(12), torch.zeros(12, dtype=torch.long), targets)
    threshold = torch.full((3,), 0.5)
    evaluator = ClassifierEvaluator()
    evaluator.score("test", split, method(threshold=threshold))
    assert torch.equal(threshold, torch.full((3,), 0.5))  # test never tunes
    metrics = evaluator.score("val", split, method(threshold=threshold))
    assert not torch.equal(threshold, torch.full((3,), 0.5))
    tuned = float(threshold[0])
    assert metrics["val/acc"] == classifier_metrics(split, "mean", tuned)["acc"]


@pytest.mark.parametrize(
    ("test_by", "has_classifier", "combination", "message"),
    [
        ("clips", True, "mean", "method.test_by='clips'"),
        ("classifier", False, "mean", "classifier with a classifier"),
        ("episodes", True, "vote", "method.clip_combination"),
    ],
)
def test_bad_evaluation_settings_name_the_setting(test_by, has_classifier, combination, message):
    with pytest.raises(ValueError, match=message):
        split_evaluator(test_by, None, has_classifier, clip_combination=combination)


def test_the_setting_picks_the_evaluator_and_shares_the_protocol():
    protocol = EvaluationProtocol()
    assert type(split_evaluator("episodes", protocol)) is EpisodicEvaluator
    chosen = split_evaluator("classifier", protocol, clip_combination="mean_logits")
    assert isinstance(chosen, ClassifierEvaluator) and chosen.protocol is protocol
    assert chosen.clip_combination == "mean_logits"


def test_measure_reads_the_batches_added_in_any_order_until_cleared():
    split = clustered_split(n_classes=3, per_class=4)
    evaluator = ClassifierEvaluator()
    for rows in (torch.arange(6, 12), torch.arange(0, 6)):
        batch = {"index": rows, "label": split.clip_labels[rows]}
        evaluator.add(split.representations[rows, :3], batch)
    whole = CachedSplit(split.representations[:, :3], split.clip_of_window, split.clip_labels)
    assert evaluator.measure("val", method()) == evaluator.score("val", whole, method())
    evaluator.clear()
    with pytest.raises(ValueError, match="cache is empty"):
        evaluator.measure("val", method())
