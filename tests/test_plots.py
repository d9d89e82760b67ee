"""Figures of test results, and the callback that writes them into a run directory."""

from __future__ import annotations

import logging
import math
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from data.sources.supervised_replicas import make_esc50, make_irmas
from lightning.pytorch.loggers import TensorBoardLogger
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from test_supervised_experiments import QUICK as SUPERVISED_QUICK

from audiofsl.eval import run_evaluation
from audiofsl.evaluation import test_plots as plotting
from audiofsl.evaluation.cache import CachedSplit
from audiofsl.evaluation.evaluator import ClassifierEvaluator, EvaluatedSplit
from audiofsl.evaluation.metrics import multi_label_metrics
from audiofsl.evaluation.plots import (
    confusion_matrix_figure,
    embedding_coordinates,
    embedding_map_figure,
    per_class_f1_figure,
    precision_recall_figure,
    save_figure,
)
from audiofsl.train import run_training

NAMES = ["dog", "rain", "siren", "bell"]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_confusion_matrix_is_the_count_of_each_true_and_predicted_pair_per_true_class():
    torch.manual_seed(0)
    probabilities = torch.rand(40, 4)
    labels = torch.randint(0, 3, (40,))  # class 3 has no clip
    figure = confusion_matrix_figure(probabilities, labels, NAMES)
    assert len(figure.axes) == 2  # the matrix and its colour bar
    shown = figure.axes[0].images[0].get_array().filled(np.nan)
    predicted = probabilities.argmax(-1)
    expected = np.zeros((4, 4))
    for true, guess in zip(labels.tolist(), predicted.tolist(), strict=True):
        expected[true, guess] += 1
    for row in range(4):
        total = expected[row].sum()
        expected[row] = expected[row] / total if total else np.nan
    np.testing.assert_allclose(shown, expected)
    assert [t.get_text() for t in figure.axes[0].get_yticklabels()] == NAMES


def test_per_class_f1_draws_a_bar_per_class_and_marks_undefined_ones():
    figure = per_class_f1_figure([0.5, math.nan, 0.25, 1.0], NAMES, title="F1 at 0.5")
    (axes,) = figure.axes
    assert [bar.get_width() for bar in axes.patches] == [0.5, 0.0, 0.25, 1.0]
    assert [t.get_text() for t in axes.texts] == [" 0.50", " n/a", " 0.25", " 1.00"]
    assert axes.lines[0].get_xdata()[0] == pytest.approx(1.75 / 3)  # macro over defined
    assert axes.get_title().startswith("F1 at 0.5 (macro F1 0.583")


def test_precision_recall_has_a_curve_per_class_with_a_positive_and_its_ap():
    torch.manual_seed(1)
    probabilities = torch.rand(30, 4)
    targets = (torch.rand(30, 4) > 0.6).float()
    targets[:, 2] = 0  # no positive: no curve
    figure = precision_recall_figure(probabilities, targets, NAMES)
    (axes,) = figure.axes
    assert len(axes.lines) == 3
    ap = multi_label_metrics(probabilities, targets)["ap_per_class"]
    legend = [t.get_text() for t in axes.get_legend().get_texts()]
    assert legend == [f"{NAMES[c]} (AP {ap[c]:.2f})" for c in (0, 1, 3)]
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        precision_recall_figure(probabilities * 3, targets, NAMES)


