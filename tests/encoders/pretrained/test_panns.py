import inspect

import numpy as np
import pytest
import torch

from audiofsl.encoders.pretrained.panns import (
    CNN14,
    FILE_NAME,
    ours_to_published,
    published_to_ours,
)
from audiofsl.encoders.pretrained.weights import WEIGHTS_DIR_ENV, sha256_of

# The published CNN14 has 80,753,615 parameters (Kong et al. 2020, table 2), the AudioSet
# classifier (2048 -> 527) included.
AUDIOSET_HEAD = 527 * 2048 + 527
PUBLISHED_PARAMETERS = 80_753_615
BN = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")
# The published checkpoint's keys that this encoder loads (audioset_tagging_cnn's Cnn14).
PUBLISHED_KEYS = {
    *(f"bn0.{name}" for name in BN),
    *(f"conv_block{i}.conv{j}.weight" for i in range(1, 7) for j in (1, 2)),
    *(f"conv_block{i}.bn{j}.{name}" for i in range(1, 7) for j in (1, 2) for name in BN),
    "fc1.weight",
    "fc1.bias",
}


@pytest.fixture(scope="module")
def frozen(tmp_path_factory):
    """32 kHz, random weights, frozen, with an adapter; BatchNorm away from the identity so
    that loading the wrong statistics shows."""
    torch.manual_seed(0)
    encoder = CNN14(
        sample_rate=32000,
        pretrained=False,
        adapter={"out_dim": 32},
        cache_dir=str(tmp_path_factory.mktemp("embeddings")),
    )
    with torch.no_grad():
        for module in encoder.backbone.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 2.0)
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.1, 0.1)
                module.num_batches_tracked.fill_(1000)
    return encoder.eval()


@pytest.fixture(scope="module")
def trainable():
    torch.manual_seed(1)
    return CNN14(sample_rate=16000, pretrained=False, freeze=False)


def published_state_dict(encoder: CNN14) -> dict[str, torch.Tensor]:
    """What the published file's ``"model"`` holds, built from ``encoder``'s weights."""
    state_dict = ours_to_published(encoder.backbone.state_dict())
    state_dict["spectrogram_extractor.stft.conv_real.weight"] = torch.zeros(513, 1, 1024)
    state_dict["spectrogram_extractor.stft.conv_imag.weight"] = torch.zeros(513, 1, 1024)
    state_dict["logmel_extractor.melW"] = encoder.backbone.frontend.mel.filterbank.T.clone()
    state_dict["fc_audioset.weight"] = torch.randn(527, 2048)
    state_dict["fc_audioset.bias"] = torch.zeros(527)
    return state_dict


