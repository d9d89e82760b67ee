"""A resident training split: the streamed path's batches, cut by index on the device."""

from __future__ import annotations

import pytest
import torch

from audiofsl.data import LoaderSettings
from audiofsl.data.clips import ClipDataset
from audiofsl.data.loaders import training_loader
from audiofsl.data.records import ClipRecord
from audiofsl.data.resident import (
    ResidentAudio,
    ResidentItems,
    use_resident,
    with_resident_audio,
)
from audiofsl.samplers import EpisodeSpec, MiniBatchSpec

RATE = 100
CLIP_SECONDS = 0.5  # 50 samples a window


def clip_dataset(
    grid16: bool = False, cache: bool = True, multi_label: bool = False
) -> ClipDataset:
    """Six classes of five clips; lengths 20..130 samples, so some are loop-padded."""
    generator = torch.Generator().manual_seed(3)
    records, audio = [], []
    for c in range(6):
        for i in range(5):
            length = 20 + 22 * ((c + i) % 6)
            wave = torch.rand(length, generator=generator) * 1.8 - 0.9
            if grid16:  # values a 16-bit file decodes to
                wave = (wave * 32768).round() / 32768
            labels = (f"c{c}", f"c{(c + 1) % 6}") if multi_label and i == 0 else ()
            records.append(ClipRecord(f"/clips/c{c}_{i}.wav", f"c{c}", labels=labels))
            audio.append(wave)
    classes = {f"c{c}": c for c in range(6)}
    return ClipDataset(records, classes, RATE, CLIP_SECONDS, crop="random", cache_audio=cache,
                       audio=audio if cache else None)  # fmt: skip


def test_windows_equal_the_streamed_crops_for_long_and_short_clips():
    dataset = clip_dataset()
    items = ResidentItems(dataset, ResidentAudio.from_dataset(dataset, "float32"))
    seeds = torch.randint(2**62, (len(dataset),), generator=torch.Generator().manual_seed(0))
    keys = [(i, int(seeds[i])) for i in range(len(dataset))]
    expected = torch.stack([dataset[key]["audio"] for key in keys])  # the loop: one by one
    resident = [items[key] for key in keys]
    index = torch.tensor([item["index"] for item in resident])
    offset = torch.tensor([item["crop_offset"] for item in resident])
    assert {dataset.num_samples(i) < 50 for i in range(len(dataset))} == {True, False}
    assert torch.equal(items.audio.windows(index, offset), expected)


@pytest.mark.parametrize("dtype, tolerance", [("int16", 0.0), ("bfloat16", 2**-8)])
def test_compact_stores_round_the_audio_by_their_precision(dtype, tolerance):
    dataset = clip_dataset(grid16=True)
    audio = ResidentAudio.from_dataset(dataset, dtype)
    assert audio.flat.dtype == getattr(torch, dtype)
    index = torch.arange(len(dataset))
    offset = torch.zeros(len(dataset), dtype=torch.long)
    expected = torch.stack([dataset.with_crop("start")[i]["audio"] for i in range(len(dataset))])
    windows = audio.windows(index, offset)
    assert windows.dtype == torch.float32
    # 16-bit values are stored exactly as int16; bfloat16 keeps 8 bits of mantissa.
    assert (windows - expected).abs().max() <= tolerance * expected.abs().max()


def test_int16_clamps_resampled_peaks_above_full_scale():
    dataset = clip_dataset()
    dataset._flat[0] = 1.25
    audio = ResidentAudio.from_dataset(dataset, "int16")
    assert int(audio.flat[0]) == 32767


def batches(loader, epochs=(0, 1)):
    out = []
    for epoch in epochs:
        loader.batch_sampler.set_epoch(epoch)
        out.extend(with_resident_audio(batch) for batch in loader)
    return out


@pytest.mark.parametrize(
    "spec", [EpisodeSpec(n_way=3, n_shot=2, n_query=1, n_episodes=4), MiniBatchSpec(batch_size=8)]
)
def test_loaders_give_the_streamed_batches(spec):
    dataset = clip_dataset(multi_label=isinstance(spec, MiniBatchSpec))
    streamed = training_loader(dataset, spec, LoaderSettings(RATE, CLIP_SECONDS), 7, None)
    resident_settings = LoaderSettings(RATE, CLIP_SECONDS, resident="always",
                                       resident_dtype="float32", num_workers=2)  # fmt: skip
    resident = training_loader(dataset, spec, resident_settings, 7, None)
    assert isinstance(resident.dataset, ResidentItems) and resident.num_workers == 0
    expected, got = batches(streamed), batches(resident)
    assert len(got) == len(expected) > 2
    for want, have in zip(expected, got, strict=True):
        assert set(have) == set(want)
        for key, value in want.items():
            if isinstance(value, torch.Tensor):
                assert torch.equal(have[key], value), key
            else:
                assert have[key] == value, key
    assert not torch.equal(expected[0]["audio"], expected[-1]["audio"])


def test_the_device_copy_is_made_once():
    audio = ResidentAudio.from_dataset(clip_dataset(), "int16")
    assert audio.to("cpu") is audio
    assert audio.to(torch.device("cpu"), non_blocking=True) is audio


def test_when_a_split_is_resident():
    dataset = clip_dataset()
    cpu = torch.device("cpu")
    assert use_resident(dataset, "always", "int16", 0.25, cpu)
    assert not use_resident(dataset, "never", "int16", 0.25, cpu)
    assert not use_resident(dataset, "auto", "int16", 0.25, cpu)  # auto: CUDA devices only
    assert not use_resident(dataset, "auto", "int16", 0.25, None)
    with pytest.raises(ValueError, match="cache_mb"):
        use_resident(clip_dataset(cache=False), "always", "int16", 0.25, cpu)
    with pytest.raises(ValueError, match="data.loader.resident="):
        use_resident(dataset, "yes", "int16", 0.25, cpu)


@pytest.mark.parametrize(
    "setting, match",
    [({"resident": "on"}, "data.loader.resident="),
     ({"resident_dtype": "float16"}, "resident_dtype"),
     ({"resident_fraction": 0.0}, "resident_fraction"),
     ({"resident_fraction": 1.5}, "resident_fraction")],
)  # fmt: skip
def test_bad_resident_settings_are_named(setting, match):
    with pytest.raises(ValueError, match=match):
        LoaderSettings(**setting)


def test_a_short_store_is_refused():
    with pytest.raises(ValueError, match="offsets"):
        ResidentAudio(torch.zeros(5), torch.tensor([0, 3, 6]), 4, 1.0)
    with pytest.raises(ValueError, match="at least one sample"):
        ResidentAudio(torch.zeros(5), torch.tensor([0, 0, 5]), 4, 1.0)


@pytest.mark.gpu
def test_cuda_batches_equal_the_streamed_cpu_batches():
    dataset = clip_dataset()
    spec = EpisodeSpec(n_way=3, n_shot=2, n_query=1, n_episodes=4)
    settings = LoaderSettings(RATE, CLIP_SECONDS, resident="auto", resident_dtype="float32")
    cuda = torch.device("cuda")
    resident = training_loader(dataset, spec, settings, 7, None, device=cuda)
    assert isinstance(resident.dataset, ResidentItems)
    streamed = training_loader(dataset, spec, LoaderSettings(RATE, CLIP_SECONDS), 7, None)
    for want, batch in zip(streamed, resident, strict=True):
        batch["resident_audio"] = batch["resident_audio"].to(cuda)
        audio = with_resident_audio(batch)["audio"]
        assert audio.device.type == "cuda"
        assert torch.equal(audio.cpu(), want["audio"])
