from collections import Counter

import pytest
import torch

from audiofsl.evaluation.windows import (
    TIE_RULES,
    combine_window_logits,
    mean_over_windows,
    pick_windows,
    window_table,
)


def _random_clips(n_clips, max_windows, seed=0):
    """A shuffled clip index per window, every clip with 1..max_windows windows."""
    g = torch.Generator().manual_seed(seed)
    counts = torch.randint(1, max_windows + 1, (n_clips,), generator=g)
    counts[0] = 1
    clips = torch.repeat_interleave(torch.arange(n_clips), counts)
    return clips[torch.randperm(clips.numel(), generator=g)], counts


def _padded(logits_per_clip, width, fill=float("nan")):
    """[n, M, W] logits and [n, M] mask from a list of [m_i, W] tensors, padding with ``fill``."""
    n_classes = logits_per_clip[0].shape[1]
    logits = torch.full((len(logits_per_clip), width, n_classes), fill)
    mask = torch.zeros(len(logits_per_clip), width, dtype=torch.bool)
    for i, rows in enumerate(logits_per_clip):
        logits[i, : len(rows)] = rows
        mask[i, : len(rows)] = True
    return logits, mask


def _vote_reference(rows, tie_rule):
    """One clip's majority vote over its windows [m, W], by an explicit loop."""
    predicted = [int(row.argmax()) for row in rows]
    posterior = [float(row.max()) for row in rows]
    counts = Counter(predicted)  # in order of first vote
    most = max(counts.values())
    tied = [label for label, count in counts.items() if count == most]
    if tie_rule == "first":
        return tied[0]
    if tie_rule == "min_label":
        return min(tied)
    best, winner = -float("inf"), None
    for label, value in zip(predicted, posterior, strict=True):
        if label in tied and value > best:
            best, winner = value, label
    return winner


def _is_tie(rows):
    counts = Counter(rows.argmax(-1).tolist()).values()
    return list(counts).count(max(counts)) > 1


def _random_window_logits(n_clips, width, n_classes, seed, integer=False):
    g = torch.Generator().manual_seed(seed)
    counts = torch.randint(1, width + 1, (n_clips,), generator=g)
    counts[:3] = torch.tensor([1, 2, width])[: min(3, n_clips)]
    if integer:  # coarse values: argmax ties within a window and equal posteriors
        make = lambda m: torch.randint(0, 3, (m, n_classes), generator=g).float()  # noqa: E731
    else:
        make = lambda m: torch.randn(m, n_classes, generator=g)  # noqa: E731
    return [make(int(m)) for m in counts]


def test_window_table_matches_loop():
    clips, counts = _random_clips(30, 6)
    table, mask = window_table(clips, 30)
    assert table.shape == (30, int(counts.max())) and table.dtype == torch.long
    for c in range(30):
        expected = [k for k in range(clips.numel()) if clips[k] == c]
        assert table[c, : len(expected)].tolist() == expected
        assert (table[c, len(expected) :] == -1).all()
        assert mask[c].tolist() == [True] * len(expected) + [False] * (
            table.shape[1] - len(expected)
        )


def test_window_table_errors():
    with pytest.raises(ValueError, match="no window"):
        window_table(torch.tensor([0, 0, 2]), 3)
    with pytest.raises(ValueError, match="outside"):
        window_table(torch.tensor([0, 3]), 3)
    with pytest.raises(ValueError, match="n_clips"):
        window_table(torch.tensor([0]), 0)


def test_mean_over_windows_matches_loop():
    clips, _ = _random_clips(20, 5, seed=1)
    reps = torch.randn(clips.numel(), 3, 4, dtype=torch.float64)
    table, mask = window_table(clips, 20)
    got = mean_over_windows(reps, table, mask)
    assert got.shape == (20, 3, 4) and got.dtype == torch.float32
    for c in range(20):
        expected = reps[clips == c].float().mean(0)
        assert torch.allclose(got[c], expected, atol=1e-6)


def test_pick_windows_is_seeded_uniform_and_real():
    clips, counts = _random_clips(40, 5, seed=2)
    table, mask = window_table(clips, 40)
    picks = [pick_windows(mask, torch.Generator().manual_seed(s)) for s in range(400)]
    again = pick_windows(mask, torch.Generator().manual_seed(7))
    assert torch.equal(again, picks[7]) and again.dtype == torch.long
    stacked = torch.stack(picks)  # [draws, n_clips]
    assert mask.gather(1, stacked.T).all()  # only real windows
    for c in range(40):
        frequency = torch.bincount(stacked[:, c], minlength=int(counts[c])) / 400
        assert frequency.numel() == counts[c]
        assert (frequency - 1 / counts[c]).abs().max() < 0.1  # every window drawn, about evenly