def test_pca_coordinates_are_the_centred_projection_on_the_top_two_singular_vectors():
    torch.manual_seed(2)
    embeddings = torch.randn(50, 6) @ torch.diag(torch.tensor([5.0, 3, 1, 1, 0.5, 0.1])) + 7
    coordinates = embedding_coordinates(embeddings, "pca")
    centred = embeddings.double().numpy() - embeddings.double().numpy().mean(0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    reference = centred @ vt[:2].T
    assert coordinates.shape == (50, 2)
    for k in range(2):  # singular vectors are defined up to sign
        sign = np.sign(reference[:, k] @ coordinates[:, k].double().numpy())
        np.testing.assert_allclose(coordinates[:, k].numpy(), sign * reference[:, k], atol=1e-4)
    one_dimensional = embedding_coordinates(torch.arange(5.0)[:, None])
    assert torch.equal(one_dimensional[:, 1], torch.zeros(5))


def test_embedding_map_scatters_each_class_present():
    torch.manual_seed(3)
    labels = torch.tensor([0, 0, 1, 1, 3, 3, 3])
    figure = embedding_map_figure(torch.randn(7, 5), labels, NAMES)
    (axes,) = figure.axes
    assert len(axes.collections) == 3
    assert [t.get_text() for t in axes.get_legend().get_texts()] == ["dog", "rain", "bell"]
    assert axes.get_xlabel().startswith("PC1")
    with pytest.raises(ValueError, match="choose one of"):
        embedding_map_figure(torch.randn(7, 5), labels, NAMES, method="umap")


def test_tsne_without_scikit_learn_raises_an_error_suggesting_pca(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn.manifold", None)  # as if not installed
    with pytest.raises(ImportError, match="method='pca'"):
        embedding_coordinates(torch.randn(20, 4), "tsne")
    with pytest.raises(ImportError, match="method='pca'"):
        plotting.TestPlots(embedding_map="tsne")  # at construction, before any training


def test_tsne_maps_where_scikit_learn_is_importable():
    pytest.importorskip("sklearn.manifold")
    coordinates = embedding_coordinates(torch.randn(12, 4), "tsne")
    assert coordinates.shape == (12, 2) and torch.isfinite(coordinates).all()


def test_save_figure_writes_a_png_into_new_folders(tmp_path):
    figure = per_class_f1_figure([0.5, 1.0], ["a", "b"])
    path = save_figure(figure, tmp_path / "plots" / "f1.png")
    assert path.read_bytes()[:8] == PNG_MAGIC
    assert not figure.axes  # closed


def _classifier_split() -> CachedSplit:
    """Six clips of 3 classes, the first two of two windows; logits [8, 3]."""
    torch.manual_seed(4)
    return CachedSplit(
        representations=torch.randn(8, 3),
        clip_of_window=torch.tensor([0, 0, 1, 1, 2, 3, 4, 5]),
        clip_labels=torch.tensor([0, 1, 2, 0, 1, 2]),
    )


def _fake_run(run_dir: Path, loggers: list | None = None) -> tuple:
    """A trainer without datamodule and a single-label classifier that was just tested."""
    trainer = SimpleNamespace(is_global_zero=True, loggers=loggers or [], global_step=3,
                              default_root_dir=str(run_dir), datamodule=None)  # fmt: skip
    evaluator = ClassifierEvaluator(clip_combination="mean")
    evaluator.last = EvaluatedSplit("test", _classifier_split())
    module = SimpleNamespace(evaluator=evaluator, class_names=None,
                             decision_threshold=lambda: None)  # fmt: skip
    return trainer, module


def test_the_callback_writes_pngs_and_tensorboard_images(tmp_path):
    logger = TensorBoardLogger(tmp_path, name="tensorboard", version="")
    trainer, module = _fake_run(tmp_path, [logger])
    plotting.TestPlots(embedding_map=None).on_test_end(trainer, module)
    written = sorted(p.name for p in (tmp_path / "plots").iterdir())
    assert written == ["confusion_matrix.png", "f1_per_class.png"]
    logger.experiment.flush()
    events = EventAccumulator(str(tmp_path / "tensorboard")).Reload()
    assert set(events.Tags()["images"]) == {"test/confusion_matrix", "test/f1_per_class"}


def test_a_failing_plot_is_a_warning_and_the_others_are_written(tmp_path, caplog):
    trainer, module = _fake_run(tmp_path)
    callback = plotting.TestPlots(dirpath=tmp_path / "out")  # no datamodule to embed with
    with caplog.at_level(logging.WARNING, logger="audiofsl.evaluation.test_plots"):
        callback.on_test_end(trainer, module)
    assert "test plot embedding_map failed" in caplog.text
    assert (tmp_path / "out" / "confusion_matrix.png").is_file()
    module.evaluator.last = None
    callback.on_test_end(trainer, module)  # nothing to plot: a warning, no exception
    assert "test plots skipped" in caplog.text


# Tiny runs: one epoch of a small Conv4 on short clips.
QUICK = [*SUPERVISED_QUICK, "callbacks.progress_bar=null", "callbacks.model_summary=null"]


def plot_files(cfg) -> set[str]:
    folder = Path(cfg.paths.output_dir) / "plots"
    files = {p.name for p in folder.iterdir()}
    assert all(p.read_bytes()[:8] == PNG_MAGIC for p in folder.iterdir())
    return files


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::UserWarning", "ignore::FutureWarning")
def test_a_single_label_classifier_run_writes_its_plots(compose_config, tmp_path):
    root = make_esc50(tmp_path / "data", clips_per_fold=2)
    overrides = ["+experiment=esc50_supervised", f"data.root={root}", *QUICK]
    cfg = compose_config("train", overrides, tmp_path / "cache")
    run_training(cfg)
    assert plot_files(cfg) == {"confusion_matrix.png", "f1_per_class.png", "embedding_map.png"}


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::UserWarning", "ignore::FutureWarning")
def test_the_multi_label_irmas_run_writes_its_plots(compose_config, tmp_path):
    root = make_irmas(tmp_path / "data")
    overrides = ["+experiment=irmas_supervised", f"data.root={root}", *QUICK,
                 "encoder=conv4", "sampler.batch_size=4",
                 "data.loader.eval_hop_seconds=0.25"]  # fmt: skip
    cfg = compose_config("train", overrides, tmp_path / "cache")
    run_training(cfg)
    assert plot_files(cfg) == {"f1_per_class.png", "precision_recall.png", "embedding_map.png"}


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::UserWarning", "ignore::FutureWarning")
def test_a_protonet_run_writes_its_embedding_map_and_eval_leaves_it(compose_config, tmp_path):
    overrides = ["+debug=fast", "data.n_classes=20", "data.clips_per_class=10",
                 "data.split.sizes=[10,5,5]", "frontend.n_mels=32",
                 "encoder.hidden_channels=16", "logger=csv", "trainer.max_epochs=1",
                 "callbacks.progress_bar=null", "callbacks.model_summary=null"]  # fmt: skip
    cfg = compose_config("train", overrides, tmp_path / "cache")
    run_training(cfg)
    assert plot_files(cfg) == {"embedding_map.png"}
    written = (Path(cfg.paths.output_dir) / "plots" / "embedding_map.png").stat().st_mtime_ns
    run_dir = cfg.paths.output_dir
    run_evaluation(compose_config("eval", [f"run_dir={run_dir}", "checkpoint=last"]))
    assert (Path(run_dir) / "plots" / "embedding_map.png").stat().st_mtime_ns == written
