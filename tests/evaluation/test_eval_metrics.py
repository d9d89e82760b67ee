import math
import warnings

import pytest
import torch

from audiofsl.evaluation.metrics import multi_label_metrics, single_label_metrics, tune_threshold

NAN = float("nan")

# --- slow, obviously-correct references ---------------------------------------------------


def loop_counts(predicted, actual):
    """TP, FP, FN of one class from two lists of 0/1."""
    tp = sum(1 for p, a in zip(predicted, actual, strict=True) if p and a)
    fp = sum(1 for p, a in zip(predicted, actual, strict=True) if p and not a)
    fn = sum(1 for p, a in zip(predicted, actual, strict=True) if not p and a)
    return tp, fp, fn


def loop_f1(predicted, actual):
    """2 TP / (2 TP + FP + FN); NaN when the class is neither present nor predicted."""
    tp, fp, fn = loop_counts(predicted, actual)
    return NAN if tp + fp + fn == 0 else 2 * tp / (2 * tp + fp + fn)


def loop_average_precision(scores, actual):
    """sum_k (R_k - R_{k-1}) P_k over the distinct scores, highest first; NaN without positives.

    At threshold t every row with score >= t is predicted positive (ties enter together)."""
    n_pos = sum(actual)
    if n_pos == 0:
        return NAN
    total, previous_recall = 0.0, 0.0
    for t in sorted(set(scores), reverse=True):
        chosen = [a for s, a in zip(scores, actual, strict=True) if s >= t]
        precision, recall = sum(chosen) / len(chosen), sum(chosen) / n_pos
        total += (recall - previous_recall) * precision
        previous_recall = recall
    return total


def nan_mean(values):
    kept = [v for v in values if not math.isnan(v)]
    return sum(kept) / len(kept) if kept else NAN


def loop_multi_label(probabilities, targets, thresholds):
    probs, targ = probabilities.tolist(), targets.long().tolist()
    n, c = len(probs), len(probs[0])
    # compared in float32, as the probabilities are (0.3 in float32 is above 0.3 in float64)
    thresholds = [torch.tensor(t, dtype=torch.float32).item() for t in thresholds]
    predicted = [[int(probs[i][j] > thresholds[j]) for j in range(c)] for i in range(n)]
    columns = [
        ([predicted[i][j] for i in range(n)], [targ[i][j] for i in range(n)]) for j in range(c)
    ]
    f1 = [loop_f1(p, a) for p, a in columns]
    tp = fp = fn = 0
    for p, a in columns:
        counts = loop_counts(p, a)
        tp, fp, fn = tp + counts[0], fp + counts[1], fn + counts[2]
    ap = [loop_average_precision([probs[i][j] for i in range(n)], columns[j][1]) for j in range(c)]
    wrong = sum(predicted[i][j] != targ[i][j] for i in range(n) for j in range(c))
    return {
        "f1_macro": nan_mean(f1),
        "f1_micro": 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0,
        "f1_per_class": f1,
        "hamming": wrong / (n * c),
        "map": nan_mean(ap),
        "ap_per_class": ap,
        "exact_match": sum(predicted[i] == targ[i] for i in range(n)) / n,
    }


def loop_single_label(probabilities, labels):
    probs, labels = probabilities.tolist(), labels.tolist()
    n, c = len(probs), len(probs[0])
    predicted = [max(range(c), key=lambda j, row=row: row[j]) for row in probs]
    f1 = [loop_f1([p == j for p in predicted], [y == j for y in labels]) for j in range(c)]
    acc = sum(p == y for p, y in zip(predicted, labels, strict=True)) / n
    return {"acc": acc, "f1_macro": nan_mean(f1), "f1_micro": acc, "f1_per_class": f1}


def assert_metrics_equal(actual, expected):
    assert set(actual) == set(expected)
    for key, value in expected.items():
        if isinstance(value, list):
            assert actual[key] == pytest.approx(value, abs=1e-6, nan_ok=True), key
        else:
            assert actual[key] == pytest.approx(value, abs=1e-6, nan_ok=True), key


# --- fixed prediction sets ----------------------------------------------------------------

# 6 clips, 5 classes. Class 3 has no positive and is never predicted at 0.5 (F1 undefined);
# class 4 has no positive but one false positive (F1 = 0). Class 1 has tied scores (0.7).
HAND_PROBABILITIES = torch.tensor(
    [
        [0.9, 0.7, 0.1, 0.2, 0.1],
        [0.8, 0.2, 0.6, 0.1, 0.6],
        [0.3, 0.7, 0.4, 0.3, 0.2],
        [0.6, 0.1, 0.9, 0.0, 0.1],
        [0.2, 0.7, 0.3, 0.1, 0.0],
        [0.1, 0.4, 0.55, 0.2, 0.3],
    ]
)
HAND_TARGETS = torch.tensor(
    [
        [1, 1, 0, 0, 0],
        [1, 0, 1, 0, 0],
        [0, 0, 1, 0, 0],
        [0, 0, 1, 0, 0],
        [0, 1, 0, 0, 0],
        [0, 1, 0, 0, 0],
    ]
)


