"""The parts the method base composes: device-side features, the training mean, loss logging,
normalisation fitting."""

from types import SimpleNamespace

import pytest
import torch

from audiofsl.augmentations import AugmentationPipeline, SpecAugment
from audiofsl.augmentations.views import evaluation_features
from audiofsl.encoders import Conv4
from audiofsl.frontends import LogMel
from audiofsl.frontends.base import NORMALIZATION_CLIPS, fit_normalization_from
from audiofsl.heads import ViewAttention
from audiofsl.losses.composite import logged_terms
from audiofsl.methods import ProtoNet
from audiofsl.methods.train_mean import EpochMean
from audiofsl.methods.view_attention import ViewAttentionProtoNet

pytestmark = pytest.mark.filterwarnings("ignore:.*self.log.*")


def noise(n: int = 4, samples: int = 8000, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, samples, generator=torch.Generator().manual_seed(seed))


def augmenting(n_views: int = 3) -> AugmentationPipeline:
    return AugmentationPipeline(spectrogram=[SpecAugment(8, 4, p=1.0)], n_views=n_views)


def test_seeded_views_repeat_for_a_seed_and_leave_the_global_random_state_alone():
    pipeline, frontend, audio = augmenting(), LogMel(n_mels=32), noise()
    torch.manual_seed(11)
    state = torch.get_rng_state()
    first = pipeline.seeded(audio, frontend, seed=5)
    assert torch.equal(torch.get_rng_state(), state)
    assert torch.equal(first, pipeline.seeded(audio, frontend, seed=5))
    assert not torch.equal(first, pipeline.seeded(audio, frontend, seed=6))
    assert first.shape[0] == 3 * audio.shape[0]


def test_evaluation_features_give_views_only_when_asked():
    pipeline, frontend, audio = augmenting(), LogMel(n_mels=32), noise()
    plain = evaluation_features({"audio": audio, "index": torch.arange(4)}, frontend, pipeline,
                                views=False)  # fmt: skip
    assert plain["n_views"] == 1 and torch.equal(plain["features"], frontend(audio))
    batch = {"audio": audio, "index": torch.arange(8, 12)}
    viewed = evaluation_features(dict(batch), frontend, pipeline, views=True)
    again = evaluation_features(dict(batch), frontend, pipeline, views=True)
    assert viewed["n_views"] == 3 and torch.equal(viewed["features"], again["features"])
    shifted = evaluation_features({"audio": audio, "index": torch.arange(9, 13)}, frontend,
                                  pipeline, views=True)  # fmt: skip
    assert not torch.equal(viewed["features"], shifted["features"])  # seeded by the first item


def test_view_attention_evaluates_on_seeded_fused_views():
    frontend, encoder = LogMel(n_mels=32), Conv4(n_features=32, hidden_channels=8)
    model = ViewAttentionProtoNet(frontend, encoder, augmentation=augmenting(),
                                  attention=ViewAttention(encoder.out_dim, 3))  # fmt: skip
    plain = ProtoNet(LogMel(n_mels=32), Conv4(n_features=32, hidden_channels=8))
    assert model.evaluator.views and not plain.evaluator.views
    model.eval()
    batch = model.on_after_batch_transfer({"audio": noise(), "index": torch.arange(4)}, 0)
    assert batch["n_views"] == 3
    assert model.representation(batch).shape == (4, 3 * encoder.out_dim)


def test_the_epoch_mean_is_the_mean_of_the_tracked_embeddings():
    tracker = EpochMean(3)
    mean, fitted = torch.zeros(3), torch.zeros((), dtype=torch.bool)
    tracker.commit(mean, fitted)
    assert not fitted  # nothing tracked yet
    first, second = torch.randn(5, 3), torch.randn(2, 3)
    tracker.add(first)
    tracker.add(second)
    tracker.commit(mean, fitted)
    assert fitted and torch.allclose(mean, torch.cat([first, second]).mean(0))
    tracker.reset()
    tracker.add(second)
    tracker.commit(mean, fitted)
    assert torch.allclose(mean, second.mean(0))


def test_a_method_keeps_the_training_mean_in_its_state():
    model = ProtoNet(LogMel(n_mels=32), Conv4(n_features=32, hidden_channels=8))
    assert model.fitted_train_mean() is None
    model.on_train_epoch_start()
    embeddings = torch.randn(6, model.encoder.out_dim)
    model.track_train_embeddings(embeddings)
    model.on_validation_epoch_start()
    assert torch.allclose(model.fitted_train_mean(), embeddings.mean(0))
    state = model.state_dict()
    assert torch.equal(state["train_embedding_mean"], model.fitted_train_mean())


def test_one_loss_term_is_logged_as_the_total_several_each_by_name():
    total, cpl = torch.tensor(2.0), torch.tensor(0.5)
    assert logged_terms({"loss": total, "cross_entropy": total}) == {"train/loss": total}
    assert logged_terms({"loss": total, "cross_entropy": total, "cpl": cpl}) == {
        "train/loss": total, "train/loss_cross_entropy": total, "train/loss_cpl": cpl
    }  # fmt: skip


def test_global_normalisation_is_fitted_from_the_datamodules_statistics_clips():
    asked = []

    def statistics_dataloader(n_clips):
        asked.append(n_clips)
        return [noise(seed=1), noise(seed=2)]

    datamodule = SimpleNamespace(statistics_dataloader=statistics_dataloader)
    frontend = LogMel(n_mels=32, normalization="global")
    fit_normalization_from(frontend, datamodule)
    assert asked == [NORMALIZATION_CLIPS] and not frontend.needs_fitting
    fit_normalization_from(frontend, datamodule)  # fitted once only
    fit_normalization_from(LogMel(n_mels=32, normalization="per_example"), datamodule)
    assert asked == [NORMALIZATION_CLIPS]
