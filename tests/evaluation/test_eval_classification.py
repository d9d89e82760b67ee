import pytest
import torch

from audiofsl.evaluation import CachedSplit
from audiofsl.evaluation.classification import classification_accuracy, clip_probabilities


def loop_accuracy(logits, clip_of_window, labels, combine):
    correct = 0
    for clip in range(labels.numel()):
        rows = [w for w in range(len(clip_of_window)) if int(clip_of_window[w]) == clip]
        probabilities = torch.stack([logits[w].softmax(-1) for w in rows])
        if combine == "mean_logits":
            combined = torch.stack([logits[w] for w in rows]).mean(0).softmax(-1)
        else:
            combined = probabilities.mean(0) if combine == "mean" else probabilities.max(0).values
        correct += int(combined.argmax()) == int(labels[clip])
    return correct / labels.numel()


@pytest.mark.parametrize("combine", ["mean", "max", "mean_logits"])
def test_clip_accuracy_equals_a_loop_over_clips_and_windows(combine):
    g = torch.Generator().manual_seed(0)
    counts = torch.randint(1, 5, (40,), generator=g)
    clip_of_window = torch.arange(40).repeat_interleave(counts)
    labels = torch.randint(0, 6, (40,), generator=g)
    logits = torch.randn(len(clip_of_window), 6, generator=g) + 2 * torch.nn.functional.one_hot(
        labels[clip_of_window], 6
    )
    split = CachedSplit(logits, clip_of_window, labels)
    result = classification_accuracy(split, combine)
    assert result["acc"] == pytest.approx(loop_accuracy(logits, clip_of_window, labels, combine))
    assert 0 < result["acc_ci95"] < 0.2
    assert clip_probabilities(split, combine).shape == (40, 6)
    with pytest.raises(ValueError, match="clip combination"):
        clip_probabilities(split, "vote")
