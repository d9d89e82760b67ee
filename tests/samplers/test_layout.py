import pytest
import torch

from audiofsl.samplers.layout import split_episode


def test_split_episode_matches_class_major_rows():
    n_way, n_shot, n_query, dim = 3, 2, 4, 5
    x = torch.randn(n_way * (n_shot + n_query), dim)
    support, query = split_episode(x, n_way, n_shot, n_query)
    assert support.shape == (n_way, n_shot, dim)
    assert query.shape == (n_way, n_query, dim)
    for c in range(n_way):
        start = c * (n_shot + n_query)
        assert torch.equal(support[c], x[start : start + n_shot])
        assert torch.equal(query[c], x[start + n_shot : start + n_shot + n_query])


def test_split_episode_keeps_leading_dims_and_feature_maps():
    x = torch.randn(2, 3 * 4, 8, 5, 7)  # [views, rows, C, H, W]
    support, query = split_episode(x, 3, 1, 3, feature_dims=3)
    assert support.shape == (2, 3, 1, 8, 5, 7)
    assert query.shape == (2, 3, 3, 8, 5, 7)
    assert torch.equal(query[1, 2, 0], x[1, 2 * 4 + 1])


def test_split_episode_rejects_wrong_row_count():
    with pytest.raises(ValueError, match="n_way=5"):
        split_episode(torch.randn(24, 3), 5, 1, 4)
