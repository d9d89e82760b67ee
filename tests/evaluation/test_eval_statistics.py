import math

import numpy as np
import pytest
import torch

from audiofsl.evaluation import mean_ci


def test_mean_ci_matches_hand_computation():
    acc = [0.5, 0.7, 0.9, 0.6]
    mean = sum(acc) / 4
    sample_var = sum((a - mean) ** 2 for a in acc) / 3
    expected_ci = 1.96 * math.sqrt(sample_var) / math.sqrt(4)
    got_mean, got_ci = mean_ci(torch.tensor(acc))
    assert got_mean == pytest.approx(0.675)
    assert got_ci == pytest.approx(expected_ci)
    assert got_ci == pytest.approx(1.96 * np.std(acc, ddof=1) / 2)


def test_mean_ci_accepts_sequences_and_returns_floats():
    mean, ci = mean_ci([1.0, 0.0])
    assert isinstance(mean, float) and isinstance(ci, float)
    assert mean == pytest.approx(0.5)
    assert ci == pytest.approx(1.96 * math.sqrt(0.5) / math.sqrt(2))


def test_mean_ci_single_task_and_constant_have_zero_width():
    assert mean_ci(torch.tensor([0.8])) == (pytest.approx(0.8), 0.0)
    assert mean_ci(torch.full((10,), 0.3))[1] == pytest.approx(0.0)


@pytest.mark.parametrize("bad", [[], [[0.1, 0.2]], [0.5, float("nan")]])
def test_mean_ci_rejects_bad_input(bad):
    with pytest.raises(ValueError, match="acc"):
        mean_ci(bad)
