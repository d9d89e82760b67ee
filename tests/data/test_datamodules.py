import logging
import types

import lightning as L
import pytest
import torch
from torch import nn

import audiofsl.data.datamodules as datamodules
from audiofsl.data import ClassSplit, FolderDataModule, LoaderSettings, SyntheticDataModule
from audiofsl.samplers import EpisodeSpec, EpisodicBatchSampler, MiniBatchSpec

TRAIN = EpisodeSpec(n_way=3, n_shot=2, n_query=2, n_episodes=4)
EVAL = EpisodeSpec(n_way=2, n_shot=1, n_query=2)
CLASSES = {f"c{i}": 6 for i in range(8)}
SPLIT = {"train_classes": ["c0", "c1", "c2", "c3"], "val_classes": ["c4", "c5"]}


LOADER_KEYS = {"sample_rate", "clip_seconds", "eval_batch_size", "cache_mb", "num_workers"}
SPLIT_KEYS = {"train_classes", "val_classes", "test_classes", "sizes", "ratios"}


def module(root, **kwargs):
    """A FolderDataModule of the test folder; loader and split settings given flat."""
    loader = {"sample_rate": 8000, "clip_seconds": 0.25, "eval_batch_size": 5}
    split = {**SPLIT, "test_classes": ["c6", "c7"]}
    loader.update({k: kwargs.pop(k) for k in list(kwargs) if k in LOADER_KEYS})
    split.update({k: kwargs.pop(k) for k in list(kwargs) if k in SPLIT_KEYS})
    settings = {"train_sampler": TRAIN, "eval_episode": EVAL, **kwargs}
    return FolderDataModule(
        root, loader=LoaderSettings(**loader), split=ClassSplit(**split), **settings
    )


@pytest.fixture
def root(tmp_path, make_class_folder):
    return make_class_folder(tmp_path / "audio", CLASSES)


def test_episodic_and_evaluation_loaders_follow_the_batch_contract(root):
    dm = module(root)
    dm.setup("fit")
    assert (dm.sample_rate, dm.clip_samples, dm.n_train_classes) == (8000, 2000, 4)
    assert dm.train_set.class_names == ["c0", "c1", "c2", "c3"] and dm.train_set.crop == "random"
    batches = list(dm.train_dataloader())
    assert len(batches) == TRAIN.n_episodes
    batch = batches[0]
    assert batch["audio"].shape == (12, 2000) and batch["audio"].dtype == torch.float32
    assert torch.equal(batch["label"], torch.arange(3).repeat_interleave(4))
    assert torch.equal(batch["class_id"], dm.train_set.labels[batch["index"]])
    assert (batch["n_way"], batch["n_shot"], batch["n_query"]) == (3, 2, 2)
    val = list(dm.val_dataloader())
    assert [len(b["label"]) for b in val] == [5, 5, 2]
    assert set(val[0]) == {"audio", "label", "index"}
    assert torch.cat([b["index"] for b in val]).tolist() == list(range(12))
    assert torch.equal(torch.cat([b["label"] for b in val]), dm.val_set.labels)
    again = torch.cat([b["audio"] for b in dm.val_dataloader()])
    assert torch.equal(torch.cat([b["audio"] for b in val]), again), "evaluation crops are fixed"
    test = next(iter(dm.test_dataloader()))
    assert test["audio"].shape == (5, 2000) and dm.test_set.class_names == ["c6", "c7"]
    assert torch.equal(next(iter(dm.predict_dataloader()))["index"], test["index"])
    train_eval = next(iter(dm.sequential_dataloader("train")))
    assert train_eval["index"].tolist() == list(range(5))


def test_episodes_are_seeded_and_follow_the_trainer_epoch(root):
    dm = module(root, seed=3)
    reference = EpisodicBatchSampler(dm.train_set.labels, TRAIN, seed=3)
    cpu = types.SimpleNamespace(root_device=torch.device("cpu"))
    dm.trainer = types.SimpleNamespace(
        current_epoch=2, accelerator=None, strategy=cpu, global_rank=0, world_size=1
    )
    loader = dm.train_dataloader()
    assert [b["index"].tolist() for b in loader] == reference.episodes(2).view(4, -1).tolist()
    dm.trainer.current_epoch = 5
    assert [b["index"].tolist() for b in loader] == reference.episodes(5).view(4, -1).tolist()


