import math
from collections import OrderedDict
from pathlib import Path

import hydra
import numpy as np
import pytest
import torch
from torch import nn

from audiofsl.encoders.pretrained.efficientat import (
    PUBLISHED_FILES,
    EfficientATLogMel,
    EfficientATMN,
    ours_to_published,
    published_to_ours,
)
from audiofsl.encoders.pretrained.features import kaldi_mel_banks
from audiofsl.encoders.pretrained.weights import WEIGHTS_DIR_ENV, sha256_of

#: The AudioSet classifier of the published mn10 file (dropped on loading): Linear 960 -> 1280,
#: hard-swish, dropout, Linear 1280 -> 527.
CLASSIFIER_SHAPES = {
    "classifier.2.weight": (1280, 960),
    "classifier.2.bias": (1280,),
    "classifier.5.weight": (527, 1280),
    "classifier.5.bias": (527,),
}


def randomise_batch_norm(module: nn.Module) -> None:
    """Non-trivial affine parameters and running statistics, so that loading them matters."""
    for bn in module.modules():
        if isinstance(bn, nn.BatchNorm2d):
            bn.weight.data.uniform_(0.5, 1.5)
            bn.bias.data.normal_(0.0, 0.1)
            bn.running_mean.normal_(0.0, 0.1)
            bn.running_var.uniform_(0.5, 2.0)
            bn.num_batches_tracked.fill_(7)


@pytest.fixture(scope="module")
def source() -> EfficientATMN:
    """A randomly initialised mn10 at 32 kHz, standing for the published model."""
    torch.manual_seed(0)
    model = EfficientATMN(sample_rate=32000, pretrained=False)
    randomise_batch_norm(model.backbone)
    return model.eval()


def published_state(model: EfficientATMN) -> OrderedDict:
    """The model's weights as the published file holds them: the repository's key names and
    its AudioSet classifier."""
    state = OrderedDict(ours_to_published(model.backbone.state_dict()))
    generator = torch.Generator().manual_seed(1)
    for key, shape in CLASSIFIER_SHAPES.items():
        state[key] = torch.randn(shape, generator=generator)
    return state


def save_published(state: dict, folder: Path, name: str = "mn10_as_mAP_471.pt") -> Path:
    path = folder / name
    torch.save(state, path)  # the repository saves torch.save(model.state_dict(), path)
    return path