@pytest.mark.parametrize(
    ("sample_rate", "length"), [(16000, 4960), (16000, 8000), (32000, 9920), (32000, 20000)]
)
def test_embedding_and_feature_map_shapes(frozen, trainable, sample_rate, length):
    encoder = frozen if sample_rate == 32000 else trainable.eval()
    x = torch.randn(1, 1, 1, length)
    frames = (length * 32000 // sample_rate) // 320 + 1
    with torch.no_grad():
        assert encoder(x).shape == (1, encoder.out_dim)
        assert encoder.forward_features(x).shape == (1, 2048, 2, frames // 32)
    assert (frozen.out_dim, trainable.out_dim) == (32, 2048)


def test_too_short_waveforms_are_refused(frozen):
    with pytest.raises(ValueError, match="at least 9920 samples at 32000 Hz"):
        frozen(torch.randn(2, 1, 1, 9919))


def test_the_head_pools_the_last_map(frozen):
    waveform = torch.randn(2, 12000)
    with torch.no_grad():
        feature_map = frozen.backbone.forward_features(waveform)  # [2, 2048, F', L']
        per_time = feature_map.mean(dim=2)
        pooled = per_time.amax(dim=-1) + per_time.mean(dim=-1)
        expected = torch.relu(frozen.backbone.head.fc(pooled))
        torch.testing.assert_close(frozen.backbone(waveform), expected)


def test_key_mapping_gives_the_published_names_and_back(frozen):
    ours = frozen.backbone.state_dict()
    published = ours_to_published(ours)
    assert set(published) == PUBLISHED_KEYS
    assert published["bn0.running_var"] is ours["frontend.norm.running_var"]
    assert published["conv_block6.conv2.weight"].shape == (2048, 2048, 3, 3)
    assert published["fc1.weight"] is ours["head.fc.weight"]
    assert published_to_ours(published_state_dict(frozen)).keys() == ours.keys()
    backbone = sum(p.numel() for layer in frozen.backbone_layers() for p in layer.parameters())
    assert backbone == PUBLISHED_PARAMETERS - AUDIOSET_HEAD


def test_published_checkpoint_gives_the_source_embeddings(frozen, tmp_path, no_network):
    folder = tmp_path / "weights"
    folder.mkdir()
    file = folder / FILE_NAME
    sampler = {"queue": np.arange(5), "pointer": np.int64(3)}  # as the authors' files hold
    torch.save({"iteration": 10, "model": published_state_dict(frozen), "sampler": sampler}, file)

    loaded = CNN14(
        sample_rate=32000, checkpoint=str(folder), sha256=sha256_of(file), cache_dir=str(tmp_path)
    ).eval()

    assert loaded.checkpoint_path == file
    assert loaded.identity().startswith("cnn14-") and loaded.identity() != "cnn14-random"
    assert loaded.cache is not None
    waveform = torch.randn(2, 12000)
    with torch.no_grad():
        torch.testing.assert_close(loaded.backbone(waveform), frozen.backbone(waveform))
    for key, value in frozen.backbone.state_dict().items():
        assert torch.equal(loaded.backbone.state_dict()[key], value), key


def test_wrong_sha256_and_unreadable_files_raise(tmp_path):
    file = tmp_path / FILE_NAME
    file.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="encoder.checkpoint: .* has SHA-256"):
        CNN14(checkpoint=str(file), sha256="0" * 64)
    with pytest.raises(ValueError, match="could not be read as a torch checkpoint"):
        CNN14(checkpoint=str(file))


def test_missing_file_names_the_setting_and_the_folder(tmp_path, monkeypatch):
    weights = tmp_path / "weights"
    monkeypatch.setenv(WEIGHTS_DIR_ENV, str(weights))
    with pytest.raises(FileNotFoundError) as error:
        CNN14(checkpoint=None)
    message = str(error.value)
    assert "encoder.checkpoint" in message and str(weights / FILE_NAME) in message
    assert "allow_download" in message
    with pytest.raises(FileNotFoundError, match="elsewhere"):
        CNN14(checkpoint=str(tmp_path / "elsewhere" / FILE_NAME))


def test_a_checkpoint_and_random_weights_exclude_each_other():
    with pytest.raises(ValueError, match="encoder.pretrained=false"):
        CNN14(checkpoint="Cnn14.pth", pretrained=False)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda sd: sd.pop("conv_block3.bn1.running_var"), r"missing keys: conv_block3\.bn1\."),
        (
            lambda sd: sd.update({"conv_block7.conv1.weight": torch.zeros(1)}),
            r"unexpected keys: conv_block7\.conv1\.weight",
        ),
        (
            lambda sd: sd.update({"fc1.weight": torch.zeros(512, 512)}),
            r"wrong shapes: fc1\.weight \[512, 512\] \(CNN14: \[2048, 2048\]\)",
        ),
        (
            lambda sd: sd.update({"logmel_extractor.melW": torch.zeros(257, 64)}),
            r"logmel_extractor\.melW \[257, 64\] \(CNN14: \[513, 64\]\)",
        ),
        (
            lambda sd: sd.update({"logmel_extractor.melW": sd["logmel_extractor.melW"] * 1.1}),
            r"melW differs from CNN14's filterbank",
        ),
    ],
)
def test_other_checkpoints_are_refused_before_loading(frozen, change, message):
    state_dict = published_state_dict(frozen)
    change(state_dict)
    before = frozen.backbone.frontend.norm.running_mean.clone()
    with pytest.raises(ValueError, match=message) as error:
        frozen.backbone.load_published(state_dict, source="other.pth")
    assert "other.pth" in str(error.value)
    torch.testing.assert_close(frozen.backbone.frontend.norm.running_mean, before)


