import torch

from audiofsl.data import ClipDataset, ClipRecord
from audiofsl.samplers import WithCropSeeds


def test_each_index_gets_a_seed_and_passes_differ_but_replay():
    batches = [[0, 1, 2], [3, 4, 5]]
    first = WithCropSeeds(batches, seed=3)
    pass_one, pass_two = list(first), list(first)
    assert [[i for i, _ in b] for b in pass_one] == batches
    assert pass_one != pass_two  # a new pass draws new crop seeds
    replay = WithCropSeeds(batches, seed=3)
    assert list(replay) == pass_one and list(replay) == pass_two
    assert len(first) == 2


def test_seeded_items_give_reproducible_random_crops():
    clip = torch.arange(1000, dtype=torch.float32)
    records = [ClipRecord(path="clip.wav", class_name="a")]
    dataset = ClipDataset(
        records, {"a": 0}, 100, 1.0, crop="random", cache_audio=True, audio=[clip / 1000]
    )
    crops = [dataset[(0, seed)]["audio"] for seed in (7, 7, 8)]
    assert crops[0].shape == (100,)
    assert torch.equal(crops[0], crops[1])
    assert not torch.equal(crops[0], crops[2])
    # a contiguous window of the clip
    assert torch.allclose(crops[0].diff(), torch.full((99,), 1e-3), atol=1e-6)
