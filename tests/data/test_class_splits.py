import pytest

from audiofsl.data import ClassSplit

NAMES = [f"c{i:02d}" for i in range(100)]


def check_partition(assignment, names):
    splits = [set(assignment[s]) for s in ("train", "val", "test")]
    assert not (splits[0] & splits[1] or splits[0] & splits[2] or splits[1] & splits[2])
    assert set().union(*splits) <= set(names)
    assert all(assignment[s] == sorted(assignment[s]) for s in assignment)


@pytest.mark.parametrize(
    ("n", "ratios", "counts"),
    [
        (100, (0.64, 0.16, 0.2), (64, 16, 20)),
        (10, (0.7, 0.1, 0.2), (7, 1, 2)),
        (20, (0.64, 0.16, 0.2), (13, 3, 4)),
        (5, (0.7, 0.1, 0.2), (4, 0, 1)),
        (7, (1.0, 0.0, 0.0), (7, 0, 0)),
    ],
)
def test_ratio_split_counts(n, ratios, counts):
    assignment = ClassSplit(ratios=ratios).assign(NAMES[:n])
    assert tuple(len(assignment[s]) for s in ("train", "val", "test")) == counts
    assert sum(counts) == n and all(abs(c - r * n) < 1 for c, r in zip(counts, ratios, strict=True))
    check_partition(assignment, NAMES[:n])


def test_ratio_split_is_seeded_and_order_independent():
    first = ClassSplit(seed=3).assign(NAMES)
    assert ClassSplit(seed=3).assign(list(reversed(NAMES))) == first
    assert ClassSplit(seed=4).assign(NAMES) != first


def test_size_split():
    assignment = ClassSplit(sizes=(5, 2, 3), seed=1).assign(NAMES[:12])
    assert [len(assignment[s]) for s in ("train", "val", "test")] == [5, 2, 3]
    check_partition(assignment, NAMES[:12])
    with pytest.raises(ValueError, match="split.sizes"):
        ClassSplit(sizes=(10, 2, 3)).assign(NAMES[:12])
    with pytest.raises(ValueError, match="split.sizes"):
        ClassSplit(sizes=(1.5, 2, 3)).assign(NAMES[:12])


def test_explicit_lists_and_default_train():
    names = ["1", "2", "3", "4", "5"]
    assignment = ClassSplit(val_classes=[2], test_classes=["4", 5]).assign(names)
    assert assignment == {"train": ["1", "3"], "val": ["2"], "test": ["4", "5"]}
    assignment = ClassSplit(train_classes=["1"], test_classes=["2"]).assign(names)
    assert assignment == {"train": ["1"], "val": [], "test": ["2"]}


def test_explicit_list_errors_name_the_setting():
    with pytest.raises(
        ValueError, match=r"data.split.val_classes names unknown classes \['zebra'\]"
    ):
        ClassSplit(val_classes=["zebra"]).assign(["a", "b"])
    with pytest.raises(
        ValueError, match=r"data.split.train_classes and data.split.test_classes share.*'a'"
    ):
        ClassSplit(train_classes=["a"], test_classes=["a", "b"]).assign(["a", "b"])
    with pytest.raises(ValueError, match="more than once"):
        ClassSplit(test_classes=["a", "a"]).assign(["a", "b"])
    with pytest.raises(ValueError, match="list of class names"):
        ClassSplit(test_classes="a").assign(["a", "b"])
    with pytest.raises(ValueError, match="split.sizes cannot be combined"):
        ClassSplit(test_classes=["a"], sizes=(1, 0, 1)).assign(["a", "b"])


@pytest.mark.parametrize("ratios", [(0.5, 0.5), (0.8, 0.3, -0.1), (0.5, 0.2, 0.2)])
def test_bad_ratios(ratios):
    with pytest.raises(ValueError, match="data.split.ratios"):
        ClassSplit(ratios=ratios).assign(NAMES)
