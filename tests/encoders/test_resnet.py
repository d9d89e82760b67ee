import math

import pytest
import torch
from torch import nn

from audiofsl.encoders import ResNet1D18, ResNet18


@pytest.fixture(scope="module")
def resnet2d():
    torch.manual_seed(0)
    return ResNet18(in_channels=3)


@pytest.fixture(scope="module")
def resnet1d():
    torch.manual_seed(0)
    return ResNet1D18()


@pytest.mark.parametrize(("n_features", "length"), [(128, 63), (40, 100), (20, 1)])
def test_resnet18_shapes_for_several_input_sizes(resnet2d, n_features, length):
    x = torch.randn(2, 3, n_features, length)
    expected_map = (2, 512, math.ceil(n_features / 32), math.ceil(length / 32))
    assert resnet2d.forward_features(x).shape == expected_map
    assert resnet2d(x).shape == (2, 512)
    assert resnet2d.out_dim == resnet2d.feature_channels == 512


@pytest.mark.parametrize("in_channels", [1, 2, 3])
def test_resnet18_takes_any_channel_count(in_channels):
    encoder = ResNet18(in_channels=in_channels)
    assert encoder.backbone.conv1.in_channels == in_channels
    assert encoder(torch.randn(2, in_channels, 64, 40)).shape == (2, 512)


def test_resnet18_gradients_reach_the_first_layer(resnet2d):
    resnet2d.train().zero_grad()
    resnet2d(torch.randn(2, 3, 64, 40)).pow(2).sum().backward()
    stem = resnet2d.backbone.conv1.weight.grad
    assert stem is not None and stem.abs().sum() > 0


def test_resnet18_mean_and_max_pooling_reduce_the_feature_map(resnet2d):
    mean_pooled = resnet2d.eval()
    max_pooled = ResNet18(in_channels=3, pooling="max").eval()
    max_pooled.load_state_dict(mean_pooled.state_dict())
    x = torch.randn(2, 3, 64, 40)
    with torch.no_grad():
        feature_map = mean_pooled.forward_features(x)  # [2, 512, 2, 2]
        manual_mean = feature_map.flatten(2).sum(dim=-1) / feature_map[0, 0].numel()
        torch.testing.assert_close(mean_pooled(x), manual_mean, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(max_pooled(x), feature_map.flatten(2).max(dim=-1).values)


def test_resnet1d18_is_one_dimensional_with_a_kernel_9_stem(resnet1d):
    two_d = (nn.Conv2d, nn.BatchNorm2d, nn.MaxPool2d, nn.AvgPool2d)
    two_d += (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)
    assert not any(isinstance(module, two_d) for module in resnet1d.modules())
    convs = [module for module in resnet1d.modules() if isinstance(module, nn.Conv1d)]
    assert convs[0].kernel_size == (9,) and convs[0].in_channels == 1
    assert {conv.kernel_size for conv in convs[1:]} == {(3,), (1,)}  # blocks, shortcuts
    assert sum(isinstance(m, nn.BatchNorm1d) for m in resnet1d.modules()) == len(convs)
    assert any(isinstance(m, nn.MaxPool1d) for m in resnet1d.modules())
    assert any(isinstance(m, nn.AdaptiveAvgPool1d) for m in resnet1d.modules())
    # ResNet-18: stem + 8 blocks x 2 convs + 3 shortcuts; same count as timm's 2-D one.
    assert len(convs) == 1 + 16 + 3
    n_params = sum(p.numel() for p in resnet1d.parameters())
    assert 3.8e6 < n_params < 4.0e6  # ~ the 2-D ResNet-18's 11.2M with 3 taps instead of 3x3


@pytest.mark.parametrize("length", [4000, 333, 1])
def test_resnet1d18_shapes_for_several_lengths(resnet1d, length):
    x = torch.randn(2, 1, 1, length)
    assert resnet1d.forward_features(x).shape == (2, 512, 1, math.ceil(length / 32))
    assert resnet1d(x).shape == (2, 512)
    assert resnet1d.out_dim == resnet1d.feature_channels == 512


def test_resnet1d18_folds_feature_rows_into_channels():
    encoder = ResNet1D18(in_channels=2, n_features=40, first_kernel=5, kernel_size=9)
    assert encoder.stem[0].in_channels == 80 and encoder.stem[0].kernel_size == (5,)
    assert encoder.stages[0][0].conv1.kernel_size == (9,)
    assert encoder.forward_features(torch.randn(2, 2, 40, 100)).shape == (2, 512, 1, 4)
    with pytest.raises(ValueError, match=r"\[B, 2, 40, T\]"):
        encoder(torch.randn(2, 1, 80, 100))


def test_resnet1d18_gradients_reach_the_first_layer_and_the_input(resnet1d):
    resnet1d.train().zero_grad()
    x = torch.randn(2, 1, 1, 4000, requires_grad=True)
    resnet1d(x).pow(2).sum().backward()
    stem = resnet1d.stem[0].weight.grad
    assert stem is not None and stem.abs().sum() > 0
    assert x.grad.abs().sum() > 0


def test_resnet1d18_mean_and_max_pooling_reduce_the_feature_map(resnet1d):
    mean_pooled = resnet1d.eval()
    max_pooled = ResNet1D18(pooling="max").eval()
    max_pooled.load_state_dict(mean_pooled.state_dict())
    x = torch.randn(2, 1, 1, 2000)
    with torch.no_grad():
        feature_map = mean_pooled.forward_features(x)  # [2, 512, 1, 63]
        manual_mean = feature_map[:, :, 0].sum(dim=-1) / feature_map.shape[-1]
        torch.testing.assert_close(mean_pooled(x), manual_mean, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(max_pooled(x), feature_map[:, :, 0].max(dim=-1).values)


@pytest.mark.parametrize("name", ["resnet2d", "resnet1d"])
def test_eval_mode_is_deterministic_and_rows_independent(request, name):
    encoder = request.getfixturevalue(name).eval()
    shape = (3, 3, 64, 40) if name == "resnet2d" else (3, 1, 1, 4000)
    x = torch.randn(*shape)
    with torch.no_grad():
        first, second, single = encoder(x), encoder(x), encoder(x[1:2])
    torch.testing.assert_close(first, second, rtol=0, atol=0)
    torch.testing.assert_close(first[1:2], single, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", ["resnet2d", "resnet1d"])
def test_cpu_bfloat16_autocast_gives_finite_embeddings(request, name):
    encoder = request.getfixturevalue(name).eval()
    shape = (2, 3, 64, 40) if name == "resnet2d" else (2, 1, 1, 4000)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        out = encoder(torch.randn(*shape))
    assert out.shape == (2, 512) and torch.isfinite(out.float()).all()


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match="pooling"):
        ResNet18(pooling="attention")
    with pytest.raises(ValueError, match="pooling"):
        ResNet1D18(pooling="attention")
    with pytest.raises(ValueError, match="first_kernel"):
        ResNet1D18(first_kernel=8)
    with pytest.raises(ValueError, match="kernel_size"):
        ResNet1D18(kernel_size=0)
