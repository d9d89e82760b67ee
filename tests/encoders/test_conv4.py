import pytest
import torch

from audiofsl.encoders import Conv4, OutputBlockSettings


def test_defaults_follow_metaaudio_log_mel():
    encoder = Conv4()
    assert encoder.out_dim == 64 * 8
    assert encoder(torch.randn(2, 1, 128, 32)).shape == (2, 64 * 8)


@pytest.mark.parametrize("length", [16, 17, 31, 63, 100])
def test_shapes_for_several_lengths(length):
    encoder = Conv4(n_features=48, hidden_channels=16)
    x = torch.randn(2, 1, 48, length)
    assert encoder.forward_features(x).shape == (2, 16, 3, length // 16)
    assert encoder(x).shape == (2, encoder.out_dim) and encoder.out_dim == 16 * 3


@pytest.mark.parametrize(
    ("kwargs", "out_dim"),
    [
        ({"n_features": 40}, 64 * 2),
        ({"n_features": 40, "pooling": "global_mean"}, 64),
        ({"n_features": 64, "hidden_channels": 32, "n_blocks": 3, "in_channels": 2}, 32 * 8),
    ],
)
def test_out_dim_known_at_construction(kwargs, out_dim):
    encoder = Conv4(**kwargs)
    assert encoder.out_dim == out_dim
    x = torch.randn(2, kwargs.get("in_channels", 1), kwargs["n_features"], 20)
    assert encoder(x).shape == (2, out_dim)


def test_pooling_reduces_the_feature_map_as_documented():
    torch.manual_seed(0)
    x = torch.randn(4, 1, 40, 37)
    time_mean = Conv4(n_features=40, hidden_channels=16)
    global_mean = Conv4(n_features=40, hidden_channels=16, pooling="global_mean")
    global_mean.load_state_dict(time_mean.state_dict())
    feature_map = time_mean.forward_features(x)  # [4, 16, 2, 2]
    expected = torch.stack([feature_map[:, :, f].mean(-1) for f in range(2)], dim=2).flatten(1)
    torch.testing.assert_close(time_mean(x), expected)
    torch.testing.assert_close(global_mean(x), feature_map.mean(dim=(2, 3)))


def test_eval_mode_rows_are_independent():
    torch.manual_seed(1)
    encoder = Conv4(n_features=32, hidden_channels=16).eval()
    x = torch.randn(5, 1, 32, 24)
    batched = encoder(x)
    torch.testing.assert_close(batched[2:3], encoder(x[2:3]), rtol=1e-5, atol=1e-5)


def test_gradients_flow_to_every_parameter_and_the_input():
    torch.manual_seed(2)
    encoder = Conv4(n_features=32, hidden_channels=16)
    x = torch.randn(4, 1, 32, 20, requires_grad=True)
    encoder(x).pow(2).sum().backward()
    for name, parameter in encoder.named_parameters():
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name
    assert x.grad.abs().sum() > 0


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match="length 15"):
        Conv4()(torch.randn(2, 1, 128, 15))
    with pytest.raises(ValueError, match="n_features=8"):
        Conv4(n_features=8)
    with pytest.raises(ValueError, match="n_features"):
        Conv4(n_features=128)(torch.randn(2, 1, 64, 32))
    with pytest.raises(ValueError, match="pooling"):
        Conv4(pooling="max")


def test_pool_size_per_axis_reproduces_metaaudio_shapes():
    encoder = Conv4(n_features=128, pool=[3, 3])
    x = torch.randn(2, 1, 128, 157)
    # 128 -> 42 -> 14 -> 4 -> 1 bins; 157 -> 52 -> 17 -> 5 -> 1 frames.
    assert encoder.forward_features(x).shape == (2, 64, 1, 1)
    assert encoder(x).shape == (2, encoder.out_dim) and encoder.out_dim == 64
    wide = Conv4(n_features=64, pool=[2, 4], n_blocks=2)
    assert wide.forward_features(torch.randn(1, 1, 64, 40)).shape == (1, 64, 16, 2)
    with pytest.raises(ValueError, match=r"pool=\[3, 3\].*>= 81"):
        Conv4(n_features=64, pool=[3, 3])
    with pytest.raises(ValueError, match="pool"):
        Conv4(n_features=64, pool=[0, 2])


@pytest.mark.parametrize(("pooling", "pooled_dim"), [("time_mean", 16 * 2), ("global_mean", 16)])
def test_output_block_ends_the_embedding(pooling, pooled_dim):
    torch.manual_seed(3)
    encoder = Conv4(
        n_features=40,
        hidden_channels=16,
        pooling=pooling,
        output_block={"out_dim": 7, "dropout": 0.3},
    )
    plain = Conv4(n_features=40, hidden_channels=16, pooling=pooling)
    plain.load_state_dict(encoder.state_dict(), strict=False)  # the same conv blocks
    dropout, norm, linear = encoder.output_block
    assert (dropout.p, norm.num_features, linear.in_features) == (0.3, pooled_dim, pooled_dim)
    assert encoder.out_dim == linear.out_features == 7 and plain.out_dim == pooled_dim
    norm.running_mean.uniform_(-0.5, 0.5)
    norm.running_var.uniform_(0.5, 2.0)
    x = torch.randn(4, 1, 40, 37)
    encoder.eval()
    plain.eval()
    # eval: dropout is the identity and BatchNorm1d uses its running statistics
    scale = norm.weight / torch.sqrt(norm.running_var + norm.eps)
    expected = ((plain(x) - norm.running_mean) * scale + norm.bias) @ linear.weight.T + linear.bias
    torch.testing.assert_close(encoder(x), expected)
    encoder.train()
    out = encoder(x)
    assert out.shape == (4, 7)
    out.pow(2).sum().backward()
    for name, parameter in encoder.named_parameters():
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name


def test_output_block_is_off_by_default_and_checked():
    encoder = Conv4(n_features=40, hidden_channels=16)
    assert encoder.output_block is None and encoder.out_dim == 16 * 2
    assert not any(key.startswith("output_block") for key in encoder.state_dict())
    settings = OutputBlockSettings(out_dim=8)  # the settings object works as the mapping does
    assert Conv4(n_features=40, output_block=settings).output_block[0].p == 0.0
    with pytest.raises(ValueError, match=r"output_block.out_dim must be a positive integer"):
        Conv4(output_block={"out_dim": -1})
    with pytest.raises(ValueError, match=r"output_block.dropout must be in \[0, 1\)"):
        Conv4(output_block={"out_dim": 8, "dropout": -0.1})
    with pytest.raises(ValueError, match=r"needs out_dim .*unknown keys: \['dim'\]"):
        Conv4(output_block={"dim": 8})
