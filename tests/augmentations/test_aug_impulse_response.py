import pytest
import torch
import torch.nn.functional as F
from aug_signals import SAMPLE_RATE

from audiofsl.augmentations import ImpulseResponse
from audiofsl.augmentations.impulse_response import fft_convolve


def direct_convolution(x, h):
    """Per-example reference: full linear convolution cut to the input length."""
    out = []
    for row in range(x.shape[0]):
        kernel = h[row].flip(0)[None, None]
        full = F.conv1d(F.pad(x[row][None, None], (h.shape[1] - 1, 0)), kernel)
        out.append(full[0, 0])
    return torch.stack(out)


def test_fft_convolution_matches_direct_convolution():
    torch.manual_seed(0)
    x, h = torch.randn(4, 1000), torch.randn(4, 300)
    torch.testing.assert_close(fft_convolve(x, h), direct_convolution(x, h), atol=1e-4, rtol=0)


def test_responses_are_drawn_per_example_and_applied(ir_folder):
    torch.manual_seed(1)
    x = torch.randn(16, 2000)
    ir = ImpulseResponse(ir_folder, SAMPLE_RATE, normalize=False, p=1.0)
    assert ir.responses.shape == (2, 800)  # delayed (400, padded) and echo (800)
    out = ir(x)
    chosen = ir.last_params["response"]
    assert set(chosen.tolist()) == {0, 1}
    expected = direct_convolution(x, ir.responses[chosen])
    torch.testing.assert_close(out, expected, atol=1e-4, rtol=0)
    delayed = chosen == 0
    torch.testing.assert_close(out[delayed, 100:], x[delayed, :-100], atol=1e-5, rtol=0)


def test_normalize_keeps_the_rms(ir_folder):
    x = torch.randn(6, 3000)
    ir = ImpulseResponse(ir_folder, SAMPLE_RATE)
    out = ir.apply_params(x, {"response": torch.tensor([1] * 6)})
    torch.testing.assert_close(out.square().mean(-1), x.square().mean(-1), rtol=1e-4, atol=0)


def test_compensate_delay_starts_each_response_at_its_peak(ir_folder):
    x = torch.randn(2, 1000)
    ir = ImpulseResponse(ir_folder, SAMPLE_RATE, compensate_delay=True, normalize=False)
    out = ir.apply_params(x, {"response": torch.tensor([0, 0])})
    torch.testing.assert_close(out, x, atol=1e-6, rtol=0)


def test_errors_name_the_folder(tmp_path):
    with pytest.raises(ValueError, match="ImpulseResponse: folder"):
        ImpulseResponse(tmp_path, SAMPLE_RATE)


def test_fewer_examples_than_responses_gives_the_same_result():
    torch.manual_seed(2)
    x, h = torch.randn(3, 500), torch.randn(5, 64)
    index = torch.tensor([4, 0, 4])
    torch.testing.assert_close(
        fft_convolve(x, h, index), direct_convolution(x, h[index]), atol=1e-4, rtol=0
    )
    many = torch.randint(0, 5, (12,))
    x = torch.randn(12, 500)
    torch.testing.assert_close(
        fft_convolve(x, h, many), direct_convolution(x, h[many]), atol=1e-4, rtol=0
    )
