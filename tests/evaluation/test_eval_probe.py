"""Linear probe on cached embeddings, against loop references."""

import pytest
import torch
import torch.nn.functional as F

from audiofsl.evaluation.cache import CachedSplit
from audiofsl.evaluation.probe import (
    ProbeSettings,
    fit_linear_probe,
    probe_accuracy,
    select_clips,
    stratified_halves,
)


def _split(n_classes=4, clips_per_class=6, windows=(1, 3, 2), dim=5, spread=0.8, seed=0):
    """Clips of Gaussian classes around random centres, each with 1-3 windows."""
    generator = torch.Generator().manual_seed(seed)
    centres = 2 * torch.randn(n_classes, dim, generator=generator)
    reps, clip_of_window, labels = [], [], []
    for clip in range(n_classes * clips_per_class):
        label = clip % n_classes
        labels.append(label)
        for _ in range(windows[clip % len(windows)]):
            reps.append(centres[label] + spread * torch.randn(dim, generator=generator))
            clip_of_window.append(clip)
    return CachedSplit(torch.stack(reps), torch.tensor(clip_of_window), torch.tensor(labels))


def test_select_clips_equals_a_loop():
    split = _split()
    clips = torch.tensor([7, 2, 11])
    chosen = select_clips(split, clips)
    rows, numbers = [], []
    for new, clip in enumerate(clips.tolist()):
        for w in range(split.clip_of_window.numel()):
            if split.clip_of_window[w] == clip:
                rows.append(split.representations[w])
                numbers.append(new)
    order = torch.argsort(torch.tensor(numbers), stable=True)
    got = torch.argsort(chosen.clip_of_window, stable=True)
    assert torch.equal(chosen.representations[got], torch.stack(rows)[order])
    assert chosen.clip_labels.tolist() == split.clip_labels[clips].tolist()


def test_stratified_halves_partition_every_class_and_are_seeded():
    split = _split(n_classes=3, clips_per_class=5)
    fit, measure = stratified_halves(split, 0.5, seed=3)
    assert fit.n_clips + measure.n_clips == split.n_clips
    assert fit.representations.shape[0] + measure.representations.shape[0] == len(
        split.representations
    )
    for label in range(3):
        assert int((fit.clip_labels == label).sum()) == 2  # round(2.5) = 2, 3 measured
        assert int((measure.clip_labels == label).sum()) == 3
    again, _ = stratified_halves(split, 0.5, seed=3)
    other, _ = stratified_halves(split, 0.5, seed=4)
    assert torch.equal(again.representations, fit.representations)
    assert not torch.equal(other.representations, fit.representations)
    lone = CachedSplit(torch.randn(2, 3), torch.tensor([0, 1]), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="single clip"):
        stratified_halves(lone)


def test_the_fitted_probe_is_the_regularised_optimum():
    split = _split(spread=1.5)
    labels = split.clip_labels[split.clip_of_window]
    settings = ProbeSettings(l2=1e-2, max_iter=500)
    probe = fit_linear_probe(split.representations, labels, 4, settings)
    weight = probe.linear.weight.detach().clone().requires_grad_(True)
    bias = probe.linear.bias.detach().clone().requires_grad_(True)
    x = (split.representations - probe.mean) / probe.std
    objective = F.cross_entropy(x @ weight.T + bias, labels) + 1e-2 * weight.square().sum()
    gradients = torch.autograd.grad(objective, (weight, bias))
    assert max(float(g.abs().max()) for g in gradients) < 1e-4, "first-order optimality"
    assert probe.mean.shape == (5,) and not probe.training


def test_probe_accuracy_equals_a_per_clip_loop():
    fit, measure = _split(seed=1, spread=2.0), _split(seed=1, spread=2.5, clips_per_class=5)
    settings = ProbeSettings()
    result = probe_accuracy(fit, measure, settings)
    probe = fit_linear_probe(fit.representations, fit.clip_labels[fit.clip_of_window], 4, settings)
    correct = []
    for clip in range(measure.n_clips):
        rows = measure.representations[measure.clip_of_window == clip]
        with torch.no_grad():
            probabilities = probe(rows).softmax(-1).mean(0)
        correct.append(float(int(probabilities.argmax()) == int(measure.clip_labels[clip])))
    assert result["acc"] == pytest.approx(sum(correct) / len(correct))
    assert 0.5 < result["acc"] <= 1.0 and result["acc_ci95"] >= 0


def test_unlabelled_clips_are_left_out_of_the_fit():
    split = _split(seed=2)
    hidden = split.clip_labels.clone()
    hidden[::3] = -1
    with_unlabelled = CachedSplit(split.representations, split.clip_of_window, hidden)
    keep = torch.nonzero(hidden >= 0).flatten()
    a = probe_accuracy(with_unlabelled, split)
    b = probe_accuracy(select_clips(split, keep), split)
    assert a == pytest.approx(b)


def test_bad_input_names_the_problem():
    with pytest.raises(ValueError, match=r"embeddings \[N, D\] and labels \[N\]"):
        fit_linear_probe(torch.randn(4, 3), torch.zeros(3, dtype=torch.long), 2)
    with pytest.raises(ValueError, match="labels must lie in 0..1"):
        fit_linear_probe(torch.randn(4, 3), torch.tensor([0, 1, 2, 0]), 2)
    with pytest.raises(ValueError, match="fit_fraction"):
        ProbeSettings(fit_fraction=1.0)
