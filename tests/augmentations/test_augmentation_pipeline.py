import pytest
import torch
from torch import nn

from audiofsl.augmentations import AugmentationPipeline, SpecAugment
from audiofsl.frontends import LogMel


class AddOne(nn.Module):
    def forward(self, x):
        return x + 1


class Scale(nn.Module):
    def __init__(self):
        super().__init__()
        self.factor = nn.Parameter(torch.tensor(2.0))

    def forward(self, x):
        return x * self.factor


def test_repeat_views_is_view_major():
    x = torch.arange(12.0).view(3, 4)
    labels = torch.tensor([5, 6, 7])
    pipeline = AugmentationPipeline(n_views=2)
    out, out_labels = pipeline.repeat_views(x), pipeline.repeat_views(labels)
    assert out.shape == (6, 4)
    for v in range(2):
        for i in range(3):
            assert torch.equal(out[v * 3 + i], x[i])
            assert out_labels[v * 3 + i] == labels[i]
    assert AugmentationPipeline().repeat_views(x) is x


def test_empty_pipeline_is_identity():
    pipeline = AugmentationPipeline()
    x = torch.randn(2, 100)
    f = torch.randn(2, 1, 8, 8)
    assert torch.equal(pipeline.waveform(x), x)
    assert torch.equal(pipeline.spectrogram(f), f)
    assert AugmentationPipeline(waveform=None, spectrogram=None).n_views == 1


def test_modules_apply_in_order_and_are_registered():
    pipeline = AugmentationPipeline(waveform=[AddOne(), Scale()], spectrogram=Scale())
    x = torch.zeros(2, 5)
    torch.testing.assert_close(pipeline.waveform(x), torch.full((2, 5), 2.0))
    torch.testing.assert_close(
        pipeline.spectrogram(torch.ones(1, 1, 2, 2)), torch.full((1, 1, 2, 2), 2.0)
    )
    assert isinstance(pipeline.waveform_augmentations, nn.ModuleList)
    assert len(list(pipeline.parameters())) == 2
    assert "spectrogram_augmentations.0.factor" in pipeline.state_dict()


def test_forward_gives_different_views_of_each_clip():
    torch.manual_seed(0)
    frontend = LogMel(n_mels=32, normalization="per_example")
    pipeline = AugmentationPipeline(spectrogram=[SpecAugment(8, 8, 2, 2)], n_views=2)
    audio = torch.randn(3, 8000)
    out = pipeline(audio, frontend)
    assert out.shape == (6, 1, 32, 8000 // 512 + 1)
    clean = frontend(audio)
    for i in range(3):
        assert not torch.equal(out[i], out[3 + i])
        kept = (out[i] != 0) & (out[3 + i] != 0)
        torch.testing.assert_close(out[i][kept], clean[i][kept])


def test_rejects_bad_arguments():
    with pytest.raises(ValueError, match="n_views"):
        AugmentationPipeline(n_views=0)
    with pytest.raises(ValueError, match=r"spectrogram\[1\]"):
        AugmentationPipeline(spectrogram=[AddOne(), "specaugment"])


def test_keep_original_leaves_the_first_view_unaugmented():

    torch.manual_seed(0)
    frontend = LogMel(sample_rate=8000, n_fft=256, hop_length=128, n_mels=32)
    masks = SpecAugment(freq_mask_param=8, time_mask_param=4, p=1.0)
    pipeline = AugmentationPipeline(spectrogram=[masks], n_views=3, keep_original=True)
    audio = torch.randn(2, 4000)
    views = pipeline(audio, frontend)
    assert views.shape[0] == 6
    assert torch.equal(views[:2], frontend(audio))
    assert not torch.equal(views[2:4], frontend(audio))
    with pytest.raises(ValueError, match="keep_original"):
        AugmentationPipeline(n_views=1, keep_original=True)
