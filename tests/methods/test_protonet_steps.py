from types import SimpleNamespace

import pytest
import torch

from audiofsl.augmentations import AugmentationPipeline, SpecAugment
from audiofsl.encoders import Conv4
from audiofsl.frontends import LogMel
from audiofsl.methods import ProtoNet, Supervised

pytestmark = pytest.mark.filterwarnings("ignore:.*self.log.*")

N_WAY, N_SHOT, N_QUERY = 3, 2, 2


def tone_episode(n_samples: int = 8000) -> dict:
    """An episode whose classes are pure tones at distinct pitches (class-major)."""
    t = torch.arange(n_samples) / 16000
    rows, labels = [], []
    for c, freq in enumerate((300.0, 1200.0, 4000.0)):
        for _ in range(N_SHOT + N_QUERY):
            phase = torch.rand(1) * 6.28
            rows.append(torch.sin(2 * torch.pi * freq * t + phase) + 0.05 * torch.randn_like(t))
            labels.append(c)
    return {
        "audio": torch.stack(rows),
        "label": torch.tensor(labels),
        "n_way": N_WAY,
        "n_shot": N_SHOT,
        "n_query": N_QUERY,
    }


def training_batch(model, batch: dict) -> dict:
    """The batch as the method sees it inside ``fit`` (the trainer is in training mode)."""
    model._trainer = SimpleNamespace(training=True)
    try:
        return model.on_after_batch_transfer(batch, 0)
    finally:
        model._trainer = None


def small_protonet(n_views: int = 1) -> ProtoNet:
    augmentation = AugmentationPipeline(spectrogram=[SpecAugment(8, 4, p=1.0)], n_views=n_views)
    frontend = LogMel(n_mels=32, normalization="per_example")
    encoder = Conv4(n_features=32, hidden_channels=16)
    return ProtoNet(frontend, encoder, augmentation=augmentation)


def test_evaluation_batches_only_go_through_the_frontend():
    model = small_protonet(n_views=2)
    batch = model.on_after_batch_transfer(tone_episode(), 0)
    assert batch["n_views"] == 1
    assert torch.equal(batch["features"], model.frontend(batch["audio"]))


def test_training_batches_are_repeated_to_views_and_augmented():
    model = small_protonet(n_views=2)
    batch = training_batch(model, tone_episode())
    clean = model.frontend(batch["audio"])
    assert batch["n_views"] == 2
    assert batch["features"].shape == (2 * clean.shape[0], *clean.shape[1:])
    assert not torch.equal(batch["features"][: clean.shape[0]], clean)


def test_protonet_training_step_learns_tones():
    torch.manual_seed(0)
    model = small_protonet(n_views=2)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for step in range(25):
        batch = training_batch(model, tone_episode())
        loss = model.training_step(batch, step)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert all(torch.isfinite(torch.tensor(losses)))
    assert sum(losses[-5:]) / 5 < 0.5 * sum(losses[:5]) / 5


def test_protonet_step_rejects_batch_that_is_not_the_episode_shape():
    model = small_protonet()
    batch = model.on_after_batch_transfer(tone_episode(), 0)
    batch["n_query"] = 3
    with pytest.raises(ValueError, match="n_query=3"):
        model.training_step(batch, 0)


def test_supervised_builds_its_linear_head_from_the_encoder_and_class_count():
    encoder = Conv4(n_features=32, hidden_channels=8)
    model = Supervised(LogMel(n_mels=32), encoder, n_classes=7)
    assert model.head(torch.randn(4, encoder.out_dim)).shape == (4, 7)
    with pytest.raises(ValueError, match="n_classes"):
        Supervised(LogMel(n_mels=32), encoder, n_classes=1)


def test_supervised_training_step_uses_every_view():
    torch.manual_seed(0)
    encoder = Conv4(n_features=32, hidden_channels=8)
    model = Supervised(
        LogMel(n_mels=32), encoder, n_classes=3, augmentation=AugmentationPipeline(n_views=2)
    )
    batch = training_batch(model, tone_episode())
    loss = model.training_step(batch, 0)
    loss.backward()
    assert torch.isfinite(loss)
    assert model._epoch_mean.count == 2 * batch["audio"].shape[0]
