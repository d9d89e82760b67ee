import math

import pytest
import torch

from audiofsl.encoders import EfficientNetB0


@pytest.fixture(scope="module")
def encoder():
    torch.manual_seed(0)
    return EfficientNetB0()


@pytest.mark.parametrize(("n_features", "length"), [(64, 51), (64, 17), (40, 100), (33, 1)])
def test_shapes_for_several_input_sizes(encoder, n_features, length):
    x = torch.randn(2, 1, n_features, length)
    expected_map = (2, 1280, math.ceil(n_features / 32), math.ceil(length / 32))
    assert encoder.forward_features(x).shape == expected_map
    assert encoder(x).shape == (2, 1280)
    assert encoder.out_dim == encoder.feature_channels == 1280


def test_three_channel_input_sets_the_stem():
    encoder = EfficientNetB0(in_channels=3)
    assert encoder.backbone.conv_stem.in_channels == 3
    assert encoder(torch.randn(2, 3, 64, 40)).shape == (2, 1280)
    with pytest.raises(RuntimeError):
        encoder(torch.randn(2, 1, 64, 40))


def test_gradients_reach_the_first_layer_and_the_input(encoder):
    encoder.train().zero_grad()
    x = torch.randn(2, 1, 64, 40, requires_grad=True)
    encoder(x).pow(2).sum().backward()
    stem = encoder.backbone.conv_stem.weight.grad
    assert stem is not None and stem.abs().sum() > 0
    assert x.grad.abs().sum() > 0


def test_max_and_mean_pooling_reduce_the_feature_map(encoder):
    max_pooled = encoder.eval()
    mean_pooled = EfficientNetB0(pooling="mean").eval()
    mean_pooled.load_state_dict(max_pooled.state_dict())
    x = torch.randn(2, 1, 64, 70)
    with torch.no_grad():
        feature_map = max_pooled.forward_features(x)  # [2, 1280, 2, 3]
        manual_max = feature_map.flatten(2).max(dim=-1).values
        manual_mean = feature_map.flatten(2).sum(dim=-1) / feature_map[0, 0].numel()
        torch.testing.assert_close(max_pooled(x), manual_max)
        torch.testing.assert_close(mean_pooled(x), manual_mean, rtol=1e-5, atol=1e-6)
    assert max_pooled.pooling == "max" and not torch.allclose(manual_max, manual_mean)


def test_eval_mode_is_deterministic_and_rows_independent(encoder):
    encoder.eval()
    x = torch.randn(3, 1, 64, 40)
    with torch.no_grad():
        first, second = encoder(x), encoder(x)
        single = encoder(x[1:2])
    torch.testing.assert_close(first, second, rtol=0, atol=0)
    torch.testing.assert_close(first[1:2], single, rtol=1e-4, atol=1e-5)


def test_dropout_acts_in_training_only():
    torch.manual_seed(2)
    encoder = EfficientNetB0(drop_rate=0.5)
    x = torch.randn(2, 1, 64, 40)
    encoder.eval()
    with torch.no_grad():
        reference = encoder(x)
        encoder.dropout.train()  # the backbone's BatchNorm stays in eval mode
        dropped = encoder(x)
    assert (dropped == 0).any() and torch.isfinite(dropped).all()
    zeroed = dropped == 0
    torch.testing.assert_close(dropped[~zeroed], 2 * reference[~zeroed])


def test_cpu_bfloat16_autocast_gives_finite_embeddings(encoder):
    encoder.eval()
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        out = encoder(torch.randn(2, 1, 32, 32))
    assert out.shape == (2, 1280) and torch.isfinite(out.float()).all()


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match="pooling"):
        EfficientNetB0(pooling="attention")
    with pytest.raises(ValueError, match="drop_rate"):
        EfficientNetB0(drop_rate=1.0)