class _Recorder(L.LightningModule):
    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1))
        self.seen = {}
        self.val_batches = 0

    def training_step(self, batch, batch_idx):
        self.seen.setdefault(self.current_epoch, []).append(batch["index"].tolist())
        return (self.weight * batch["audio"].mean()).sum()

    def validation_step(self, batch, batch_idx):
        self.val_batches += 1

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.0)


@pytest.mark.parametrize("val_classes", [None, ["c4", "c5"]])
def test_lightning_trainer_gets_new_seeded_episodes_every_epoch(root, val_classes):
    dm = module(root, val_classes=val_classes, seed=1)
    model = _Recorder()
    trainer = L.Trainer(
        max_epochs=2,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
    )
    trainer.fit(model, datamodule=dm)
    if val_classes is None:
        assert dm.val_set is None and model.val_batches == 0, "no val classes: no validation"
    else:
        assert model.val_batches == 2 * 3, "two epochs of 12 clips in batches of 5"
    reference = EpisodicBatchSampler(dm.train_set.labels, TRAIN, seed=1)
    assert model.seen[0] == reference.episodes(0).view(4, -1).tolist()
    assert model.seen[1] == reference.episodes(1).view(4, -1).tolist()
    assert model.seen[0] != model.seen[1]


def test_minibatch_training_is_shuffled_and_seeded(root):
    spec = MiniBatchSpec(batch_size=8, drop_last=True)
    dm = module(root, train_sampler=spec, seed=4, cache_mb=0)
    first = [b["index"].tolist() for b in dm.train_dataloader()]
    assert [len(b) for b in first] == [8, 8, 8]
    assert sorted(sum(first, [])) == list(range(24)) and sum(first, []) != list(range(24))
    batch = next(iter(dm.train_dataloader()))
    assert set(batch) == {"audio", "label", "index"} and batch["audio"].shape == (8, 2000)
    assert torch.equal(batch["label"], dm.train_set.labels[batch["index"]])
    same = module(root, train_sampler=spec, seed=4, cache_mb=0)
    assert [b["index"].tolist() for b in same.train_dataloader()] == first
    big = module(root, train_sampler=MiniBatchSpec(batch_size=100), cache_mb=0, fit_to_data=False)
    with pytest.raises(ValueError, match="set sampler.batch_size=24 or sampler.drop_last=false"):
        big.train_dataloader()
    fitted = module(root, train_sampler=MiniBatchSpec(batch_size=100), cache_mb=0)
    assert [len(b["index"]) for b in fitted.train_dataloader()] == [24]  # a folder fits it
    assert fitted.adjusted_settings == {"sampler.batch_size": 24}


def test_cache_does_not_change_the_evaluation_clips(root):
    cached, plain = module(root), module(root, cache_mb=0)
    assert not cached.val_set.cached  # filled when a loader is made, not at set-up
    cached.val_dataloader()
    assert cached.val_set.cached and not plain.val_set.cached
    for a, b in zip(cached.val_dataloader(), plain.val_dataloader(), strict=True):
        assert torch.equal(a["audio"], b["audio"])


def test_ratio_split_workers_and_manifest(root, tmp_path):
    lines = ["path,label"] + [
        f"audio/c{c}/clip_{i:02d}.wav,k{c}" for c in range(8) for i in range(6)
    ]
    (tmp_path / "m.csv").write_text("\n".join(lines))
    dm = FolderDataModule(
        manifest=tmp_path / "m.csv",
        loader=LoaderSettings(sample_rate=8000, clip_seconds=0.1, num_workers=1),
        split=ClassSplit(sizes=(4, 2, 2), seed=1),
        train_sampler=TRAIN,
        eval_episode=EVAL,
    )
    dm.setup()
    assert dm.n_train_classes == 4 and all(n.startswith("k") for n in dm.train_set.class_names)
    loader = dm.train_dataloader()
    assert loader.persistent_workers and len(list(loader)) == 4


def test_small_classes_are_dropped_with_a_message(tmp_path, make_class_folder, caplog):
    root = make_class_folder(tmp_path, {**CLASSES, "c3": 3})
    with caplog.at_level(logging.WARNING):
        dm = module(root)
        assert dm.n_train_classes == 3
    assert "train split: dropped 1 class(es) with fewer than 4 clips" in caplog.text
    assert "c3 (3)" in caplog.text and "(sampler)" in caplog.text


