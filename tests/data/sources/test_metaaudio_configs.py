"""The MetaAudio data configs and experiment overlays compose, build and carry the tuned values."""

import json
from collections import Counter
from pathlib import Path

import metaaudio_replicas as replicas
import pytest
import torch

from audiofsl.data.sources.birdclef2020 import BirdCLEF2020DataModule
from audiofsl.data.sources.esc50 import ESC50DataModule
from audiofsl.data.sources.fsdkaggle18 import FSDKaggle18DataModule
from audiofsl.data.sources.nsynth import NSynthDataModule
from audiofsl.data.sources.voxceleb1 import VoxCeleb1DataModule
from audiofsl.encoders import CRNN
from audiofsl.losses import PrototypicalContrastiveLoss, PrototypicalLoss
from audiofsl.losses.composite import as_composite
from audiofsl.runs.composition import build_datamodule, build_method
from audiofsl.train import run_training

SOURCES = {
    "esc50": (ESC50DataModule, 5.0, None),
    "nsynth": (NSynthDataModule, 4.0, None),
    "fsdkaggle18": (FSDKaggle18DataModule, 5.0, 5.0),
    "voxceleb1": (VoxCeleb1DataModule, 5.0, 5.0),
    "birdclef2020": (BirdCLEF2020DataModule, 5.0, 5.0),
}
# The reference's tuned values: SpecAugment (mask_param, W, num_mask, p), Adam lr, MultiStepLR
# gamma, CPL projection (hidden, out), CPL (lambda, T, M), APL (angle, prototypes as anchors).
TUNED = {
    "esc50": ((7, 20, 2, 0.3127), 3.8e-4, 0.376, (128, 256), (1.7235, 6.0488, 3), (15, True)),
    "fsdkaggle18": (
        (16, 22, 1, 0.282),
        7e-4,
        0.4482,
        (512, 256),
        (2.022308, 9.2361, 5),
        (30, False),
    ),
    "nsynth": ((9, 36, 1, 0.42157), 8e-4, 0.48426, (64, 64), (8.566, 4.081, 3), (15, False)),
    "birdclef2020": (
        (6, 29, 1, 0.298),
        1.49e-3,
        0.59974,
        (128, 256),
        (9.1625, 2.6981, 4),
        (15, False),
    ),
    "voxceleb1": ((6, 29, 1, 0.298), 1.49e-3, 0.59974, (128, 256), (9.1625, 2.6981, 4), (0, True)),
}
EXPERIMENTS = [
    *(f"{name}_{method}" for name in SOURCES for method in ("protonet", "cpl", "apl")),
    "esc50_attention",
    "esc50_relationnet",
]
# The whole ProtoNet (+ CPL) recipe of the prototypical contrastive learning reference.
REFERENCE_EXPERIMENTS = ["esc50_cpl_reference", "esc50_protonet_reference"]
CONF = Path(__file__).resolve().parents[3] / "conf"
TINY = [
    "sampler.n_way=2", "sampler.n_shot=1", "sampler.n_query=1",
    "evaluation.val.n_way=2", "evaluation.val.n_shot=1", "evaluation.val.n_query=1",
    "evaluation.test.0.n_way=2", "evaluation.test.0.n_shot=1", "evaluation.test.0.n_query=1",
]  # fmt: skip


