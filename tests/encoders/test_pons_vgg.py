import pytest
import torch
from torch import nn

from audiofsl.encoders import PonsVGG
from audiofsl.runs.composition import build_method


def test_defaults_follow_the_paper():
    encoder = PonsVGG(n_features=128)
    assert encoder.out_dim == encoder.feature_channels == 128
    assert len(encoder.blocks) == 5
    for block in encoder.blocks:  # conv 3x3 -> ELU -> BatchNorm, in this order
        conv, act, norm = block
        assert isinstance(conv, nn.Conv2d) and conv.kernel_size == (3, 3)
        assert conv.out_channels == 128 and conv.bias is not None
        assert isinstance(act, nn.ELU) and isinstance(norm, nn.BatchNorm2d)
    assert isinstance(encoder.input_norm, nn.BatchNorm2d)
    assert encoder.dropout.p == 0.5
    x = torch.randn(2, 1, 128, 100)
    # 128 -> 4 bins, 100 -> 50 -> 25 -> 12 -> 6 -> 3 frames
    assert encoder.forward_features(x).shape == (2, 128, 4, 3)
    assert encoder(x).shape == (2, 128)


@pytest.mark.parametrize(
    ("shape", "feature_shape"),
    [
        ((1, 128, 101), (4, 3)),
        ((1, 40, 32), (1, 1)),  # 40 -> 20 -> 10 -> 5 -> 2 -> 1
        ((2, 64, 7), (2, 1)),  # 7 -> 3 -> 1, then left unpooled
        ((3, 13, 500), (1, 15)),  # 13 -> 6 -> 3 -> 1 -> 1 -> 1
        ((1, 1, 1), (1, 1)),
        ((1, 2, 3), (1, 1)),
    ],
)
def test_shapes_for_several_input_sizes(shape, feature_shape):
    in_channels, n_features, length = shape
    encoder = PonsVGG(in_channels=in_channels, n_features=n_features, hidden_channels=16)
    x = torch.randn(3, in_channels, n_features, length)
    assert encoder.forward_features(x).shape == (3, 16, *feature_shape)
    assert encoder(x).shape == (3, encoder.out_dim) and encoder.out_dim == 16


@pytest.mark.parametrize("pooling", ["mean", "max"])
def test_global_pooling_and_width(pooling):
    torch.manual_seed(0)
    encoder = PonsVGG(n_features=32, hidden_channels=24, n_blocks=3, pooling=pooling).eval()
    x = torch.randn(2, 1, 32, 40)
    feature_map = encoder.forward_features(x)
    expected = feature_map.amax((2, 3)) if pooling == "max" else feature_map.mean((2, 3))
    torch.testing.assert_close(encoder(x), expected)
    assert encoder.out_dim == 24


def test_tiny_inputs_work_in_train_and_eval_mode():
    encoder = PonsVGG(n_features=None, hidden_channels=8)
    assert encoder(torch.randn(4, 1, 1, 1)).shape == (4, 8)  # BatchNorm needs > 1 value: B > 1
    encoder.eval()
    assert encoder(torch.randn(1, 1, 1, 1)).shape == (1, 8)
    assert encoder(torch.randn(1, 1, 3, 2)).shape == (1, 8)


def test_gradient_reaches_the_first_conv_and_the_input():
    torch.manual_seed(1)
    encoder = PonsVGG(n_features=32, hidden_channels=16)
    x = torch.randn(4, 1, 32, 40, requires_grad=True)
    encoder(x).pow(2).sum().backward()
    first_conv = encoder.blocks[0][0]
    assert first_conv.weight.grad is not None and first_conv.weight.grad.abs().sum() > 0
    for name, parameter in encoder.named_parameters():
        assert parameter.grad is not None, name
    assert x.grad.abs().sum() > 0


def test_eval_mode_is_deterministic_and_rows_independent():
    torch.manual_seed(2)
    encoder = PonsVGG(n_features=32, hidden_channels=16)
    encoder(torch.randn(8, 1, 32, 30))  # update the running statistics once
    encoder.eval()
    x = torch.randn(5, 1, 32, 30)
    first, second = encoder(x), encoder(x)
    torch.testing.assert_close(first, second, rtol=0, atol=0)
    torch.testing.assert_close(first[2:3], encoder(x[2:3]), rtol=1e-5, atol=1e-5)


def test_dropout_is_active_only_in_train_mode():
    torch.manual_seed(3)
    encoder = PonsVGG(n_features=32, hidden_channels=64, dropout=0.5)
    x = torch.randn(4, 1, 32, 30)
    torch.manual_seed(10)
    train_a = encoder(x)
    torch.manual_seed(11)
    train_b = encoder(x)
    assert (train_a == 0).any()  # dropped units
    assert not torch.equal(train_a, train_b)  # different masks
    # same batch statistics, no dropout: the train output is the dropped and rescaled one
    without = PonsVGG(n_features=32, hidden_channels=64, dropout=0.0)
    without.load_state_dict(encoder.state_dict())
    kept = train_a != 0
    torch.testing.assert_close(train_a[kept], 2 * without(x)[kept])
    encoder.eval()
    torch.testing.assert_close(encoder(x), encoder(x), rtol=0, atol=0)
    assert (encoder(x) != 0).all()


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match=r"\[B, 1, 64, L\].*n_features=64"):
        PonsVGG(n_features=64)(torch.randn(2, 1, 32, 10))
    with pytest.raises(ValueError, match=r"in_channels=2"):
        PonsVGG(in_channels=2)(torch.randn(2, 1, 32, 10))
    with pytest.raises(ValueError, match="pooling"):
        PonsVGG(pooling="flatten")
    with pytest.raises(ValueError, match="dropout"):
        PonsVGG(dropout=1.0)
    with pytest.raises(ValueError, match="pool"):
        PonsVGG(pool=[0, 2])
    with pytest.raises(ValueError, match="hidden_channels"):
        PonsVGG(hidden_channels=0)


def test_config_is_sized_from_the_frontend(compose_config):
    cfg = compose_config("train", ["encoder=pons_vgg", "frontend.n_mels=40"])
    method = build_method(cfg)
    assert isinstance(method.encoder, PonsVGG)
    assert method.encoder.in_channels == method.frontend.out_channels
    assert method.encoder.n_features == method.frontend.n_features == 40
    window = round(cfg.data.loader.clip_seconds * cfg.data.loader.sample_rate)
    features = method.frontend(torch.randn(2, window))
    assert method.embed(features).shape == (2, method.encoder.out_dim) == (2, 128)
