"""Multi-label clips: multi-hot "labels" [C] per item, [B, C] per batch, every label a class."""

import pytest
import torch
from torch.utils.data import default_collate

from audiofsl.data import (
    AudioDataModule,
    ClipDataset,
    ClipRecord,
    LoaderSettings,
    OfficialSplit,
    WindowDataset,
    index,
)
from audiofsl.samplers import MiniBatchSpec

CLASSES = {"cel": 0, "gel": 1, "pia": 2, "voi": 3}


@pytest.fixture
def records(tmp_path, tone, write_audio):
    """IRMAS-like: single-label training clips and multi-label test excerpts (44.1 kHz)."""
    specs = [
        ("cel", (), 0.2),
        ("pia", (), 0.2),
        ("gel", ("gel", "voi"), 0.5),
        ("voi", ("voi",), 0.3),
        ("pia", ("pia", "cel", "gel"), 0.4),
    ]
    out = []
    for i, (name, labels, seconds) in enumerate(specs):
        path = write_audio(tmp_path / f"{i}.wav", tone(200 + 40 * i, seconds, 44100), 44100)
        out.append(ClipRecord(str(path), name, split="train" if i < 2 else "test", labels=labels))
    return out


def multi_hot(*names):
    return torch.tensor([float(name in names) for name in CLASSES])


def test_items_carry_the_multi_hot_labels(records):
    dataset = ClipDataset(records, CLASSES, 16000, 0.1, "start")
    assert dataset.multi_label  # some record has several labels
    item = dataset[4]
    assert set(item) == {"audio", "label", "index", "labels"}
    assert item["label"] == CLASSES["pia"]  # the class_name's index
    assert item["labels"].dtype == torch.float32 and item["labels"].shape == (4,)
    assert torch.equal(item["labels"], multi_hot("pia", "cel", "gel"))
    assert torch.equal(dataset[0]["labels"], multi_hot("cel"))  # no labels: the class_name
    expected = torch.stack([multi_hot(*r.all_labels) for r in records])
    assert torch.equal(dataset.multi_hot(), expected)
    assert torch.equal(torch.stack([dataset.targets(i) for i in range(5)]), expected)


def test_multi_label_is_automatic_or_asked_for(records):
    single = ClipDataset(records[:2] + records[3:4], CLASSES, 16000, 0.1)
    assert not single.multi_label and "labels" not in single[0]
    forced = ClipDataset(records[:2], CLASSES, 16000, 0.1, multi_label=True)
    assert torch.equal(forced[1]["labels"], multi_hot("pia"))  # one-hot
    off = ClipDataset(records, CLASSES, 16000, 0.1, multi_label=False)
    assert "labels" not in off[4]


def test_every_label_must_be_a_known_class(records):
    with pytest.raises(ValueError, match=r"classes \['voi'\] are not in class_to_index"):
        ClipDataset(records[2:3], {"gel": 0}, 16000, 0.1)


def test_cache_crop_copies_and_collate_keep_the_labels(records):
    cached = ClipDataset(records, CLASSES, 16000, 0.1, "random", cache_audio=True)
    start = cached.with_crop("start")
    batch = default_collate([start[i] for i in range(5)])
    assert batch["labels"].shape == (5, 4) and batch["labels"].dtype == torch.float32
    assert torch.equal(batch["labels"], cached.multi_hot())
    assert batch["label"].tolist() == [0, 2, 1, 3, 2]


def test_windows_carry_their_clip_labels(records):
    clips = ClipDataset(records, CLASSES, 16000, 0.1, "start", cache_audio=True)
    windows = WindowDataset(clips, hop=1600)
    assert len(windows) > len(clips)
    for k in range(len(windows)):
        item = windows[k]
        assert torch.equal(item["labels"], clips.targets(item["segment"]))
    batch = default_collate([windows[k] for k in range(len(windows))])
    assert batch["labels"].shape == (len(windows), 4)
    single = WindowDataset(ClipDataset(records[:2], CLASSES, 16000, 0.1, "start"), hop=800)
    assert "labels" not in single[0]


class ListedSource(AudioDataModule):
    """The records given, as a source (an IRMAS-like replica without its layout)."""

    def __init__(self, records, **kwargs):
        super().__init__(**kwargs)
        self.records = records

    def load_records(self):
        return list(self.records)


def test_a_data_module_numbers_every_label_and_serves_it_in_all_splits(
    records, tmp_path, monkeypatch
):
    extra = ClipRecord(records[3].path, "voi", split="test", labels=("voi", "org"))
    source = ListedSource(
        [*records[:3], extra, records[4]],
        loader=LoaderSettings(
            sample_rate=16000,
            clip_seconds=0.1,
            eval_hop_seconds=0.1,
            index_dir=str(tmp_path / "index"),
        ),  # fmt: skip
        split=OfficialSplit(train=["train"], val=[], test=["test"]),
        train_sampler=MiniBatchSpec(batch_size=2),
        eval_needs={},
    )
    source.setup()
    # "org" is no clip's class_name, but a label: it is a class of every split
    assert source.train_set.class_names == ["cel", "gel", "org", "pia", "voi"]
    assert source.test_set.class_names == source.train_set.class_names
    assert source.train_set.multi_label  # single-label training clips carry "labels" too
    train = next(iter(source.train_dataloader()))
    assert train["labels"].shape == (2, 5)
    assert torch.equal(train["labels"].argmax(1), train["label"])
    test = list(source.test_dataloader())
    labels = torch.cat([b["labels"] for b in test])
    segments = torch.cat([b["segment"] for b in test])
    assert labels.shape[1] == 5 and len(segments.unique()) == 3
    org = source.test_set.class_names.index("org")
    with_org = [i for i, r in enumerate(source.test_set.records) if "org" in r.labels]
    assert (labels[:, org] == 1).nonzero().flatten().tolist() == [
        k for k, s in enumerate(segments.tolist()) if s in with_org
    ]
    # the index keeps the labels: a second module reads them back from its CSV
    monkeypatch.setattr(index, "inspect", lambda *args: pytest.fail("indexed again"))
    again = ListedSource(source.records, loader=source.loader, split=source.split,
                         train_sampler=MiniBatchSpec(batch_size=2), eval_needs={})  # fmt: skip
    assert [c.record for c in again.indexed_clips()] == [c.record for c in source.indexed_clips()]
    assert again.indexed_clips()[3].record.labels == ("voi", "org")
