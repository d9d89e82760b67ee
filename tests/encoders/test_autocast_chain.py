import pytest
import torch

from audiofsl.augmentations import SpecAugment
from audiofsl.encoders import Conv4
from audiofsl.frontends import LogMel
from audiofsl.heads import PrototypeHead
from audiofsl.losses import PrototypicalLoss


def run_chain(device: str, dtype: torch.dtype, n_mels: int = 64):
    torch.manual_seed(0)
    frontend = LogMel(n_mels=n_mels, normalization="per_example").to(device)
    augment = SpecAugment(freq_mask_param=8, time_mask_param=4)
    encoder = Conv4(n_features=n_mels, hidden_channels=16).to(device)
    audio = torch.randn(6, 8000, device=device)
    reference_features = frontend(audio)
    with torch.autocast(device_type=device, dtype=dtype):
        features = frontend(audio)
        embeddings = encoder(augment(features))
        logits = PrototypeHead()(embeddings[:3].view(3, 1, -1), embeddings[3:].view(3, 1, -1))
        loss = PrototypicalLoss()(logits, torch.arange(3, device=device))
    loss.backward()
    return reference_features, features, embeddings, logits, loss, encoder


def check_chain(device: str, dtype: torch.dtype):
    reference, features, embeddings, logits, loss, encoder = run_chain(device, dtype)
    assert features.dtype == torch.float32 and features.device.type == device
    torch.testing.assert_close(features, reference, rtol=1e-5, atol=1e-4)
    assert embeddings.dtype == dtype  # the encoder does run in reduced precision
    assert logits.dtype == torch.float32 and loss.dtype == torch.float32
    assert torch.isfinite(loss)
    grads = [p.grad for p in encoder.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)


def test_chain_under_cpu_autocast():
    check_chain("cpu", torch.bfloat16)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_chain_on_cuda_under_autocast():
    check_chain("cuda", torch.float16)