def test_unusable_files_give_one_logged_summary_at_setup(root, caplog):
    (root / "c0" / "clip_99.wav").write_bytes(b"broken")
    (root / "c1" / "clip_98.wav").write_bytes(b"")
    with caplog.at_level(logging.WARNING, logger="audiofsl.data.validation"):
        dm = module(root)
        dm.setup("fit")
    skipped = [r for r in caplog.records if "cannot be used" in r.getMessage()]
    assert len(skipped) == 1 and "skipped 2 of 50" in skipped[0].getMessage()
    assert "clip_99.wav: unreadable" in skipped[0].getMessage()
    assert len(dm.train_set) == 24


def test_setup_errors_name_the_setting(tmp_path, root):
    with pytest.raises(FileNotFoundError, match="data.root: folder .*nowhere"):
        module(tmp_path / "nowhere").setup("fit")
    with pytest.raises(FileNotFoundError, match="data.manifest"):
        FolderDataModule(manifest=tmp_path / "none.csv").setup("fit")
    with pytest.raises(ValueError, match="data.root"):
        FolderDataModule()
    wide = EpisodeSpec(n_way=3, n_shot=1, n_query=2)
    with pytest.raises(ValueError, match=r"val split has 2 classes.*set eval_episode.n_way=2 or"):
        module(root, eval_episode=wide, fit_to_data=False).setup("validate")
    advice = r"train split has 4 cl.*set sampler.n_way=4 sampler.n_query=1 or"
    with pytest.raises(ValueError, match=advice):
        module(root, train_sampler=EpisodeSpec(n_way=5), fit_to_data=False).setup("fit")
    fitted = module(root, train_sampler=EpisodeSpec(5, 1, 2), eval_episode=wide)
    fitted.setup("fit")  # a folder lowers n_way to the classes it has, and says so
    assert fitted.train_sampler.n_way == 4 and fitted.eval_needs["val"][0].n_way == 2
    assert fitted.adjusted_settings == {"sampler.n_way": 4, "eval_episode.n_way": 2}
    one_class = module(root, train_sampler=MiniBatchSpec(4), train_classes=["c0"])
    with pytest.raises(ValueError, match=r"train split has 1 usable.*classification .* 2"):
        one_class.setup("fit")
    with pytest.raises(ValueError, match="the test split has no clips"):
        module(root, test_classes=None).test_dataloader()
    with pytest.raises(ValueError, match="data.loader.eval_batch_size"):
        module(root, eval_batch_size=0)
    with pytest.raises(TypeError, match="train_sampler"):
        module(root, train_sampler={"n_way": 5})


def fake_generator(calls):
    def generate(root, n_classes, clips_per_class, clip_seconds, sample_rate, seed, **_):
        calls.append((n_classes, clips_per_class, clip_seconds, sample_rate, seed))
        lines = ["path,label"] + [
            f"audio/c{c}/clip_{i:02d}.wav,class_{c}" for c in range(8) for i in range(6)
        ]
        (root / "manifest.csv").write_text("\n".join(lines))
        return root / "manifest.csv"

    return generate


def test_synthetic_module_generates_then_reads_the_manifest(root, monkeypatch):
    calls = []
    monkeypatch.setattr(datamodules, "generate_synthetic_dataset", fake_generator(calls))
    dm = SyntheticDataModule(
        root.parent,
        n_classes=8,
        clips_per_class=6,
        generation_seed=7,
        loader=LoaderSettings(sample_rate=8000, clip_seconds=0.25),
        split=ClassSplit(sizes=(4, 2, 2)),
        train_sampler=TRAIN,
        eval_episode=EVAL,
    )
    dm.prepare_data()
    assert calls == [(8, 6, 0.25, 8000, 7)]
    dm.setup("fit")
    assert dm.n_train_classes == 4 and len(dm.val_set.class_names) == 2
    assert next(iter(dm.train_dataloader()))["audio"].shape == (12, 2000)


def test_synthetic_module_with_the_real_generator(tmp_path):
    dm = SyntheticDataModule(
        tmp_path,
        n_classes=10,
        clips_per_class=4,
        loader=LoaderSettings(clip_seconds=0.05, min_clip_seconds=0.01),
        split=ClassSplit(ratios=(0.6, 0.2, 0.2)),
        train_sampler=EpisodeSpec(n_way=2, n_shot=2, n_query=2, n_episodes=2),
        eval_episode=EpisodeSpec(n_way=2, n_shot=1, n_query=1),
    )
    dm.prepare_data()
    dm.setup()
    assert [len(s.class_names) for s in (dm.train_set, dm.val_set, dm.test_set)] == [6, 2, 2]
    assert next(iter(dm.test_dataloader()))["audio"].shape == (8, 800)