def test_log_mel_matches_librosa(frozen):
    import librosa

    rng = np.random.default_rng(0)
    t = np.arange(8000) / 32000
    signal = (0.1 * rng.standard_normal(8000) + 0.5 * np.sin(2 * np.pi * 440 * t)).astype(
        np.float32
    )
    reference = librosa.feature.melspectrogram(
        y=signal, sr=32000, n_fft=1024, hop_length=320, win_length=1024, window="hann",
        center=True, pad_mode="reflect", power=2.0, n_mels=64, fmin=50, fmax=14000, htk=False,
        norm="slaney",
    )  # fmt: skip
    reference = 10 * np.log10(np.maximum(reference, 1e-10))
    waveform = torch.from_numpy(np.stack([signal, np.zeros_like(signal)]))
    log_mel = frozen.backbone.frontend.log_mel(waveform)
    assert log_mel.shape == (2, 64, 8000 // 320 + 1) == (2, *reference.shape)
    torch.testing.assert_close(log_mel[0], torch.from_numpy(reference), rtol=0, atol=2e-3)
    assert torch.all(log_mel[1] == -100.0)  # silence sits at the 1e-10 floor, no top_db


def test_frozen_backbone_leaves_only_the_adapter_to_train(frozen):
    assert not any(p.requires_grad for p in frozen.backbone_parameters())
    trainable = {name for name, p in frozen.named_parameters() if p.requires_grad}
    assert trainable == {name for name, _ in frozen.adapter.named_parameters(prefix="adapter")}
    assert trainable == {"adapter.layers.1.weight", "adapter.layers.1.bias"}
    frozen.train()
    try:
        assert not any(module.training for module in frozen.backbone.modules())
        x = torch.randn(2, 1, 1, 9920)
        out = frozen(x)
        torch.testing.assert_close(out, frozen(x))  # no dropout in the frozen backbone
        out.pow(2).sum().backward()
        adapter = list(frozen.adapter.parameters())
        assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in adapter)
        assert all(p.grad is None for p in frozen.backbone_parameters())
    finally:
        frozen.zero_grad(set_to_none=True)
        frozen.eval()


def test_unfrozen_gradients_reach_the_first_block(trainable):
    assert all(p.requires_grad for p in trainable.backbone_parameters())
    trainable.train()
    try:
        trainable(torch.randn(1, 1, 1, 4960)).pow(2).sum().backward()
        for parameter in (
            trainable.backbone.blocks[0].conv1.weight,
            trainable.backbone.frontend.norm.weight,
        ):
            assert parameter.grad is not None and parameter.grad.abs().sum() > 0
    finally:
        trainable.zero_grad(set_to_none=True)
        trainable.eval()


def test_layer_groups_cover_the_backbone_from_input_to_output(frozen):
    layers = frozen.backbone_layers()
    assert len(layers) == 8
    assert layers[0] is frozen.backbone.frontend and layers[-1] is frozen.backbone.head
    groups = frozen.layer_groups()
    assert [len(group) for group in groups] == [2, *[6] * 6, 2]
    adapter = {id(p) for p in frozen.adapter.parameters()}
    assert not adapter & {id(p) for group in groups for p in group}


def test_random_weights_are_never_cached(frozen):
    assert frozen.identity() == "cnn14-random"
    assert frozen.cache is None


def test_config_composes(compose_config):
    cfg = compose_config("train", ["encoder=cnn14", "frontend=waveform", "augmentation=none"])
    assert cfg.encoder._target_ == "audiofsl.encoders.pretrained.panns.CNN14"
    assert cfg.encoder.sample_rate == cfg.data.loader.sample_rate
    assert cfg.encoder.cache_dir.endswith("/embeddings")
    settings = set(cfg.encoder) - {"_target_"}
    assert settings == set(inspect.signature(CNN14).parameters)
