"""Hugging Face audio models behind the encoder contract, from tiny random local folders."""

import pytest
import torch

pytest.importorskip("transformers")

from audiofsl.encoders.pretrained.transformers_audio import TransformersAudioEncoder  # noqa: E402


@pytest.mark.parametrize("family", ["wav2vec2", "hubert", "wavlm"])
def test_wav2vec2_family_embeds_waveforms_offline(tiny_models, family, no_network):
    encoder = TransformersAudioEncoder(str(tiny_models(family)), sample_rate=8000).eval()
    assert encoder.family == "wav2vec2" and encoder.model_sample_rate == 16000
    x = torch.randn(3, 1, 1, 4000)  # 0.5 s at 8 kHz
    out = encoder(x)
    assert out.shape == (3, 16) and encoder.out_dim == 16
    # the same as the model on the resampled, normalised waveform, mean over frames
    audio = encoder.resampler(x[:, 0, 0])
    normalised = (audio - audio.mean(1, keepdim=True)) / torch.sqrt(
        audio.var(1, unbiased=False, keepdim=True) + 1e-7
    )
    with torch.no_grad():
        frames = encoder.model(input_values=normalised).last_hidden_state
    torch.testing.assert_close(out, frames.mean(1))


def test_a_layer_is_pooled_and_checked(tiny_models):
    folder = str(tiny_models("wav2vec2"))
    encoder = TransformersAudioEncoder(folder, layer=1, pooling="max").eval()
    x = torch.randn(2, 16000)
    with torch.no_grad():
        hidden = encoder.model(
            input_values=encoder.features(x), output_hidden_states=True
        ).hidden_states[1]
    torch.testing.assert_close(encoder(x), hidden.amax(1))
    with pytest.raises(ValueError, match=r"encoder\.layer=3: .*0\.\.2"):
        TransformersAudioEncoder(folder, layer=3)
    with pytest.raises(ValueError, match="encoder.pooling"):
        TransformersAudioEncoder(folder, pooling="attention")


def test_layer_groups_run_from_input_to_output(tiny_models):
    encoder = TransformersAudioEncoder(str(tiny_models("wav2vec2")), adapter={"out_dim": 4})
    groups = encoder.layer_groups()
    assert len(groups) == 3  # feature encoder etc., then each of the two transformer layers
    layer0 = {id(p) for p in encoder.model.encoder.layers[0].parameters()}
    assert {id(p) for p in groups[1]} == layer0
    listed = [id(p) for group in groups for p in group]
    assert sorted(listed) == sorted(id(p) for p in encoder.model.parameters())


def test_a_hub_name_not_in_the_cache_says_how_to_get_it(tmp_path, monkeypatch, no_network):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    with pytest.raises(FileNotFoundError) as error:
        TransformersAudioEncoder("facebook/wav2vec2-base")
    message = str(error.value)
    assert "encoder.source=facebook/wav2vec2-base" in message
    assert "hf download" in message and "allow_download=true" in message


def test_the_weights_checksum_is_verified(tiny_models):
    folder = tiny_models("hubert")
    with pytest.raises(ValueError, match="encoder.sha256"):
        TransformersAudioEncoder(str(folder), sha256="0" * 64)
    from audiofsl.encoders.pretrained.weights import sha256_of

    digest = sha256_of(folder / "model.safetensors")
    assert TransformersAudioEncoder(str(folder), sha256=digest).out_dim == 16


def test_not_an_audio_model_is_refused(tmp_path):
    transformers = pytest.importorskip("transformers")
    transformers.BertConfig(hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
                            intermediate_size=8).save_pretrained(tmp_path)  # fmt: skip
    with pytest.raises(ValueError, match="'bert' is not an audio model"):
        TransformersAudioEncoder(str(tmp_path))


def test_ast_embeds_its_pooled_tokens_from_the_kaldi_fbank(tiny_models, no_network):
    encoder = TransformersAudioEncoder(str(tiny_models("ast")), sample_rate=32000).eval()
    assert encoder.family == "ast" and encoder.model_sample_rate == 16000
    x = torch.randn(2, 1, 1, 16000)  # 0.5 s at 32 kHz
    out = encoder(x)
    assert out.shape == (2, 16)
    fbank = encoder.features(encoder.resampler(x[:, 0, 0]))
    assert fbank.shape == (2, 64, 32)  # max_length frames, num_mel_bins
    with torch.no_grad():
        torch.testing.assert_close(out, encoder.model(input_values=fbank).pooler_output)


def test_whisper_pools_the_frames_that_cover_the_clip(tiny_models, no_network):
    encoder = TransformersAudioEncoder(str(tiny_models("whisper"))).eval()
    assert type(encoder.model).__name__ == "WhisperEncoder"  # the decoder is dropped
    x = torch.randn(2, 8000)  # 0.5 s of the 2 s window: 25 of 100 encoder frames
    with torch.no_grad():
        frames = encoder.model(input_features=encoder.features(x)).last_hidden_state
    assert frames.shape[1] == 100
    torch.testing.assert_close(encoder(x), frames[:, :25].mean(1))


def test_clap_gives_its_projected_audio_embedding(tiny_models, no_network):
    encoder = TransformersAudioEncoder(str(tiny_models("clap"))).eval()
    assert encoder.model_sample_rate == 48000 and encoder.out_dim == 8
    out = encoder(torch.randn(2, 1, 1, 16000))
    assert out.shape == (2, 8) and torch.isfinite(out).all()
    with pytest.raises(ValueError, match="CLAP's embedding is its projection"):
        TransformersAudioEncoder(str(tiny_models("clap")), layer=1)


def test_wav2vec2_input_matches_its_feature_extractor(tiny_models):
    transformers = pytest.importorskip("transformers")
    encoder = TransformersAudioEncoder(str(tiny_models("wav2vec2")))
    x = 0.3 * torch.randn(2, 5000) + 0.1
    reference = transformers.Wav2Vec2FeatureExtractor(do_normalize=True)(
        list(x.numpy()), sampling_rate=16000, return_tensors="np"
    )["input_values"]
    torch.testing.assert_close(encoder.features(x), torch.from_numpy(reference), atol=1e-5, rtol=0)


def test_a_folder_in_the_home_directory_is_found(tiny_models, monkeypatch, no_network):
    folder = tiny_models("hubert")
    monkeypatch.setenv("HOME", str(folder.parent))
    encoder = TransformersAudioEncoder(f"~/{folder.name}")
    assert encoder.source == str(folder)
