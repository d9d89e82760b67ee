import pickle

import pytest
import torch
from torch.utils.data import DataLoader, Dataset

from audiofsl.samplers import EpisodeCollate, EpisodeSpec, EpisodicBatchSampler


class ToyClips(Dataset):
    def __init__(self, labels):
        self.labels = torch.as_tensor(labels)

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        audio = torch.full((8,), float(i), dtype=torch.float64)
        return {"audio": audio, "label": int(self.labels[i]), "index": i}


def items_for(dataset, indices):
    return [dataset[i] for i in indices]


def test_collate_relabels_and_keeps_class_ids():
    dataset = ToyClips([10, 10, 10, 4, 4, 4, 7, 7, 7])
    batch = EpisodeCollate(n_way=3, n_shot=1, n_query=2)(
        items_for(dataset, [6, 8, 7, 0, 1, 2, 5, 3, 4])
    )
    assert batch["audio"].shape == (9, 8) and batch["audio"].dtype == torch.float32
    assert torch.equal(batch["audio"][:, 0], torch.tensor([6, 8, 7, 0, 1, 2, 5, 3, 4.0]))
    assert batch["label"].tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    assert torch.equal(batch["label"], torch.arange(3).repeat_interleave(3))
    assert batch["class_id"].tolist() == [7, 7, 7, 10, 10, 10, 4, 4, 4]
    assert batch["index"].tolist() == [6, 8, 7, 0, 1, 2, 5, 3, 4]
    assert batch["label"].dtype == batch["class_id"].dtype == batch["index"].dtype == torch.long
    assert (batch["n_way"], batch["n_shot"], batch["n_query"]) == (3, 1, 2)
    assert all(type(batch[k]) is int for k in ("n_way", "n_shot", "n_query"))


def test_collate_is_picklable():
    collate = pickle.loads(pickle.dumps(EpisodeCollate.from_spec(EpisodeSpec(2, 1, 1))))
    dataset = ToyClips([0, 0, 1, 1])
    assert collate(items_for(dataset, [2, 3, 0, 1]))["class_id"].tolist() == [1, 1, 0, 0]


def test_collate_rejects_wrong_structure():
    dataset = ToyClips([0, 0, 1, 1, 2, 2])
    collate = EpisodeCollate(n_way=2, n_shot=1, n_query=1)
    with pytest.raises(ValueError, match="got 3 items"):
        collate(items_for(dataset, [0, 1, 2]))
    with pytest.raises(ValueError, match="not class-major"):
        collate(items_for(dataset, [0, 2, 1, 3]))
    with pytest.raises(ValueError, match="distinct classes"):
        collate(items_for(dataset, [0, 1, 1, 0]))
    items = items_for(dataset, [0, 1, 2, 3])
    items[3]["audio"] = torch.zeros(5)
    with pytest.raises(ValueError, match="different shapes"):
        collate(items)


def test_dataloader_with_sampler_yields_the_episodes():
    labels = torch.arange(4).repeat_interleave(5)
    spec = EpisodeSpec(n_way=3, n_shot=2, n_query=1, n_episodes=4)
    sampler = EpisodicBatchSampler(labels, spec, seed=1)
    loader = DataLoader(
        ToyClips(labels), batch_sampler=sampler, collate_fn=EpisodeCollate.from_spec(spec)
    )
    batches = list(loader)
    assert len(batches) == 4
    for batch, episode in zip(batches, sampler.episodes(0), strict=True):
        assert torch.equal(batch["index"], episode.reshape(-1))
        assert torch.equal(batch["class_id"], labels[episode.reshape(-1)])


def test_a_batch_of_episodes_is_relabelled_episode_by_episode():
    dataset = ToyClips([0, 0, 1, 1, 2, 2])
    collate = EpisodeCollate(n_way=2, n_shot=1, n_query=1, episodes_per_batch=2)
    batch = collate(items_for(dataset, [2, 3, 0, 1, 4, 5, 2, 3]))  # classes (1, 0), then (2, 1)
    assert batch["label"].tolist() == [0, 0, 1, 1, 0, 0, 1, 1]
    assert batch["class_id"].tolist() == [1, 1, 0, 0, 2, 2, 1, 1]
    assert batch["episodes_per_batch"] == 2
    with pytest.raises(ValueError, match="episodes_per_batch=2"):
        collate(items_for(dataset, [2, 3, 0, 1]))
    with pytest.raises(ValueError, match="distinct classes"):
        collate(items_for(dataset, [2, 3, 0, 1, 4, 5, 4, 5]))