def random_multi_label(seed, n=40, c=6):
    generator = torch.Generator().manual_seed(seed)
    targets = (torch.rand(n, c, generator=generator) < 0.3).long()
    logits = 2 * targets - 1 + 1.5 * torch.randn(n, c, generator=generator)
    return torch.sigmoid(logits), targets


# --- multi-label --------------------------------------------------------------------------


def test_multi_label_hand_set_against_hand_values():
    metrics = multi_label_metrics(HAND_PROBABILITIES, HAND_TARGETS)
    # class 0: TP 1 (row 0), TP (row 1), FP (row 3) -> 2*2/(4+1) = 0.8
    # class 1: TP rows 0, 4; FP row 2; FN row 5 -> 4/(4+1+1) = 2/3
    # class 2: TP rows 1, 3; FN row 2; FP row 5 -> 4/6 = 2/3
    # class 3: nothing -> NaN; class 4: FP row 1 -> 0
    assert metrics["f1_per_class"][:3] == pytest.approx([0.8, 2 / 3, 2 / 3])
    assert math.isnan(metrics["f1_per_class"][3]) and metrics["f1_per_class"][4] == 0.0
    assert metrics["f1_macro"] == pytest.approx((0.8 + 2 / 3 + 2 / 3 + 0.0) / 4)
    # TP 6, FP 4, FN 2 -> 12 / 18
    assert metrics["f1_micro"] == pytest.approx(12 / 18)
    assert metrics["hamming"] == pytest.approx(6 / 30)
    assert metrics["exact_match"] == pytest.approx(2 / 6)  # rows 0 and 4
    assert math.isnan(metrics["ap_per_class"][3]) and math.isnan(metrics["ap_per_class"][4])
    # class 0: positives ranked 1st, 2nd -> AP 1
    assert metrics["ap_per_class"][0] == pytest.approx(1.0)
    # class 1: the three tied 0.7 hold 2 positives (P 2/3, R 2/3), then 0.4 (P 3/4, R 1)
    assert metrics["ap_per_class"][1] == pytest.approx(2 / 3 * 2 / 3 + 1 / 3 * 3 / 4)


@pytest.mark.parametrize("threshold", [0.5, 0.3, 0.75])
def test_multi_label_hand_set_matches_loop_reference(threshold):
    metrics = multi_label_metrics(HAND_PROBABILITIES, HAND_TARGETS, threshold=threshold)
    expected = loop_multi_label(HAND_PROBABILITIES, HAND_TARGETS, [threshold] * 5)
    assert_metrics_equal(metrics, expected)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_multi_label_random_set_matches_loop_reference(seed):
    probabilities, targets = random_multi_label(seed)
    thresholds = torch.tensor([0.5, 0.3, 0.6, 0.45, 0.5, 0.7])
    for threshold in (0.5, thresholds):
        metrics = multi_label_metrics(probabilities, targets.float(), threshold=threshold)
        per_class = thresholds.tolist() if isinstance(threshold, torch.Tensor) else [0.5] * 6
        assert_metrics_equal(metrics, loop_multi_label(probabilities, targets, per_class))


