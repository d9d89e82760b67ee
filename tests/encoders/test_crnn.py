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
    """Builds the time sequence frame by frame, adds the skip connection, pools the RNN
    outputs and applies the output block (eval mode) explicitly."""
    feature_map = encoder.forward_features(x)
    frames = [feature_map[:, :, :, t].reshape(x.shape[0], -1) for t in range(feature_map.shape[-1])]
    sequence = torch.stack(frames, dim=1)
    outputs, _ = encoder.rnn(sequence)
    hidden = encoder.rnn.hidden_size
    if encoder.residual:
        inputs = [sequence] * encoder.n_directions  # each direction's output gets the input
        outputs = outputs + torch.cat(inputs, dim=2)
    if encoder.pooling == "mean":
        pooled = outputs.mean(dim=1)
    elif encoder.n_directions == 1:
        pooled = outputs[:, -1, :hidden]
    else:
        pooled = torch.cat([outputs[:, -1, :hidden], outputs[:, 0, hidden:]], dim=1)
    return output_block_reference(encoder.output_block, pooled)


def output_block_reference(block, pooled: torch.Tensor) -> torch.Tensor:
    """Eval-mode Dropout (identity) -> BatchNorm1d (running statistics) -> Linear, by hand."""
    if block is None:
        return pooled
    _, norm, linear = block
    scale = norm.weight / torch.sqrt(norm.running_var + norm.eps)
    normalised = (pooled - norm.running_mean) * scale + norm.bias
    return normalised @ linear.weight.T + linear.bias


def randomise_statistics(encoder: torch.nn.Module) -> None:
    """Running statistics away from (0, 1), so that the manual BatchNorm is checked."""
    for module in encoder.modules():
        if isinstance(module, torch.nn.BatchNorm1d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)


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


def residual_crnn(**kwargs) -> CRNN:
    # 32 bins, four 2 x 2 pools: F' = 2 bins of 8 channels, so the RNN input has 16 values.
    return CRNN(n_features=32, hidden_channels=8, rnn_hidden=16, residual=True, **kwargs)


@pytest.mark.parametrize("rnn_type", ["rnn", "gru", "lstm"])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("pooling", ["mean", "last"])
def test_residual_adds_the_rnn_input_to_its_output(rnn_type, bidirectional, pooling):
    torch.manual_seed(3)
    encoder = residual_crnn(
        rnn_type=rnn_type, rnn_layers=2, bidirectional=bidirectional, pooling=pooling
    ).eval()
    x = torch.randn(4, 1, 32, 64)
    embedding = encoder(x)
    assert embedding.shape == (4, 16 * encoder.n_directions) == (4, encoder.out_dim)
    torch.testing.assert_close(embedding, reference_embedding(encoder, x))
    plain = CRNN(
        n_features=32,
        hidden_channels=8,
        rnn_hidden=16,
        rnn_type=rnn_type,
        rnn_layers=2,
        bidirectional=bidirectional,
        pooling=pooling,
    ).eval()
    plain.load_state_dict(encoder.state_dict())  # the skip adds no weights
    assert not torch.allclose(plain(x), embedding)


@pytest.mark.parametrize("residual", [False, True])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_output_block_ends_the_embedding(residual, bidirectional):
    torch.manual_seed(4)
    encoder = CRNN(
        n_features=32,
        hidden_channels=8,
        rnn_type="rnn",
        rnn_hidden=16,
        bidirectional=bidirectional,
        pooling="last",
        residual=residual,
        output_block={"out_dim": 5, "dropout": 0.3},
    )
    randomise_statistics(encoder)
    assert encoder.out_dim == 5
    assert [type(m) for m in encoder.output_block] == [
        torch.nn.Dropout,
        torch.nn.BatchNorm1d,
        torch.nn.Linear,
    ]
    assert encoder.output_block[0].p == 0.3 and encoder.output_block[1].num_features == (
        16 * encoder.n_directions
    )
    x = torch.randn(3, 1, 32, 40)
    encoder.eval()
    torch.testing.assert_close(encoder(x), reference_embedding(encoder, x))
    encoder.train()  # dropout and batch statistics
    out = encoder(x)
    assert out.shape == (3, 5)
    out.pow(2).sum().backward()
    for name, parameter in encoder.named_parameters():
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name


def test_defaults_leave_out_the_skip_and_the_output_block():
    encoder = CRNN(n_features=32, hidden_channels=8, rnn_hidden=16)
    assert not encoder.residual and encoder.output_block is None and encoder.out_dim == 16
    assert not any(key.startswith("output_block") for key in encoder.state_dict())
    x = torch.randn(2, 1, 32, 40)
    encoder.eval()
    torch.testing.assert_close(encoder(x), reference_embedding(encoder, x))


def test_residual_and_output_block_errors_name_the_setting():
    with pytest.raises(ValueError, match=r"rnn_hidden must equal .* 8 x 2 = 16.*rnn_hidden=12"):
        CRNN(n_features=32, hidden_channels=8, rnn_hidden=12, residual=True)
    with pytest.raises(ValueError, match=r"rnn_hidden=512"):
        CRNN(residual=True)  # 128 bins, 2 x 2 pools: 64 channels x 8 bins
    for bad, match in [
        ({"out_dim": 0}, r"output_block.out_dim"),
        ({"out_dim": 8, "dropout": 1.0}, r"output_block.dropout"),
        ({"dropout": 0.3}, r"output_block=.*needs out_dim"),
        ({"out_dim": 8, "p": 0.3}, r"unknown keys: \['p'\]"),
        (64, r"output_block must be null or a mapping"),
    ]:
        with pytest.raises(ValueError, match=match):
            CRNN(n_features=32, hidden_channels=8, output_block=bad)
