"""Supervised multi-label: targets, the tuned threshold, and the metrics it reports."""

import pytest
import torch

from audiofsl.encoders import Conv4
from audiofsl.evaluation import CachedSplit, EvaluationCache
from audiofsl.evaluation.classification import classifier_metrics, clip_probabilities
from audiofsl.evaluation.metrics import multi_label_metrics, tune_threshold
from audiofsl.frontends import LogMel
from audiofsl.losses import BCEWithLogitsLoss, CrossEntropyLoss, SigmoidFocalLoss
from audiofsl.methods import Supervised


def multi_label_model(**kwargs) -> Supervised:
    frontend = LogMel(n_mels=32, n_fft=256, hop_length=64)
    encoder = Conv4(n_features=32, hidden_channels=8)
    kwargs.setdefault("loss", BCEWithLogitsLoss())
    return Supervised(frontend, encoder, n_classes=4, test_by="classifier", multi_label=True,
                      **kwargs)  # fmt: skip


def random_split(seed=0, n_clips=30, n_classes=4):
    g = torch.Generator().manual_seed(seed)
    counts = torch.randint(1, 4, (n_clips,), generator=g)
    clip_of_window = torch.arange(n_clips).repeat_interleave(counts)
    targets = (torch.rand(n_clips, n_classes, generator=g) < 0.4).float()
    logits = 2 * (2 * targets[clip_of_window] - 1) + 2 * torch.randn(
        len(clip_of_window), n_classes, generator=g
    )
    return CachedSplit(logits, clip_of_window, targets.argmax(-1), targets)


def test_the_cache_keeps_each_clips_multi_hot_labels():
    cache = EvaluationCache()
    targets = torch.tensor([[1.0, 0, 1], [0, 1, 0]])
    batch = {"index": torch.tensor([2, 0, 1]), "segment": torch.tensor([1, 0, 0]),
             "label": torch.tensor([1, 0, 0]), "labels": targets[[1, 0, 0]]}  # fmt: skip
    cache.add(torch.randn(3, 2), batch)
    split = cache.finalize()
    assert split.clip_targets.tolist() == targets.tolist()


def test_multi_label_metrics_of_a_split_equal_a_loop_over_clips():
    split = random_split()
    result = classifier_metrics(split, "mean", threshold=0.5)
    exact = []
    for clip in range(split.n_clips):
        rows = split.representations[split.clip_of_window == clip]
        predicted = rows.sigmoid().mean(0) > 0.5
        exact.append(float(bool((predicted == split.clip_targets[clip].bool()).all())))
    assert result["acc"] == pytest.approx(sum(exact) / len(exact))
    reference = multi_label_metrics(clip_probabilities(split, "mean", True), split.clip_targets)
    assert result["f1_macro"] == pytest.approx(reference["f1_macro"])
    assert result["map"] == pytest.approx(reference["map"])


def test_the_threshold_is_tuned_on_validation_stored_and_used_at_test():
    model = multi_label_model()
    val, test = random_split(1), random_split(2)
    model.evaluator.score("val", val, model)
    expected = tune_threshold(clip_probabilities(val, "mean", True), val.clip_targets)
    assert torch.allclose(model.threshold, torch.full((4,), float(expected)))
    assert "threshold" in model.state_dict()
    result = model.evaluator.score("test", test, model)
    expected_metrics = classifier_metrics(test, "mean", float(expected))
    assert result == {f"test/{name}": value for name, value in expected_metrics.items()}


def test_training_gets_multi_hot_targets_one_hot_when_the_batch_has_none():
    seen = {}

    class Recorder(SigmoidFocalLoss):
        def forward(self, logits, targets):
            seen["targets"] = targets
            return super().forward(logits, targets)

    model = multi_label_model(loss=Recorder())
    model.log = lambda *args, **kwargs: None
    batch = {"features": model.frontend(torch.randn(3, 4000)), "label": torch.tensor([2, 0, 1]),
             "n_views": 1}  # fmt: skip
    model.training_step(batch, 0)
    assert seen["targets"].tolist() == torch.eye(4)[[2, 0, 1]].tolist()
    batch["labels"] = torch.tensor([[1.0, 0, 1, 0], [1, 1, 0, 0], [0, 0, 0, 1]])
    model.training_step(batch, 0)
    assert torch.equal(seen["targets"], batch["labels"])


def test_settings_that_cannot_work_are_errors():
    with pytest.raises(ValueError, match="needs a loss on targets"):
        multi_label_model(loss=CrossEntropyLoss())
    with pytest.raises(ValueError, match="positive_weights has 2 values for 4 classes"):
        multi_label_model(positive_weights=[1.0, 2.0])
    weighted = multi_label_model(positive_weights=[1.0, 2.0, 3.0, 4.0])
    (bce,) = weighted.loss.losses.values()
    assert bce.pos_weight.tolist() == [1.0, 2.0, 3.0, 4.0]
