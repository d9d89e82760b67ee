import itertools

import pytest
import torch

from audiofsl.encoders import CRNN


@pytest.mark.parametrize(
    ("rnn_type", "bidirectional", "pooling"),
    list(itertools.product(["rnn", "gru", "lstm"], [False, True], ["mean", "last"])),
)
def test_shapes_for_every_rnn_type(rnn_type, bidirectional, pooling):
    encoder = CRNN(
        n_features=32,
        hidden_channels=16,
        rnn_type=rnn_type,
        rnn_hidden=12,
        rnn_layers=2,
        bidirectional=bidirectional,
        pooling=pooling,
    )
    assert encoder.out_dim == 12 * (2 if bidirectional else 1)
    for length in (16, 23, 48):
        x = torch.randn(2, 1, 32, length)
        assert encoder.forward_features(x).shape == (2, 16, 2, length // 16)
        assert encoder(x).shape == (2, encoder.out_dim)


def reference_embedding(encoder: CRNN, x: torch.Tensor) -> torch.Tensor:
    """Builds the time sequence frame by frame and pools the RNN outputs explicitly."""
    feature_map = encoder.forward_features(x)
    frames = [feature_map[:, :, :, t].reshape(x.shape[0], -1) for t in range(feature_map.shape[-1])]
    outputs, _ = encoder.rnn(torch.stack(frames, dim=1))
    hidden = encoder.rnn.hidden_size
    if encoder.pooling == "mean":
        return outputs.mean(dim=1)
    forward_last = outputs[:, -1, :hidden]
    if encoder.n_directions == 1:
        return forward_last
    return torch.cat([forward_last, outputs[:, 0, hidden:]], dim=1)


@pytest.mark.parametrize("rnn_type", ["rnn", "gru", "lstm"])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("pooling", ["mean", "last"])
def test_matches_explicit_sequence_reference(rnn_type, bidirectional, pooling):
    torch.manual_seed(0)
    encoder = CRNN(
        n_features=32,
        hidden_channels=8,
        rnn_type=rnn_type,
        rnn_hidden=6,
        rnn_layers=2,
        bidirectional=bidirectional,
        pooling=pooling,
    ).eval()
    x = torch.randn(4, 1, 32, 64)
    torch.testing.assert_close(encoder(x), reference_embedding(encoder, x))


def test_gradients_flow_to_conv_and_rnn():
    torch.manual_seed(1)
    encoder = CRNN(n_features=32, hidden_channels=8, rnn_type="lstm", bidirectional=True)
    x = torch.randn(3, 1, 32, 40, requires_grad=True)
    encoder(x).pow(2).sum().backward()
    for name, parameter in encoder.named_parameters():
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name
    assert x.grad.abs().sum() > 0


def test_defaults_and_errors():
    encoder = CRNN()
    assert encoder.out_dim == 64 and isinstance(encoder.rnn, torch.nn.GRU)
    assert encoder(torch.randn(2, 1, 128, 16)).shape == (2, 64)
    with pytest.raises(ValueError, match="rnn_type"):
        CRNN(rnn_type="transformer")
    with pytest.raises(ValueError, match="pooling"):
        CRNN(pooling="max")
    with pytest.raises(ValueError, match="length 8"):
        encoder(torch.randn(2, 1, 128, 8))
    with pytest.raises(ValueError, match="n_features=10"):
        CRNN(n_features=10)
