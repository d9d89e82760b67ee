"""Shared test configuration: ``gpu`` tests run only where CUDA exists; config composition;
tiny random pretrained models saved as local folders; a guard against network connections."""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

CONF_DIR = Path(__file__).resolve().parents[1] / "conf"


@pytest.fixture(scope="session", autouse=True)
def data_dir_outside_the_user_cache(tmp_path_factory: pytest.TempPathFactory):
    """Runs that keep the default ``paths.data_dir`` (the user's cache, or AUDIOFSL_DATA_DIR)
    write into one folder of the test session instead, commands started by tests included."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AUDIOFSL_DATA_DIR", str(tmp_path_factory.mktemp("audiofsl_data")))
        yield


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if torch.cuda.is_available():
        return
    no_cuda = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(no_cuda)


ComposeFn = Callable[..., DictConfig]


@pytest.fixture
def compose_config(tmp_path: Path) -> ComposeFn:
    """Compose ``conf/<name>.yaml`` with outputs under tmp_path (data_dir optional)."""

    def _compose(name: str, overrides: list[str], data_dir: Path | None = None) -> DictConfig:
        paths = [f"paths.output_dir={tmp_path / 'run'}"]
        if data_dir is not None:
            paths.append(f"paths.data_dir={data_dir}")
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
            return compose(config_name=name, overrides=[*overrides, *paths])

    return _compose


@pytest.fixture(scope="session")
def torchaudio_reference():
    """torchaudio, a reference for the frontends and the resampler, or a skip where it does not
    import (it is not a dependency of audiofsl, and its builds import only beside a matching
    torch: a mismatch raises OSError, not ImportError)."""
    try:
        import torchaudio
        import torchaudio.functional
        import torchaudio.transforms
    except Exception as error:
        pytest.skip(f"torchaudio does not import here ({type(error).__name__}: {error})")
    return torchaudio


# ----------------------------------------------------------------- pretrained encoders


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to connect a socket fails the test."""

    def refuse(*args, **kwargs):
        raise AssertionError(f"a network connection was opened: {args[1:] or kwargs}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


TINY_WAV2VEC2 = dict(
    hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=24,
    conv_dim=(16, 16), conv_stride=(5, 4), conv_kernel=(10, 4), num_conv_pos_embeddings=8,
    num_conv_pos_embedding_groups=2, vocab_size=10,
)  # fmt: skip


def save_tiny(folder, family: str):
    """Save a tiny random model of ``family`` and its feature extractor into ``folder``."""
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    if family in ("wav2vec2", "hubert", "wavlm"):
        config_cls, model_cls = {
            "wav2vec2": (transformers.Wav2Vec2Config, transformers.Wav2Vec2Model),
            "hubert": (transformers.HubertConfig, transformers.HubertModel),
            "wavlm": (transformers.WavLMConfig, transformers.WavLMModel),
        }[family]
        model = model_cls(config_cls(**TINY_WAV2VEC2))
        extractor = transformers.Wav2Vec2FeatureExtractor(do_normalize=True)
    elif family == "ast":
        config = transformers.ASTConfig(
            hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=24,
            num_mel_bins=32, max_length=64, patch_size=16, frequency_stride=8, time_stride=8,
        )  # fmt: skip
        model = transformers.ASTModel(config)
        extractor = transformers.ASTFeatureExtractor(num_mel_bins=32, max_length=64)
    elif family == "whisper":
        config = transformers.WhisperConfig(
            d_model=16, encoder_layers=2, encoder_attention_heads=2, decoder_layers=1,
            decoder_attention_heads=2, encoder_ffn_dim=24, decoder_ffn_dim=24, num_mel_bins=80,
            max_source_positions=100, max_target_positions=16, vocab_size=60, pad_token_id=0,
            bos_token_id=1, eos_token_id=2, decoder_start_token_id=3,
        )  # fmt: skip
        model = transformers.WhisperModel(config)
        extractor = transformers.WhisperFeatureExtractor(chunk_length=2)  # 200 frames
    elif family == "clap":
        config = transformers.ClapAudioConfig(
            window_size=4, num_mel_bins=64, spec_size=128, patch_size=4, patch_stride=(4, 4),
            depths=[1, 1], num_attention_heads=[2, 2], hidden_size=32,
            patch_embeds_hidden_size=16, enable_fusion=False, projection_dim=8,
        )  # fmt: skip
        model = transformers.ClapAudioModelWithProjection(config)
        extractor = transformers.ClapFeatureExtractor(
            truncation="rand_trunc", padding="repeatpad", max_length_s=1
        )
    else:
        raise ValueError(family)
    model.save_pretrained(folder)
    extractor.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory):
    """``{family: folder}`` of tiny saved models, built once per session on demand."""
    built: dict[str, object] = {}

    def get(family: str):
        if family not in built:
            built[family] = save_tiny(tmp_path_factory.mktemp(family), family)
        return built[family]

    return get
