import pytest
import torch

from audiofsl.losses import CrossEntropyLoss, PrototypicalLoss


def loop_cross_entropy(logits, labels, smoothing=0.0):
    """Reference: per row, -(1 - eps) log p_y - eps / C * sum_c log p_c, averaged."""
    total, n_classes = 0.0, logits.shape[1]
    for row, label in zip(logits.double(), labels.tolist(), strict=True):
        log_probs = row - torch.logsumexp(row, dim=0)
        total += -(1 - smoothing) * log_probs[label] - smoothing / n_classes * log_probs.sum()
    return total / logits.shape[0]


@pytest.mark.parametrize("smoothing", [0.0, 0.1, 0.5])
def test_cross_entropy_matches_loop_reference(smoothing):
    torch.manual_seed(0)
    logits, labels = 3 * torch.randn(12, 7), torch.randint(0, 7, (12,))
    loss = CrossEntropyLoss(label_smoothing=smoothing)(logits, labels)
    assert loss.dim() == 0 and loss.dtype == torch.float32
    torch.testing.assert_close(loss, loop_cross_entropy(logits, labels, smoothing).float())


def test_half_precision_logits_give_float32_loss():
    torch.manual_seed(1)
    logits, labels = torch.randn(8, 5), torch.randint(0, 5, (8,))
    loss = CrossEntropyLoss()(logits.half(), labels)
    assert loss.dtype == torch.float32
    torch.testing.assert_close(loss, loop_cross_entropy(logits.half().float(), labels).float())


def test_prototypical_loss_is_cross_entropy_over_negative_distances():
    torch.manual_seed(2)
    distances = torch.rand(15, 5) * 10
    labels = torch.arange(5).repeat_interleave(3)
    loss = PrototypicalLoss()(-distances, labels)
    torch.testing.assert_close(loss, loop_cross_entropy(-distances, labels).float())
    perfect = torch.full((5, 5), 100.0).fill_diagonal_(0.0)
    assert PrototypicalLoss()(-perfect, torch.arange(5)) < 1e-6


@pytest.mark.parametrize("loss_fn", [CrossEntropyLoss(), PrototypicalLoss()])
def test_errors_on_bad_labels(loss_fn):
    logits = torch.randn(6, 4)
    with pytest.raises(ValueError, match=r"labels \(5,\)"):
        loss_fn(logits, torch.zeros(5, dtype=torch.long))
    with pytest.raises(ValueError, match=r"\[0, 4\).*got values in \[0, 4\]"):
        loss_fn(logits, torch.tensor([0, 1, 2, 3, 4, 0]))
    with pytest.raises(ValueError, match=r"\[0, 4\).*got values in \[-2, 3\]"):
        loss_fn(logits, torch.tensor([0, 1, -2, 3, 0, 0]))
    if isinstance(loss_fn, PrototypicalLoss):  # -1 means unlabelled only to CrossEntropyLoss
        with pytest.raises(ValueError, match=r"\[0, 4\)"):
            loss_fn(logits, torch.tensor([0, 1, -1, 3, 0, 0]))
    with pytest.raises(ValueError, match="integer"):
        loss_fn(logits, torch.zeros(6))


def test_label_smoothing_range():
    with pytest.raises(ValueError, match="label_smoothing"):
        CrossEntropyLoss(label_smoothing=1.0)


@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_cross_entropy_ignores_unlabelled_rows(smoothing):
    torch.manual_seed(3)
    logits = 3 * torch.randn(10, 4)
    labels = torch.tensor([0, -1, 3, 2, -1, -1, 1, 0, -1, 3])
    loss = CrossEntropyLoss(label_smoothing=smoothing)(logits, labels)
    labelled = labels >= 0
    expected = loop_cross_entropy(logits[labelled], labels[labelled], smoothing)
    torch.testing.assert_close(loss, expected.float())
    # leading dims are flattened as before
    torch.testing.assert_close(
        CrossEntropyLoss(label_smoothing=smoothing)(logits.view(2, 5, 4), labels.view(2, 5)), loss
    )


def test_cross_entropy_without_labelled_rows_is_zero_with_a_graph():
    logits = torch.randn(6, 3, requires_grad=True)
    loss = CrossEntropyLoss(label_smoothing=0.1)(logits, torch.full((6,), -1))
    assert loss.item() == 0.0 and loss.dtype == torch.float32 and loss.requires_grad
    loss.backward()
    torch.testing.assert_close(logits.grad, torch.zeros(6, 3))


def test_cross_entropy_gradients_skip_unlabelled_rows():
    logits = torch.randn(4, 3, requires_grad=True)
    CrossEntropyLoss()(logits, torch.tensor([2, -1, 0, -1])).backward()
    assert logits.grad[[1, 3]].abs().sum() == 0 and logits.grad[[0, 2]].abs().sum() > 0


def test_cross_entropy_rejects_labels_below_minus_one():
    with pytest.raises(ValueError, match=r"\[0, 4\) \(the number of logit columns\) or -1"):
        CrossEntropyLoss()(torch.randn(3, 4), torch.tensor([0, -2, 1]))