def test_class_without_positives_leaves_map_and_macro_f1_without_warning():
    probabilities = torch.tensor([[0.9, 0.1], [0.2, 0.3], [0.8, 0.2]])
    targets = torch.tensor([[1, 0], [0, 0], [1, 0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        metrics = multi_label_metrics(probabilities, targets)
    # torchmetrics alone would give class 1 AP 0 (mAP 0.5) and F1 0 (macro F1 0.5)
    assert metrics["map"] == 1.0 and math.isnan(metrics["ap_per_class"][1])
    assert metrics["f1_macro"] == 1.0 and math.isnan(metrics["f1_per_class"][1])
    nothing = multi_label_metrics(probabilities, torch.zeros(3, 2), threshold=0.95)
    assert math.isnan(nothing["map"]) and math.isnan(nothing["f1_macro"])
    assert nothing["hamming"] == 0.0 and nothing["exact_match"] == 1.0
    assert nothing["f1_micro"] == 0.0  # torchmetrics' zero_division


def test_multi_label_perfect_predictions():
    targets = torch.tensor([[1, 0, 1], [0, 1, 0], [1, 1, 0]])
    metrics = multi_label_metrics(targets.float() * 0.8 + 0.1, targets)
    assert metrics["f1_macro"] == metrics["f1_micro"] == metrics["map"] == 1.0
    assert metrics["hamming"] == 0.0 and metrics["exact_match"] == 1.0


def test_multi_label_errors_name_the_expected_shapes():
    with pytest.raises(ValueError, match=r"targets \[N, C\]"):
        multi_label_metrics(torch.rand(4, 3), torch.zeros(4, 2))
    with pytest.raises(ValueError, match=r"\[0, 1\].*sigmoid"):
        multi_label_metrics(torch.randn(4, 3) * 5, torch.zeros(4, 3))
    with pytest.raises(ValueError, match="0s and 1s"):
        multi_label_metrics(torch.rand(4, 3), torch.full((4, 3), 2))
    with pytest.raises(ValueError, match=r"\[C=3\]"):
        multi_label_metrics(torch.rand(4, 3), torch.zeros(4, 3), threshold=torch.rand(2))
    with pytest.raises(ValueError, match=r"probabilities \[N, C\]"):
        multi_label_metrics(torch.rand(4), torch.zeros(4))


# --- single-label -------------------------------------------------------------------------


def test_single_label_hand_set():
    probabilities = torch.tensor(
        [[0.7, 0.2, 0.1, 0.0], [0.1, 0.8, 0.1, 0.0], [0.5, 0.4, 0.1, 0.0], [0.2, 0.3, 0.5, 0.0]]
    )
    labels = torch.tensor([0, 1, 1, 2])
    metrics = single_label_metrics(probabilities, labels)
    # predicted 0, 1, 0, 2: class 0 TP 1 FP 1 -> 2/3; class 1 TP 1 FN 1 -> 2/3; class 2 -> 1;
    # class 3 never labelled nor predicted -> NaN, left out of the macro average
    assert metrics["acc"] == pytest.approx(0.75) and metrics["f1_micro"] == pytest.approx(0.75)
    assert metrics["f1_per_class"][:3] == pytest.approx([2 / 3, 2 / 3, 1.0])
    assert math.isnan(metrics["f1_per_class"][3])
    assert metrics["f1_macro"] == pytest.approx((2 / 3 + 2 / 3 + 1.0) / 3)
    assert_metrics_equal(metrics, loop_single_label(probabilities, labels))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_single_label_random_set_matches_loop_reference(seed):
    generator = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 7, (50,), generator=generator)
    logits = 2 * torch.nn.functional.one_hot(labels, 7) + 1.5 * torch.randn(
        50, 7, generator=generator
    )
    probabilities = logits.softmax(-1)
    assert_metrics_equal(
        single_label_metrics(probabilities, labels), loop_single_label(probabilities, labels)
    )


def test_single_label_errors():
    with pytest.raises(ValueError, match=r"labels \[N\]"):
        single_label_metrics(torch.rand(4, 3), torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match=r"labels \[N\]"):
        single_label_metrics(torch.rand(4, 3), torch.zeros(4))
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        single_label_metrics(torch.rand(4, 3), torch.tensor([0, 1, 2, 3]))


# --- threshold tuning ---------------------------------------------------------------------


def loop_tune(probabilities, targets, candidates, per_class):
    c = probabilities.shape[1]
    if not per_class:
        macro = [loop_multi_label(probabilities, targets, [t] * c)["f1_macro"] for t in candidates]
        return candidates[macro.index(max(macro))]  # first of tied maxima
    best = []
    for j in range(c):
        scores = []
        for t in candidates:
            f1 = loop_multi_label(probabilities[:, j : j + 1], targets[:, j : j + 1], [t])
            value = f1["f1_per_class"][0]
            scores.append(1.0 if math.isnan(value) else value)
        best.append(candidates[scores.index(max(scores))])
    return best


@pytest.mark.parametrize("seed", [0, 3])
def test_tune_threshold_matches_loop_reference(seed):
    probabilities, targets = random_multi_label(seed, n=30, c=4)
    candidates = [round(0.05 * k, 2) for k in range(1, 20)]
    threshold = tune_threshold(probabilities, targets)
    assert isinstance(threshold, float)
    assert threshold == pytest.approx(loop_tune(probabilities, targets, candidates, False))
    per_class = tune_threshold(probabilities, targets, per_class=True)
    assert per_class.shape == (4,)
    expected = loop_tune(probabilities, targets, candidates, True)
    assert per_class.tolist() == pytest.approx(expected)
    # per-class thresholds are at least as good as the best global one on the tuning data
    tuned = multi_label_metrics(probabilities, targets, per_class)["f1_macro"]
    assert tuned >= multi_label_metrics(probabilities, targets, threshold)["f1_macro"] - 1e-9


def test_tune_threshold_hand_set_and_class_without_positives():
    candidates = torch.tensor([0.05, 0.25, 0.5, 0.65, 0.85])
    per_class = tune_threshold(HAND_PROBABILITIES, HAND_TARGETS, candidates, per_class=True)
    expected = loop_tune(HAND_PROBABILITIES, HAND_TARGETS, candidates.tolist(), True)
    assert per_class.tolist() == pytest.approx(expected)
    # classes 3 and 4 have no positive: the smallest threshold that predicts nothing
    assert per_class[3].item() == pytest.approx(0.5) and per_class[4].item() == pytest.approx(0.65)
    glob = tune_threshold(HAND_PROBABILITIES, HAND_TARGETS, candidates)
    assert glob == pytest.approx(
        loop_tune(HAND_PROBABILITIES, HAND_TARGETS, candidates.tolist(), False)
    )


def test_tune_threshold_errors():
    with pytest.raises(ValueError, match="no positive"):
        tune_threshold(torch.rand(4, 3), torch.zeros(4, 3))
    with pytest.raises(ValueError, match="candidate"):
        tune_threshold(torch.rand(4, 3), torch.ones(4, 3), candidates=torch.tensor([]))