def test_every_dataset_has_its_overlays():
    names = {path.stem for path in (CONF / "experiment").glob("*.yaml")}
    assert set(EXPERIMENTS) | set(REFERENCE_EXPERIMENTS) <= names


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_overlays_compose_and_build_with_the_tuned_values(compose_config, tmp_path, name):
    dataset, method = name.split("_")
    cfg = compose_config("train", [f"+experiment={name}", f"data.root={tmp_path}"], tmp_path)
    (mask, warp, n_masks, p), lr, gamma, (hidden, out), cpl, apl = TUNED[dataset]
    module, clip, hop = SOURCES[dataset]
    assert cfg.data._target_ == f"{module.__module__}.{module.__name__}"
    assert (cfg.data.loader.clip_seconds, cfg.data.loader.eval_hop_seconds) == (clip, hop)
    assert (cfg.sampler.n_way, cfg.sampler.n_shot, cfg.sampler.n_query) == (5, 5, 5)
    assert cfg.task_name == name
    assert cfg.trainer.max_epochs == 200
    stopping = cfg.callbacks.early_stopping  # the reference's patience
    assert (stopping.monitor, stopping.mode, stopping.patience) == ("val/acc", "max", 70)
    model = build_method(cfg)
    (specaugment,) = model.augmentation.spectrogram_augmentations
    assert (specaugment.freq_mask_param, specaugment.time_mask_param) == (mask, mask)
    assert (specaugment.n_freq_masks, specaugment.n_time_masks) == (n_masks, n_masks)
    assert (specaugment.time_warp, specaugment.p) == (warp, p)
    assert model.augmentation.n_views == (4 if method == "attention" else 1)
    optimizers = model.configure_optimizers()
    optimizer, scheduler = optimizers["optimizer"], optimizers["lr_scheduler"]
    scheduler = scheduler["scheduler"] if isinstance(scheduler, dict) else scheduler
    assert isinstance(optimizer, torch.optim.Adam) and optimizer.defaults["lr"] == lr
    assert isinstance(scheduler, torch.optim.lr_scheduler.MultiStepLR)
    assert (dict(scheduler.milestones), scheduler.gamma) == ({20: 1, 40: 1, 60: 1}, gamma)
    if method == "cpl":
        weight, temperature, candidates = cpl
        assert cfg.loss.terms.cpl.weight == weight
        term = cfg.loss.terms.cpl.loss
        assert (term.temperature, term.n_candidates) == (temperature, candidates)
        assert (list(term.projection.hidden_dims), term.projection.out_dim) == ([hidden], out)
        encoder_dim = model.encoder.out_dim
        assert model.run_config["loss"]["terms"]["cpl"]["loss"]["projection"]["in_dim"] == (
            encoder_dim
        )
    if method == "apl":
        term = cfg.loss.terms.apl.loss
        assert (term.angle, term.prototypes_as_anchors) == apl
    # MetaAudio's 3 x 3 pooling (one mel bin left, 64-d), but 2 x 2 for ESC-50's ProtoNet and CPL
    if method != "relationnet":
        pool = 2 if name in ("esc50_protonet", "esc50_cpl") else 3
        assert cfg.encoder.pool == pool and model.encoder.out_dim == 64 * (128 // pool**4 or 1)
    if method in ("protonet", "cpl", "apl"):  # SimpleShot's CL2N at validation and test
        assert (model.scorer.transform.mode, model.scorer.distance) == ("center_l2", "euclidean")


@pytest.mark.parametrize("name", REFERENCE_EXPERIMENTS)
def test_reference_overlays_build_the_references_recipe(compose_config, tmp_path, name):
    cfg = compose_config("train", [f"+experiment={name}", f"data.root={tmp_path}"], tmp_path)
    assert cfg.task_name == name and cfg.data.loader.clip_seconds == 5.0
    sampler, val, (test,) = cfg.sampler, cfg.evaluation.val, cfg.evaluation.test
    assert (sampler.n_way, sampler.n_shot, sampler.n_query, sampler.n_episodes) == (5, 5, 5, 100)
    assert (val.n_way, val.n_shot, val.n_query, val.n_tasks) == (5, 5, 5, 100)
    assert (test.n_way, test.n_shot, test.n_query, test.n_tasks) == (5, 5, 5, 2000)
    assert cfg.trainer.max_epochs == 200
    stopping = cfg.callbacks.early_stopping
    assert (stopping.monitor, stopping.mode, stopping.patience) == ("val/acc", "max", 70)
    model = build_method(cfg)
    frontend = model.frontend
    assert frontend.standardize_waveform and frontend.log_floor == "add"
    assert frontend.amin == 2.220446049250313e-16 and frontend.normalization.mode == "global"
    assert model.augmentation.n_views == 1
    assert not model.augmentation.spectrogram_augmentations
    assert not model.augmentation.waveform_augmentations
    encoder = model.encoder
    assert isinstance(encoder, CRNN) and type(encoder.rnn) is torch.nn.RNN
    assert encoder.stack.pool == (3, 3) and encoder.stack.out_features == 1
    assert (encoder.rnn.input_size, encoder.rnn.hidden_size, encoder.rnn.num_layers) == (64, 64, 1)
    assert encoder.residual and encoder.pooling == "last" and encoder.n_directions == 1
    dropout, norm, linear = encoder.output_block
    assert (dropout.p, norm.num_features, linear.out_features, encoder.out_dim) == (0.3, 64, 64, 64)
    assert model.head.distance == "euclidean"
    optimizers = model.configure_optimizers()
    optimizer, scheduler = optimizers["optimizer"], optimizers["lr_scheduler"]
    scheduler = scheduler["scheduler"] if isinstance(scheduler, dict) else scheduler
    assert isinstance(optimizer, torch.optim.Adam) and optimizer.defaults["lr"] == 3.8e-4
    assert (dict(scheduler.milestones), scheduler.gamma) == ({20: 1, 40: 1, 60: 1}, 0.376)
    terms = [type(loss) for loss in as_composite(model.loss).losses.values()]
    if name == "esc50_protonet_reference":
        assert terms == [PrototypicalLoss]
        return
    assert terms == [PrototypicalLoss, PrototypicalContrastiveLoss]
    cpl, weights = model.loss.losses["cpl"], model.loss.weights
    assert (weights["prototypical"], weights["cpl"]) == (1.0, 1.7235)
    assert (cpl.n_candidates, cpl.temperature, cpl.reference_scaling) == (3, 6.0488, True)
    layers = [m for m in cpl.projection.modules() if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in layers] == [(64, 128), (128, 256)]


@pytest.mark.parametrize("name", ["esc50_cpl", "esc50_protonet_reference"])
def test_the_reference_budget_overlay_sets_every_episode_to_one_shot(
    compose_config, tmp_path, name
):
    overrides = [f"+experiment={name}", "+budget=reference_1shot", f"data.root={tmp_path}"]
    cfg = compose_config("train", overrides, tmp_path)
    sampler, val, (test,) = cfg.sampler, cfg.evaluation.val, cfg.evaluation.test
    assert (sampler.n_way, sampler.n_shot, sampler.n_query, sampler.n_episodes) == (5, 1, 5, 100)
    assert (val.n_way, val.n_shot, val.n_query, val.n_tasks) == (5, 1, 5, 500)
    assert (test.n_way, test.n_shot, test.n_query, test.n_tasks, test.seed) == (5, 1, 5, 10000, 1)
    assert cfg.trainer.max_epochs == 10
    assert cfg.task_name == name  # the method's recipe is left as the overlay set it


def _small_split(path: Path, train: list[str], val: list[str], test: list[str]) -> str:
    path.write_text(json.dumps({"train": train, "val": val, "test": test}))
    return str(path)


@pytest.mark.parametrize("name", list(SOURCES))
def test_data_configs_default_to_the_official_split(compose_config, tmp_path, name):
    module, clip, hop = SOURCES[name]
    cfg = compose_config("train", [f"data={name}", f"data.root={tmp_path}"], tmp_path)
    dm = build_datamodule(cfg)
    assert type(dm) is module and dm.root == tmp_path
    assert Path(dm.split.file).name == f"{name}.json"
    assert dm.split.missing == ("warn" if name == "birdclef2020" else "error")
    assert (dm.loader.clip_seconds, dm.loader.eval_hop_seconds) == (clip, hop)


def test_data_config_overrides_pick_a_variant_a_split_file_or_none(compose_config, tmp_path):
    def split_file(*overrides):
        cfg = compose_config("train", ["data=esc50", f"data.root={tmp_path}", *overrides])
        return build_datamodule(cfg).split.file

    assert Path(split_file("data.variant=meta_aware")).name == "esc50_meta_aware.json"
    own = _small_split(tmp_path / "own.json", ["dog"], ["cat"], ["pig"])
    assert split_file(f"data.split.file={own}") == own
    assert split_file("data.variant=null") is None
    assert split_file("data.split.sizes=[30,10,10]") is None


def test_a_data_config_without_root_says_what_to_set(compose_config, tmp_path):
    cfg = compose_config("train", ["data=voxceleb1"], tmp_path)
    with pytest.raises(ValueError, match="VoxCeleb1DataModule needs data.root: set it to the"):
        build_datamodule(cfg)


def _long_clip_copy(name: str, root: Path) -> tuple[Path, list[str], str]:
    """A replica of ``name`` with two classes, one of them holding a 12 s clip."""
    if name == "fsdkaggle18":
        root = replicas.fsdkaggle18(root, {"Knock": 2, "Oboe": 2}, {})
        classes, folder = ["Knock", "Oboe"], root / "FSDKaggle2018.audio_train"
        long = sorted(folder.iterdir())[0]
        sample_rate = 44100
    elif name == "voxceleb1":
        classes = ["id10001", "id10002"]
        root = replicas.voxceleb1(root, dict.fromkeys(classes, [2]))
        long, sample_rate = sorted((root / "wav" / "id10001").rglob("*.wav"))[0], 16000
    else:
        classes = ["Poecile gambeli_Mountain Chickadee", "Calypte anna_Anna's Hummingbird"]
        root = replicas.birdclef2020(root, dict.fromkeys(classes, 2), formats=("flac",))
        long, sample_rate = sorted((root / classes[0]).iterdir())[0], 48000
    replicas.write_tone(long, 12.0, sample_rate, "long")
    return root, classes, str(long)


@pytest.mark.parametrize("name", ["fsdkaggle18", "voxceleb1", "birdclef2020"])
def test_variable_length_sources_evaluate_every_window(compose_config, tmp_path, name):
    root, classes, long = _long_clip_copy(name, tmp_path / "copy")
    split = _small_split(tmp_path / "split.json", [], [], classes)
    overrides = [f"data={name}", f"data.root={root}", f"data.split.file={split}", *TINY]
    dm = build_datamodule(compose_config("train", overrides, tmp_path / "cache"))
    dm.setup("test")
    loader = dm.test_dataloader()
    windows = Counter(dm.test_set.records[i].path for b in loader for i in b["segment"].tolist())
    assert windows[long] == 3, "a 12 s clip gives three 5 s windows"
    assert sorted(windows.values()) == [1, 1, 1, 3]


# One short epoch of 1-shot episodes on a replica of 4 clips per class.
ONE_EPOCH_1SHOT = [
    "logger=csv", "trainer.max_epochs=1", "trainer.limit_train_batches=2",
    "sampler.n_shot=1", "sampler.n_query=3",
    "evaluation.val.n_shot=1", "evaluation.val.n_query=2", "evaluation.val.n_tasks=5",
    "evaluation.test.0.n_shot=1", "evaluation.test.0.n_query=2", "evaluation.test.0.n_tasks=5",
]  # fmt: skip


@pytest.mark.slow
def test_an_esc50_experiment_trains_and_tests_on_a_replica(compose_config, tmp_path):
    root = replicas.esc50(tmp_path / "data", clips_per_class=4)
    overrides = ["+experiment=esc50_cpl", f"data.root={root}", *ONE_EPOCH_1SHOT,
                 "encoder.hidden_channels=8"]  # fmt: skip
    cfg = compose_config("train", overrides, tmp_path / "cache")
    metrics = run_training(cfg)
    assert 0.0 <= metrics["test/acc"] <= 1.0 and "val/acc" in metrics
    saved = (Path(cfg.paths.output_dir) / "config.yaml").read_text()
    assert "ESC50DataModule" in saved and "variant: baseline" in saved and "EarlyStopping" in saved


@pytest.mark.slow
@pytest.mark.parametrize("name", REFERENCE_EXPERIMENTS)
def test_a_reference_overlay_trains_and_tests_on_a_replica(compose_config, tmp_path, name):
    root = replicas.esc50(tmp_path / "data", clips_per_class=4)
    overrides = [f"+experiment={name}", f"data.root={root}", *ONE_EPOCH_1SHOT]
    cfg = compose_config("train", overrides, tmp_path / "cache")
    metrics = run_training(cfg)
    assert 0.0 <= metrics["test/acc"] <= 1.0 and "val/acc" in metrics
    saved = (Path(cfg.paths.output_dir) / "config.yaml").read_text()
    assert "residual: true" in saved and "EarlyStopping" in saved


def _six_class_copy(name: str, root: Path) -> tuple[Path, list[str]]:
    """A replica of ``name`` with six classes of three clips each (2/2/2 classes per split)."""
    if name == "nsynth":
        classes = [f"{f}_acoustic_{i:03d}" for f in ("guitar", "flute", "organ") for i in (1, 2)]
        return replicas.nsynth(root, {"train": classes}, notes_per_instrument=3), classes
    if name == "fsdkaggle18":
        classes = ["Knock", "Oboe", "Bark", "Cough", "Flute", "Gong"]
        return replicas.fsdkaggle18(root, dict.fromkeys(classes, 3), {}), classes
    if name == "voxceleb1":
        classes = [f"id1000{i}" for i in range(1, 7)]
        return replicas.voxceleb1(root, dict.fromkeys(classes, [2, 1])), classes
    classes = [f"Genus{i} species_Bird {i}" for i in range(6)]
    return replicas.birdclef2020(root, dict.fromkeys(classes, 3)), classes


@pytest.mark.slow
@pytest.mark.parametrize("name", ["nsynth", "fsdkaggle18", "voxceleb1", "birdclef2020"])
def test_prepare_data_then_protonet_trains_and_tests_on_a_replica(compose_config, tmp_path, name):
    """The done-when of the data layer: index a copy, then train its overlay end to end."""
    from audiofsl.prepare_data import class_counts

    root, classes = _six_class_copy(name, tmp_path / "copy")
    split = _small_split(tmp_path / "split.json", classes[:2], classes[2:4], classes[4:])
    overrides = [
        f"+experiment={name}_protonet", f"data.root={root}", f"data.split.file={split}",
        "logger=csv", "trainer.max_epochs=1", "trainer.limit_train_batches=2",
        "encoder.hidden_channels=8", "evaluation.val.n_tasks=4", "evaluation.test.0.n_tasks=4",
        *TINY,
    ]  # fmt: skip
    cfg = compose_config("train", overrides, tmp_path / "cache")
    prepared = build_datamodule(cfg)
    prepared.setup(None)
    counts = {(r["split"], r["class"]): r["clips"] for r in class_counts(prepared)}
    splits = {"train": classes[:2], "val": classes[2:4], "test": classes[4:]}
    assert counts == {(s, c): 3 for s, names in splits.items() for c in names}
    assert len(list((tmp_path / "cache" / "index").glob("*.csv"))) == 1
    metrics = run_training(cfg)
    assert 0.0 <= metrics["test/acc"] <= 1.0 and "val/acc" in metrics
    assert len(list((tmp_path / "cache" / "index").glob("*.csv"))) == 1, "the index is reused"
