"""ContrastiveMethod: how views are made and what the step hands its losses."""

import pytest
import torch
from test_protonet_steps import training_batch
from torch import nn

from audiofsl.augmentations import AugmentationPipeline, Gain
from audiofsl.encoders import Conv4
from audiofsl.frontends import LogMel
from audiofsl.heads import LinearHead, ProjectionHead
from audiofsl.methods import ContrastiveMethod
from audiofsl.methods.contrastive import random_windows

pytestmark = pytest.mark.filterwarnings("ignore:.*self.log.*")


class Recorder(nn.Module):
    """A loss that keeps what it was given and returns a differentiable scalar."""

    def __init__(self, consumes=("views", "labels", "embeddings")):
        super().__init__()
        self.consumes = consumes
        self.seen = {}

    def forward(self, **outputs):
        self.seen = outputs
        return sum(v.float().sum() * 0 for v in outputs.values() if v.is_floating_point())


def small(window_seconds=None, n_views=2, classifier=None, loss=None, **kwargs):
    frontend = LogMel(n_mels=32, n_fft=256, hop_length=64, normalization="per_example")
    encoder = Conv4(n_features=32, hidden_channels=8)
    augmentation = AugmentationPipeline(waveform=[Gain(-6, 6, p=1.0)], n_views=n_views)
    return ContrastiveMethod(
        frontend, encoder, ProjectionHead(encoder.out_dim, (16,), 8),
        loss if loss is not None else Recorder(), window_seconds=window_seconds,
        classifier=classifier, n_classes=3 if classifier else None,
        augmentation=augmentation, **kwargs,
    )  # fmt: skip


def test_random_windows_are_slices_of_their_own_clip():
    torch.manual_seed(0)
    audio = torch.arange(4 * 50, dtype=torch.float32).reshape(4, 50)
    windows = random_windows(audio, 12, n_windows=3)
    assert windows.shape == (12, 12)
    for v in range(3):
        for i in range(4):
            row = windows[v * 4 + i]
            start = int(row[0] - audio[i, 0])
            assert 0 <= start <= 38 and torch.equal(row, audio[i, start : start + 12])
    starts = {int(windows[i, 0]) for i in range(12)}
    assert len(starts) > 4, "offsets are drawn per window"
    short = random_windows(torch.arange(5.0).unsqueeze(0), 8, n_windows=1)
    assert short.tolist() == [[0.0, 1.0, 2.0, 3.0, 4.0, 0.0, 1.0, 2.0]], "short clips loop"


def test_window_pairs_are_cut_on_the_device_and_go_through_the_frontend():
    torch.manual_seed(1)
    model = small(window_seconds=0.25, n_views=1)
    audio = torch.randn(3, 16000)
    batch = training_batch(model, {"audio": audio, "label": torch.tensor([0, 1, 2])})
    assert batch["n_views"] == 2
    assert batch["features"].shape[:3] == (6, 1, 32)
    assert batch["features"].shape[-1] == model.frontend(torch.zeros(1, 4000)).shape[-1]
    evaluation = model.on_after_batch_transfer({"audio": audio, "label": torch.zeros(3)}, 0)
    assert evaluation["features"].shape[0] == 3, "evaluation embeds whole clips"


def test_the_step_hands_view_major_projections_labels_and_logits():
    loss = Recorder(("views", "labels", "logits", "embeddings"))
    model = small(classifier=LinearHead, loss=loss)
    audio = torch.randn(4, 8000)
    labels = torch.tensor([0, 2, -1, 1])
    batch = training_batch(model, {"audio": audio, "label": labels})
    model.training_step(batch, 0)
    seen = loss.seen
    assert seen["views"].shape == (2, 4, 8)
    assert seen["labels"].tolist() == [0, 2, -1, 1] * 2
    assert seen["logits"].shape == (8, 3) and seen["embeddings"].shape == (8, model.encoder.out_dim)
    projected = model.projection(seen["embeddings"])
    assert torch.allclose(seen["views"].reshape(8, -1), projected, atol=1e-5)


def test_settings_that_cannot_work_are_errors():
    with pytest.raises(ValueError, match="n_views >= 2"):
        small(n_views=1)
    with pytest.raises(ValueError, match="use an augmentation with n_views=1"):
        small(window_seconds=1.0, n_views=2)
    with pytest.raises(ValueError, match="reads the classifier's logits"):
        small(loss=Recorder(("views", "logits")))
    with pytest.raises(ValueError, match="test_by='classifier'"):
        small(test_by="classifier")
    with pytest.raises(ValueError, match="n_classes must be an integer"):
        ContrastiveMethod(
            LogMel(n_mels=32), Conv4(n_features=32, hidden_channels=8),
            ProjectionHead(8 * 2, (), None), Recorder(), classifier=LinearHead,
            augmentation=AugmentationPipeline(n_views=2),
        )  # fmt: skip
