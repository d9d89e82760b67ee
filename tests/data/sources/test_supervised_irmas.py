import logging

import pytest
import torch
from supervised_replicas import IRMAS_CODES, IRMAS_TESTING, IRMAS_TRAINING, make_irmas

from audiofsl.data import LoaderSettings, OfficialSplit
from audiofsl.data.sources.irmas import IRMASDataModule, read_label_file
from audiofsl.runs.composition import build_datamodule
from audiofsl.samplers import MiniBatchSpec

LOADER = LoaderSettings(sample_rate=16000, clip_seconds=0.25, eval_hop_seconds=0.25)
# Mini-batches for training and no evaluation episodes: these tests look at the clips only.
FAST = {"loader": LOADER, "train_sampler": MiniBatchSpec(batch_size=4), "eval_needs": {}}
# The labels of the replica's test clips, by file name.
EXPECTED_TEST = {
    "(02) dont kill the whale-1.wav": ("gel", "voi"),
    "(02) dont kill the whale-2.wav": ("voi",),
    "01 - Song A-3.wav": ("pia", "cel"),
    "02 - Song B-1.wav": ("gel", "pia", "voi"),
    "10 Song C-4.wav": ("cel",),
}


@pytest.fixture(scope="module")
def irmas(tmp_path_factory):
    return make_irmas(tmp_path_factory.mktemp("irmas"))


def test_training_clips_are_single_label_by_folder(irmas):
    records = [r for r in IRMASDataModule(irmas).load_records() if r.split == "train"]
    assert len(records) == sum(len(names) for names in IRMAS_TRAINING.values())
    for record in records:
        inst = record.path.split("/")[-2]
        assert record.class_name == inst and not record.labels
    groups = {r.path.rsplit("/", 1)[1]: r.group for r in records}
    assert (
        groups["[cel][cla]0001__1.wav"] == groups["[cel][cla]0001__2.wav"] == "cel/[cel][cla]0001"
    )
    assert groups["[voi]0999__1.wav"] == "voi/[voi]0999"  # no genre tag


def test_test_pairs_are_found_recursively_with_all_their_labels(irmas):
    records = [r for r in IRMASDataModule(irmas).load_records() if r.split == "test"]
    found = {r.path.rsplit("/", 1)[1]: r for r in records}
    assert {name: r.labels for name, r in found.items()} == EXPECTED_TEST
    assert all(r.class_name == r.labels[0] for r in records)
    assert {r.path.split("/")[-3] for r in records} >= {"IRMAS-TestingData-Part1", "Part3"}
    whale = found["(02) dont kill the whale-1.wav"].group
    assert whale == found["(02) dont kill the whale-2.wav"].group  # excerpts of one song
    assert len(records) == len(IRMAS_TESTING)


@pytest.mark.parametrize(
    ("text", "codes"),
    [
        ("gel\t\nvoi\t\n", ["gel", "voi"]),
        ("pia\r\ncel\r\n\r\n", ["pia", "cel"]),
        ("  GEL  \n\tpia\nvoi", ["gel", "pia", "voi"]),
        ("\ufeffcel\ncel\n", ["cel"]),
        ("sax tru\n", ["sax", "tru"]),
    ],
)
def test_label_files_with_any_whitespace(tmp_path, text, codes):
    path = tmp_path / "x.txt"
    path.write_bytes(text.encode())
    assert read_label_file(path) == codes


def test_the_official_split_and_multi_hot_batches(irmas):
    module = IRMASDataModule(irmas, **FAST)
    assert module.split == OfficialSplit(train=["train"], val=[], test=["test"])
    module.setup()
    assert module.val_set is None
    assert (
        module.train_set.class_names == module.test_set.class_names == ["cel", "gel", "pia", "voi"]
    )
    assert module.train_set.multi_label and module.test_set.multi_label
    batch = next(iter(module.train_dataloader()))
    assert batch["labels"].shape == (4, 4) and batch["labels"].dtype == torch.float32
    assert torch.equal(batch["labels"].argmax(1), batch["label"])  # training: one-hot
    windows = list(module.test_dataloader())
    labels = torch.cat([b["labels"] for b in windows])
    segments = torch.cat([b["segment"] for b in windows])
    assert len(segments.unique()) == len(IRMAS_TESTING) and len(labels) > len(IRMAS_TESTING)
    names = module.test_set.class_names
    for clip, record in enumerate(module.test_set.records):
        expected = torch.tensor([float(n in record.labels) for n in names])
        assert all(torch.equal(row, expected) for row in labels[segments == clip])


def test_unknown_codes_and_unpaired_files_are_left_out_with_warnings(tmp_path, caplog):
    make_irmas(tmp_path)
    part = tmp_path / "IRMAS-TestingData-Part2" / "IRTestingData-Part2"
    (part / "01 - Song A-3.txt").write_text("pia\nxyz\n")
    (part / "02 - Song B-1.txt").write_text("drums\n")
    (part / "lonely.wav").write_bytes((part / "01 - Song A-3.wav").read_bytes())
    (tmp_path / "IRMAS-TrainingData" / "README").mkdir()
    (tmp_path / "IRMAS-TrainingData" / "README" / "x.wav").write_bytes(b"")
    with caplog.at_level(logging.WARNING):
        records = IRMASDataModule(tmp_path).load_records()
    test = {r.path.rsplit("/", 1)[1]: r.labels for r in records if r.split == "test"}
    assert test["01 - Song A-3.wav"] == ("pia",)
    assert "02 - Song B-1.wav" not in test and "lonely.wav" not in test
    assert "xyz" in caplog.text and "drums" in caplog.text and "lonely" in caplog.text
    assert "README" in caplog.text


def test_errors_and_a_copy_without_test_parts(tmp_path, caplog):
    with pytest.raises(ValueError, match="data.root is not set"):
        IRMASDataModule()
    with pytest.raises(FileNotFoundError, match="data.root: no IRMAS-TrainingData/ folder"):
        IRMASDataModule(tmp_path).load_records()
    (tmp_path / "IRMAS-TrainingData" / "cel").mkdir(parents=True)
    with pytest.raises(ValueError, match="holds no <instrument>/<clip>.wav"):
        IRMASDataModule(tmp_path).load_records()
    make_irmas(tmp_path / "copy")
    for part in (tmp_path / "copy").glob("IRMAS-TestingData-*"):
        part.rename(tmp_path / part.name.replace("IRMAS", "moved"))
    with caplog.at_level(logging.WARNING):
        records = IRMASDataModule(tmp_path / "copy").load_records()
    assert {r.split for r in records} == {"train"} and "test split is empty" in caplog.text


def test_every_instrument_code_is_known():
    assert IRMAS_CODES == (
        "cel", "cla", "flu", "gac", "gel", "org", "pia", "sax", "tru", "vio", "voi",
    )  # fmt: skip


def test_config_composes(compose_config, irmas, tmp_path):
    overrides = ["data=irmas", f"data.root={irmas}", "sampler=batch", "sampler.batch_size=4"]
    cfg = compose_config("train", overrides, tmp_path / "cache")
    assert (cfg.data.loader.clip_seconds, cfg.data.loader.eval_hop_seconds) == (3.0, 3.0)
    module = build_datamodule(cfg)
    assert isinstance(module, IRMASDataModule)
    assert module.split == OfficialSplit(train=["train"], val=[], test=["test"])
    module.setup("fit")
    batch = next(iter(module.train_dataloader()))
    assert batch["audio"].shape == (4, 48000) and batch["labels"].shape == (4, 4)
