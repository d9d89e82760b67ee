"""The shared behaviour of pretrained encoders, on a small stand-in backbone."""

import pytest
import torch
from torch import nn

from audiofsl.encoders.pretrained import EmbeddingCache, PretrainedEncoder
from audiofsl.encoders.pretrained.cache import window_keys


class CountingEncoder(PretrainedEncoder):
    """A backbone at 8 kHz: framed waveform -> linear -> dropout -> mean; counts the windows
    it embeds."""

    def __init__(self, sample_rate=16000, freeze=True, adapter=None, cache_dir=None, seed=0):
        super().__init__()
        torch.manual_seed(seed)
        self.net = nn.Sequential(nn.Linear(80, 12), nn.Dropout(0.5))
        self.embedded = 0
        self.setup_pretrained(sample_rate, 8000, 12, freeze, adapter, cache_dir)

    def embed_waveform(self, waveform):
        self.embedded += len(waveform)
        frames = waveform[:, : waveform.shape[1] // 80 * 80].reshape(len(waveform), -1, 80)
        return self.net(frames).mean(dim=1)

    def backbone_layers(self):
        return [self.net]

    def identity(self):
        return "counting"


def test_embeddings_shapes_and_input_forms():
    encoder = CountingEncoder(adapter={"out_dim": 5}).eval()
    x = torch.randn(4, 1, 1, 1600)
    out = encoder(x)
    assert out.shape == (4, 5) and encoder.out_dim == 5 and encoder.embedding_dim == 12
    torch.testing.assert_close(encoder(x[:, 0, 0]), out)  # [B, T] too
    with pytest.raises(ValueError, match="frontend=waveform"):
        encoder(torch.randn(4, 1, 64, 100))


def test_frozen_backbone_stays_fixed_and_only_the_adapter_learns():
    encoder = CountingEncoder(adapter={"out_dim": 5, "hidden_dim": 7}).train()
    assert not encoder.net.training  # frozen: dropout stays off in training mode
    assert all(not p.requires_grad for p in encoder.backbone_parameters())
    trainable = [name for name, p in encoder.named_parameters() if p.requires_grad]
    assert trainable and all(name.startswith("adapter.") for name in trainable)
    encoder(torch.randn(3, 1600)).sum().backward()
    assert all(p.grad is not None for p in encoder.adapter.parameters())
    x = torch.randn(3, 1600)
    torch.testing.assert_close(encoder.backbone_embedding(x), encoder.backbone_embedding(x))


def test_an_unfrozen_backbone_trains():
    encoder = CountingEncoder(freeze=False).train()
    assert encoder.net.training
    encoder(torch.randn(3, 1600)).pow(2).sum().backward()
    assert encoder.net[0].weight.grad.abs().sum() > 0


def test_the_cache_embeds_each_window_once_across_instances(tmp_path):
    x = torch.randn(6, 1600)
    first = CountingEncoder(cache_dir=tmp_path).eval()
    reference = CountingEncoder().eval().backbone_embedding(x)
    torch.testing.assert_close(first.backbone_embedding(x[:4]), reference[:4])
    assert first.embedded == 4
    # two of these are cached: only the others are computed, and the order is kept
    torch.testing.assert_close(first.backbone_embedding(x[2:]), reference[2:])
    assert first.embedded == 6
    first.cache.flush()
    second = CountingEncoder(cache_dir=tmp_path).eval()
    torch.testing.assert_close(second.backbone_embedding(x), reference)
    assert second.embedded == 0 and second.cache.hits == 6


def test_the_cache_is_written_at_exit_and_keyed_by_the_input_rate(tmp_path):
    x = torch.randn(2, 1600)
    encoder = CountingEncoder(cache_dir=tmp_path).eval()
    encoder(x)
    del encoder  # the pending rows are written when the cache goes away
    assert CountingEncoder(cache_dir=tmp_path).cache is not None
    assert len(CountingEncoder(cache_dir=tmp_path).cache) == 2
    assert len(CountingEncoder(sample_rate=8000, cache_dir=tmp_path).cache) == 0


def test_no_cache_for_an_unfrozen_backbone(tmp_path):
    assert CountingEncoder(freeze=False, cache_dir=tmp_path).cache is None


def test_window_keys_follow_the_samples():
    x = torch.randn(3, 100)
    keys = window_keys(x)
    assert len(set(keys)) == 3 and window_keys(x.clone()) == keys
    y = x.clone()
    y[1, 50] += 1e-6
    assert window_keys(y)[1] != keys[1] and window_keys(y)[0] == keys[0]


def test_an_unreadable_shard_is_skipped(tmp_path):
    cache = EmbeddingCache(tmp_path, "enc", flush_every=2)
    cache.store(["a", "b"], torch.ones(2, 3))  # written: flush_every reached
    (tmp_path / "enc" / "part-0-99999.pt").write_bytes(b"cut short")
    reopened = EmbeddingCache(tmp_path, "enc")
    found, rows = reopened.lookup(["a", "c", "b"])
    assert found == [0, 2] and rows.shape == (2, 3)
