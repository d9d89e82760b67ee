"""Augmentation presets compose from conf/augmentation/ and run on a batch."""

import hydra
import pytest
import torch

from audiofsl.augmentations import AugmentationPipeline, OneOf, PitchShift, Shift, TimeStretch
from audiofsl.frontends import LogMel


@pytest.mark.parametrize("preset", ["clar", "magcil_wave", "specaugment", "none"])
def test_preset_composes_and_keeps_shape_and_dtype(compose_config, preset):
    cfg = compose_config("train", [f"augmentation={preset}"])
    pipeline = hydra.utils.instantiate(cfg.augmentation)
    assert isinstance(pipeline, AugmentationPipeline)
    torch.manual_seed(0)
    audio = 0.1 * torch.randn(4, 16000)
    out = pipeline.waveform(audio)
    assert out.shape == audio.shape and out.dtype == audio.dtype and torch.isfinite(out).all()
    if preset in ("clar", "magcil_wave"):
        assert not torch.equal(out, audio)


def test_clar_preset_settings(compose_config):
    cfg = compose_config("train", ["augmentation=clar", "data.loader.sample_rate=8000"])
    pipeline = hydra.utils.instantiate(cfg.augmentation)
    transforms = list(pipeline.waveform_augmentations)
    assert [type(t).__name__ for t in transforms] == [
        "PitchShift", "OneOf", "Fade", "TimeMasking", "Shift", "TimeStretch"
    ]  # fmt: skip
    assert all(t.p == 0.5 for t in transforms)
    pitch, noise, shift, stretch = transforms[0], transforms[1], transforms[4], transforms[5]
    assert isinstance(pitch, PitchShift) and (pitch.min_semitones, pitch.max_semitones) == (-15, 15)
    assert isinstance(noise, OneOf) and len(noise.transforms) == 2
    assert isinstance(shift, Shift) and shift.sample_rate == 8000 and shift.unit == "seconds"
    assert isinstance(stretch, TimeStretch) and (stretch.min_rate, stretch.max_rate) == (0.5, 1.5)
    assert pipeline.n_views == 1


def test_views_of_one_clip_differ(compose_config):
    cfg = compose_config("train", ["augmentation=magcil_wave", "augmentation.n_views=2"])
    pipeline = hydra.utils.instantiate(cfg.augmentation)
    torch.manual_seed(1)
    audio = 0.1 * torch.randn(3, 16000)
    features = pipeline(audio, LogMel(n_mels=32))
    assert features.shape[0] == 6
    for i in range(3):
        assert not torch.equal(features[i], features[3 + i])


def test_preset_runs_under_autocast(compose_config):
    pipeline = hydra.utils.instantiate(compose_config("train", ["augmentation=clar"]).augmentation)
    for module in pipeline.waveform_augmentations:
        module.p = 1.0
    audio = (0.1 * torch.randn(4, 16000)).to(torch.bfloat16)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = pipeline.waveform(audio)
    assert out.dtype == torch.bfloat16 and torch.isfinite(out.float()).all()
