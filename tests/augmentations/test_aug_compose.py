import pytest
import torch
from torch import nn

from audiofsl.augmentations import Gain, OneOf, Sequence, SomeOf


class Add(nn.Module):
    """Adds a power of two, so the sum tells which transforms ran."""

    def __init__(self, bit):
        super().__init__()
        self.value = float(2**bit)
        self.batch_sizes = []

    def forward(self, x):
        self.batch_sizes.append(x.shape[0])
        return x + self.value


class Double(nn.Module):
    def forward(self, x):
        return 2 * x


def bits(out, n):
    code = out[:, 0].round().long()
    return torch.stack([(code >> b) & 1 for b in range(n)], dim=1).bool()


def test_sequence_applies_in_order():
    x = torch.ones(3, 4)
    torch.testing.assert_close(Sequence([Add(0), Double()])(x), torch.full((3, 4), 4.0))
    torch.testing.assert_close(Sequence([Double(), Add(0)])(x), torch.full((3, 4), 3.0))
    torch.testing.assert_close(Sequence([])(x), x)


def test_sequence_probability_selects_whole_examples():
    torch.manual_seed(0)
    seq = Sequence([Add(0), Add(1)], p=0.5)
    out = seq(torch.zeros(400, 2))
    applied = seq.last_params["applied"]
    assert torch.equal(out[:, 0] == 3, applied) and torch.equal(out[:, 0] == 0, ~applied)
    assert 150 < int(applied.sum()) < 250


def test_one_of_applies_exactly_one_transform_per_example():
    torch.manual_seed(1)
    adds = [Add(b) for b in range(3)]
    one_of = OneOf(adds)
    out = one_of(torch.zeros(600, 2))
    chosen = bits(out, 3)
    assert (chosen.sum(1) == 1).all()
    assert torch.equal(chosen.long().argmax(1), one_of.last_params["choice"])
    counts = chosen.sum(0)
    assert (counts > 150).all()
    assert sum(sum(a.batch_sizes) for a in adds) == 600  # each ran on its own rows only


def test_one_of_weights_and_inner_probabilities():
    torch.manual_seed(2)
    out = OneOf([Add(0), Add(1)], weights=[3, 1])(torch.zeros(4000, 1))
    assert (out[:, 0] == 1).float().mean() == pytest.approx(0.75, abs=0.03)
    inner = OneOf([Gain(20, 20, p=0.5)])
    x = torch.ones(4000, 10)
    changed = (inner(x) != x).any(1).float().mean()
    assert changed == pytest.approx(0.5, abs=0.03)


def test_some_of_applies_k_distinct_transforms_in_list_order():
    torch.manual_seed(3)
    some_of = SomeOf([Add(0), Add(1), Add(2), Add(3)], k=2)
    out = some_of(torch.zeros(500, 1))
    chosen = bits(out, 4)
    assert (chosen.sum(1) == 2).all()
    assert torch.equal(chosen, some_of.last_params["chosen"])
    pairs = {tuple(row.nonzero().flatten().tolist()) for row in chosen}
    assert len(pairs) == 6  # every subset of size 2 occurs
    ordered = SomeOf([Add(0), Double()], k=2)(torch.zeros(3, 1))
    torch.testing.assert_close(ordered, torch.full((3, 1), 2.0))  # (0 + 1) * 2, not 0 * 2 + 1


def test_some_of_count_range_and_probability():
    torch.manual_seed(4)
    some_of = SomeOf([Add(0), Add(1), Add(2)], k=0, max_k=3, p=0.5)
    out = some_of(torch.zeros(2000, 1))
    counts = bits(out, 3).sum(1)
    applied = some_of.last_params["applied"]
    assert (counts[~applied] == 0).all()
    assert set(counts[applied].tolist()) == {0, 1, 2, 3}


def test_nesting_and_dtype():
    nested = Sequence([OneOf([Add(0), Add(1)]), SomeOf([Add(2), Add(3)], k=1)])
    out = nested(torch.zeros(50, 3, dtype=torch.float64))
    assert out.dtype == torch.float64
    chosen = bits(out, 4)
    assert (chosen[:, :2].sum(1) == 1).all() and (chosen[:, 2:].sum(1) == 1).all()


def test_errors_name_the_composition():
    with pytest.raises(ValueError, match=r"OneOf transforms\[1\]"):
        OneOf([Add(0), "gain"])
    with pytest.raises(ValueError, match="OneOf weights"):
        OneOf([Add(0)], weights=[1, 2])
    with pytest.raises(ValueError, match="OneOf needs"):
        OneOf([])
    with pytest.raises(ValueError, match="SomeOf needs"):
        SomeOf([Add(0)], k=2)
    with pytest.raises(ValueError, match="Sequence p"):
        Sequence([Add(0)], p=-1)