def test_pick_windows_with_holes_in_the_mask():
    mask = torch.tensor([[False, True, False, True], [True, False, False, False]])
    seen = {tuple(pick_windows(mask, torch.Generator().manual_seed(s)).tolist()) for s in range(50)}
    assert seen == {(1, 0), (3, 0)}


@pytest.mark.parametrize("integer", [False, True])
def test_mean_matches_loop(integer):
    clips = _random_window_logits(50, 6, 5, seed=3, integer=integer)
    logits, mask = _padded(clips, 6)
    got = combine_window_logits(logits, mask, "mean")
    assert got.shape == (50, 5) and got.dtype == torch.float32
    expected = torch.stack([rows.mean(0) for rows in clips])
    assert torch.allclose(got, expected, atol=1e-6)


@pytest.mark.parametrize("tie_rule", TIE_RULES)
@pytest.mark.parametrize("integer", [False, True])
def test_vote_matches_loop(tie_rule, integer):
    clips = _random_window_logits(300, 6, 4, seed=4, integer=integer)
    logits, mask = _padded(clips, 6, fill=1e9)  # padding would win every vote it took part in
    scores = combine_window_logits(logits, mask, "vote", tie_rule)
    expected = torch.tensor([_vote_reference(rows, tie_rule) for rows in clips])
    assert torch.equal(scores.argmax(-1), expected)
    votes = torch.stack([torch.bincount(rows.argmax(-1), minlength=4) for rows in clips])
    assert torch.equal(scores.floor(), votes.float())  # integer part: the vote counts
    assert sum(_is_tie(rows) for rows in clips) > 10  # the draw includes ties


@pytest.mark.parametrize(
    "rows, winners",
    [
        # windows' argmax: 2, 0, 0, 2 -> tie between 2 and 0
        (
            [[0, 0, 5], [4, 0, 0], [9, 0, 0], [0, 0, 7]],
            {"first": 2, "min_label": 0, "max_posterior": 0},
        ),
        # equal top scores: the earlier window's class wins max_posterior
        ([[0, 3, 0], [3, 0, 0]], {"first": 1, "min_label": 0, "max_posterior": 1}),
        # a class with more votes wins whatever the rule
        ([[0, 1], [0, 1], [9, 0]], {"first": 1, "min_label": 1, "max_posterior": 1}),
        # one window: its class
        ([[0, 0, 1, 0]], {"first": 2, "min_label": 2, "max_posterior": 2}),
    ],
)
def test_vote_constructed_ties(rows, winners):
    logits = torch.tensor(rows, dtype=torch.float32)
    mask = torch.ones(len(rows), dtype=torch.bool)
    for rule, winner in winners.items():
        assert int(combine_window_logits(logits, mask, "vote", rule).argmax()) == winner
        assert _vote_reference(logits, rule) == winner


def test_padding_never_votes():
    logits = torch.tensor([[[0.0, 1.0], [5.0, 0.0], [5.0, 0.0]]])  # windows 2 and 3 are padding
    mask = torch.tensor([[True, False, False]])
    for rule in TIE_RULES:
        scores = combine_window_logits(logits, mask, "vote", rule)
        assert scores.floor().tolist() == [[0.0, 1.0]] and int(scores.argmax()) == 1
    assert combine_window_logits(logits, mask, "mean").tolist() == [[0.0, 1.0]]


@pytest.mark.parametrize("mode, rule", [("mean", "first"), *[("vote", r) for r in TIE_RULES]])
def test_leading_task_dims(mode, rule):
    clips = _random_window_logits(6 * 8, 5, 3, seed=5, integer=True)
    logits, mask = _padded(clips, 5, fill=0.0)
    flat = combine_window_logits(logits, mask, mode, rule)
    tasks = combine_window_logits(logits.reshape(6, 8, 5, 3), mask.reshape(6, 8, 5), mode, rule)
    assert tasks.shape == (6, 8, 3)
    assert torch.equal(tasks.reshape(48, 3), flat)


def test_errors_name_the_setting():
    logits, mask = torch.zeros(2, 3, 4), torch.ones(2, 3, dtype=torch.bool)
    with pytest.raises(ValueError, match="evaluation.query_windows"):
        combine_window_logits(logits, mask, "median")
    with pytest.raises(ValueError, match="evaluation.tie_rule"):
        combine_window_logits(logits, mask, "vote", "random")
    with pytest.raises(ValueError, match="mask"):
        combine_window_logits(logits, mask[:, :2], "mean")
    mask[1] = False
    with pytest.raises(ValueError, match="at least one real window"):
        combine_window_logits(logits, mask, "vote")