def slow_mel_banks(n_mels: int, n_fft: int, sr: int, fmin: float, fmax: float) -> np.ndarray:
    """Kaldi's mel triangles, one weight at a time (rising edge up to the centre, falling
    edge after it), plus the zero Nyquist column."""

    def mel(f: float) -> float:
        return 1127.0 * math.log(1.0 + f / 700.0)

    low, delta = mel(fmin), (mel(fmax) - mel(fmin)) / (n_mels + 1)
    banks = np.zeros((n_mels, n_fft // 2 + 1))
    for m in range(n_mels):
        left, centre, right = low + m * delta, low + (m + 1) * delta, low + (m + 2) * delta
        for k in range(n_fft // 2):
            b = mel(k * sr / n_fft)
            if left < b <= centre:
                banks[m, k] = (b - left) / (centre - left)
            elif centre < b < right:
                banks[m, k] = (right - b) / (right - centre)
    return banks


def slow_log_mel(wave: np.ndarray, banks: np.ndarray) -> np.ndarray:
    """EfficientAT's features frame by frame in float64: pre-emphasis, reflection padding,
    a symmetric 800-sample Hann window centred in 1024 samples, power, mel, log, scaling."""
    y = wave[1:] - 0.97 * wave[:-1]
    padded = np.pad(y, 512, mode="reflect")
    n = np.arange(800)
    window = np.zeros(1024)
    window[112:912] = 0.5 - 0.5 * np.cos(2 * np.pi * n / 799)
    frames = []
    for start in range(0, len(y) + 1, 320):
        spectrum = np.fft.rfft(padded[start : start + 1024] * window)
        frames.append(banks @ (spectrum.real**2 + spectrum.imag**2))
    return (np.log(np.stack(frames, axis=1) + 1e-5) + 4.5) / 5


@pytest.mark.parametrize("sample_rate", [16000, 32000])
def test_shapes_at_16_and_32_khz(sample_rate):
    encoder = EfficientATMN(sample_rate=sample_rate, pretrained=False).eval()
    assert encoder.embedding_dim == encoder.out_dim == 960
    waveform = torch.randn(2, 1, 1, sample_rate // 4)  # 0.25 s
    with torch.no_grad():
        out = encoder(waveform)
        flat = encoder(waveform[:, 0, 0])
        resampled = encoder.resampler(waveform[:, 0, 0])
    assert out.shape == (2, 960) and torch.isfinite(out).all()
    torch.testing.assert_close(out, flat)
    assert resampled.shape == (2, 8000)
    assert encoder.spectrogram(resampled).shape == (2, 1, 128, 1 + 7999 // 320)
    adapted = EfficientATMN(sample_rate=sample_rate, pretrained=False, adapter={"out_dim": 32})
    assert adapted(waveform).shape == (2, 32) and adapted.out_dim == 32


def test_short_waveforms_are_padded(source):
    with torch.no_grad():
        out = source(torch.randn(3, 100))
    assert out.shape == (3, 960) and torch.isfinite(out).all()


def test_published_key_names_shapes_and_parameter_count(source):
    state = published_state(source)
    # Key names and shapes of the repository's MN model (mn10): stem, block 1 without an
    # expansion conv, SE layers after the depthwise conv, the 960-channel head conv.
    expected = {
        "features.0.0.weight": (16, 1, 3, 3),
        "features.0.1.num_batches_tracked": (),
        "features.1.block.0.0.weight": (16, 1, 3, 3),
        "features.1.block.1.0.weight": (16, 16, 1, 1),
        "features.2.block.0.0.weight": (64, 16, 1, 1),
        "features.4.block.1.0.weight": (72, 1, 5, 5),
        "features.4.block.2.conc_se_layers.0.fc1.weight": (24, 72),
        "features.4.block.2.conc_se_layers.0.fc2.bias": (72,),
        "features.4.block.3.0.weight": (40, 72, 1, 1),
        "features.7.block.2.0.weight": (80, 240, 1, 1),
        "features.15.block.2.conc_se_layers.0.fc1.weight": (240, 960),
        "features.16.0.weight": (960, 160, 1, 1),
        "features.16.1.running_var": (960,),
    }
    assert {k: tuple(state[k].shape) for k in expected} == expected
    assert len(state) == 308 + len(CLASSIFIER_SHAPES)
    assert not any(k.startswith("features.17") or k.endswith("block.4.0.weight") for k in state)
    # The README's 4.88 M parameters for mn10_as (classifier included).
    parameters = sum(v.numel() for k, v in state.items() if v.is_floating_point()
                     and not k.endswith(("running_mean", "running_var")))  # fmt: skip
    assert round(parameters / 1e6, 2) == 4.88


def test_mapping_round_trip_and_classifier_dropped(source):
    ours = source.backbone.state_dict()
    published = published_state(source)
    back = published_to_ours(published)
    assert list(back) == list(ours)
    assert all(back[k] is published[t] for k, t in zip(ours, ours_to_published(ours), strict=True))
    with pytest.raises(ValueError, match="unexpected EfficientAT checkpoint keys: features.17"):
        published_to_ours({**published, "features.17.0.weight": torch.zeros(1)})


def test_checkpoint_loads_strictly_and_reproduces_embeddings(source, tmp_path, no_network):
    path = save_published(published_state(source), tmp_path)
    loaded = EfficientATMN(sample_rate=32000, checkpoint=str(path), sha256=sha256_of(path)).eval()
    for key, value in source.backbone.state_dict().items():
        assert torch.equal(loaded.backbone.state_dict()[key], value), key
    waveform = torch.randn(2, 1, 1, 6400)
    with torch.no_grad():
        torch.testing.assert_close(loaded(waveform), source(waveform), rtol=0, atol=0)
    assert loaded.identity().startswith("mn10-") and loaded.identity() != source.identity()
    # A folder holding the published file name works too; num_batches_tracked is optional.
    state = {k: v for k, v in published_state(source).items() if "num_batches" not in k}
    folder = tmp_path / "weights"
    folder.mkdir()
    save_published(state, folder)
    again = EfficientATMN(sample_rate=32000, checkpoint=str(folder)).eval()
    with torch.no_grad():
        torch.testing.assert_close(again(waveform), source(waveform), rtol=0, atol=0)


def test_agrees_with_torchvision_mobilenet_v3(source):
    """torchvision's MobileNetV3-Large (which EfficientAT adapted) with one input channel and
    sigmoid SE gates computes the same pooled features from the published tensors."""
    torchvision = pytest.importorskip("torchvision")
    reference = torchvision.models.mobilenet_v3_large(num_classes=527).features
    reference[0][0] = nn.Conv2d(1, 16, 3, 2, 1, bias=False)
    for module in reference.modules():
        if isinstance(module, torchvision.ops.SqueezeExcitation):
            module.scale_activation = nn.Sigmoid()  # torchvision's default is hard-sigmoid
    state = {}
    for key, value in ours_to_published(source.backbone.state_dict()).items():
        if ".conc_se_layers.0." in key:  # EfficientAT's SE is linear, torchvision's 1x1 conv
            key = key.replace(".conc_se_layers.0.", ".")
            value = value[..., None, None] if value.dim() == 2 else value
        state[key.removeprefix("features.")] = value
    reference.load_state_dict(state, strict=True)
    spectrogram = torch.randn(2, 1, 128, 40)
    with torch.no_grad():
        expected = reference.eval()(spectrogram).mean(dim=(2, 3))
        torch.testing.assert_close(source.backbone(spectrogram), expected)


def test_wrong_sha256_raises(source, tmp_path):
    path = save_published(published_state(source), tmp_path)
    with pytest.raises(ValueError, match="encoder.checkpoint.*SHA-256"):
        EfficientATMN(checkpoint=str(path), sha256="0" * 64)


def test_missing_file_names_the_setting(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match="encoder.checkpoint.*absent.pt"):
        EfficientATMN(checkpoint=str(tmp_path / "absent.pt"))
    monkeypatch.setenv(WEIGHTS_DIR_ENV, str(tmp_path))
    with pytest.raises(FileNotFoundError, match="encoder.checkpoint.*mn10_as_mAP_471.pt"):
        EfficientATMN()
    assert PUBLISHED_FILES[1.0] == "mn10_as_mAP_471.pt"


def test_missing_unexpected_and_misshapen_keys_raise(source, tmp_path):
    state = published_state(source)
    missing = dict(state)
    del missing["features.5.block.2.conc_se_layers.0.fc1.weight"]
    path = save_published(missing, tmp_path, "missing.pt")
    with pytest.raises(ValueError, match=r"missing keys features\.5\.block\.2\.conc_se_layers"):
        EfficientATMN(checkpoint=str(path))
    path = save_published({**state, "features.17.0.weight": torch.zeros(1)}, tmp_path, "extra.pt")
    with pytest.raises(ValueError, match=r"encoder.checkpoint=.*unexpected .*features\.17\.0"):
        EfficientATMN(checkpoint=str(path))
    path = save_published(state, tmp_path, "mn10.pt")
    with pytest.raises(ValueError, match="other shapes for width 0.5"):
        EfficientATMN(checkpoint=str(path), width=0.5)
    torch.save({"model": state}, tmp_path / "wrapped.pt")
    with pytest.raises(ValueError, match="expected the state dict of an EfficientAT model"):
        EfficientATMN(checkpoint=str(tmp_path / "wrapped.pt"))
    (tmp_path / "text.pt").write_text("not a checkpoint")
    with pytest.raises(ValueError, match="not a readable PyTorch checkpoint"):
        EfficientATMN(checkpoint=str(tmp_path / "text.pt"))


def test_mel_banks_match_a_slow_reference():
    banks = kaldi_mel_banks(128, 1024, 32000, 0.0, 15000.0).T  # as EfficientAT uses them
    assert banks.shape == (128, 513)
    reference = slow_mel_banks(128, 1024, 32000, 0.0, 15000.0)  # float64
    np.testing.assert_allclose(banks.numpy(), reference, rtol=0, atol=2e-5)  # float32 rounding
    assert (banks[:, -1] == 0).all() and (banks[:, 480:] == 0).all()  # 15 kHz = bin 480
    assert (banks.sum(dim=1) > 0).all()
    with pytest.raises(ValueError, match="high_freq"):
        kaldi_mel_banks(128, 1024, 32000, 0.0, 17000.0)


def test_mel_banks_match_torchaudio_kaldi(torchaudio_reference):
    import torchaudio.compliance.kaldi as kaldi

    reference, _ = kaldi.get_mel_banks(128, 1024, 32000, 0.0, 15000.0, 100.0, -500.0, 1.0)
    reference = torch.nn.functional.pad(reference, (0, 1))
    # torchaudio computes in float32, ours in float64 (then float32)
    torch.testing.assert_close(EfficientATLogMel().mel_banks, reference, rtol=0, atol=5e-5)


def test_frontend_matches_a_slow_reference():
    frontend = EfficientATLogMel()
    assert (frontend.fmin, frontend.fmax) == (0.0, 15000.0)
    generator = torch.Generator().manual_seed(3)
    waveform = 0.1 * torch.randn(2, 4001, generator=generator, dtype=torch.float64)
    features = frontend(waveform.float())
    assert features.shape == (2, 128, 1 + 4000 // 320)
    banks = slow_mel_banks(128, 1024, 32000, 0.0, 15000.0)
    for row in range(2):
        expected = slow_log_mel(waveform[row].numpy(), banks)
        np.testing.assert_allclose(features[row].numpy(), expected, rtol=0, atol=2e-4)


def test_freeze_trains_only_the_adapter():
    encoder = EfficientATMN(pretrained=False, adapter={"out_dim": 16, "hidden_dim": 8})
    trainable = {name for name, p in encoder.named_parameters() if p.requires_grad}
    assert trainable and all(name.startswith("adapter.") for name in trainable)
    encoder.train()
    assert not any(m.training for layer in encoder.backbone_layers() for m in layer.modules())
    assert encoder.adapter.training
    encoder(torch.randn(2, 4000)).sum().backward()
    assert encoder.backbone.stem.conv.weight.grad is None
    assert encoder.adapter.layers[-1].weight.grad is not None


def test_unfrozen_backbone_gets_gradients_at_the_stem():
    encoder = EfficientATMN(pretrained=False, freeze=False).train()
    assert all(p.requires_grad for p in encoder.parameters())
    encoder(torch.randn(2, 4000)).pow(2).sum().backward()
    grad = encoder.backbone.stem.conv.weight.grad
    assert grad is not None and grad.abs().sum() > 0


def test_backbone_layers_and_groups_run_input_to_output(tmp_path):
    encoder = EfficientATMN(pretrained=False, cache_dir=str(tmp_path))
    layers = encoder.backbone_layers()
    assert len(layers) == 18 and layers[0] is encoder.frontend
    assert layers[1] is encoder.backbone.stem and layers[-1] is encoder.backbone.head
    groups = encoder.layer_groups()
    assert len(groups) == 17 and all(groups)
    assert sum(len(g) for g in groups) == len(list(encoder.backbone.parameters()))
    assert encoder.cache is None and encoder.identity() == "mn10-random"  # random: no cache


def test_width_is_checked():
    with pytest.raises(ValueError, match="encoder.width"):
        EfficientATMN(pretrained=False, width=0)
    small = EfficientATMN(pretrained=False, width=0.4)
    assert small.embedding_dim == 6 * 64 and small.identity() == "mn04-random"


def test_config_composes_with_the_waveform_frontend(compose_config):
    cfg = compose_config("train", ["encoder=mn10", "frontend=waveform", "augmentation=none"])
    assert cfg.encoder._target_ == "audiofsl.encoders.pretrained.efficientat.EfficientATMN"
    assert cfg.encoder.sample_rate == cfg.data.loader.sample_rate
    assert cfg.encoder.checkpoint is None and cfg.encoder.freeze is True
    assert cfg.encoder.cache_dir.endswith("embeddings")
    encoder = hydra.utils.instantiate(cfg.encoder, pretrained=False)
    assert isinstance(encoder, EfficientATMN) and encoder.out_dim == 960
