import copy

import pytest
import torch

from audiofsl.encoders import CRNN, Conv4
from audiofsl.encoders.conv_blocks import ConvStack, conv_block


def conv_weights(module):
    return [m.weight for m in module.modules() if isinstance(m, torch.nn.Conv2d)]


def test_weights_and_maps_are_channels_last_with_the_values_of_nchw():
    torch.manual_seed(0)
    stack = ConvStack(1, 32, 8, 3, pool=2).train()
    assert all(w.is_contiguous(memory_format=torch.channels_last) for w in conv_weights(stack))
    x = torch.randn(4, 1, 32, 20)
    out = stack(x)
    assert out.shape == (4, 8, 4, 2)
    assert out.is_contiguous(memory_format=torch.channels_last)

    nchw = copy.deepcopy(stack).to(memory_format=torch.contiguous_format)
    assert all(w.is_contiguous() for w in conv_weights(nchw))
    reference = nchw.blocks(x)  # the plain NCHW computation
    assert reference.is_contiguous()
    torch.testing.assert_close(out, reference, rtol=1e-5, atol=1e-5)
    out.square().sum().backward()
    reference.square().sum().backward()
    for got, expected in zip(conv_weights(stack), conv_weights(nchw), strict=True):
        torch.testing.assert_close(got.grad, expected.grad, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("encoder_class", [Conv4, CRNN])
def test_layout_survives_moves_and_loading_a_contiguous_state_dict(encoder_class):
    encoder = encoder_class(n_features=64).to("cpu", torch.float64)
    state = {k: v.contiguous() for k, v in encoder_class(n_features=64).state_dict().items()}
    encoder.load_state_dict(state)
    assert all(
        w.dtype == torch.float64 and w.is_contiguous(memory_format=torch.channels_last)
        for w in conv_weights(encoder)
    )
    for name, value in encoder.state_dict().items():
        torch.testing.assert_close(value, state[name].to(value.dtype))
    assert encoder(torch.randn(2, 1, 64, 40, dtype=torch.float64)).shape == (2, encoder.out_dim)


def test_block_equals_conv_bn_relu_then_pool_in_values_and_gradients():
    torch.manual_seed(1)
    block = conv_block(3, 6, pool=(3, 2)).train()
    conv, norm, pool, relu = block
    assert isinstance(pool, torch.nn.MaxPool2d) and isinstance(relu, torch.nn.ReLU)
    x = torch.randn(4, 3, 12, 10, requires_grad=True)
    out = block(x)
    reference = torch.nn.functional.max_pool2d(torch.relu(norm(conv(x))), (3, 2))
    torch.testing.assert_close(out, reference)
    weights = torch.randn_like(out)
    grads = torch.autograd.grad((out * weights).sum(), (x, conv.weight, norm.weight))
    expected = torch.autograd.grad((reference * weights).sum(), (x, conv.weight, norm.weight))
    for got, want in zip(grads, expected, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)
