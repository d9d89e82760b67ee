"""Supervised experiments on replicas of the fold-based and official-split layouts."""

import json
from pathlib import Path

import pytest
from data.sources.supervised_replicas import make_esc50, make_fma, make_irmas, make_urbansound8k

from audiofsl.eval import run_evaluation
from audiofsl.runs.composition import build_method
from audiofsl.runs.results import collect_runs, summarize
from audiofsl.train import run_training

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning", "ignore::FutureWarning")
QUICK = [
    "trainer.max_epochs=1",
    "logger=csv",
    "frontend.n_mels=32",
    "encoder.hidden_channels=8",
    "sampler.batch_size=8",
    "data.loader.clip_seconds=0.5",
    "data.loader.eval_hop_seconds=0.5",
]


@pytest.mark.parametrize(
    "experiment", ["esc50_supervised", "us8k_supervised", "fma_supervised", "irmas_supervised"]
)
def test_supervised_overlays_build(compose_config, tmp_path, experiment):
    cfg = compose_config("train", [f"+experiment={experiment}", f"data.root={tmp_path}"])
    cfg.method.n_classes = 10
    method = build_method(cfg)
    assert method.evaluator.by_classifier


@pytest.mark.slow
def test_cross_validation_runs_give_a_mean_over_folds(compose_config, tmp_path):
    root = make_esc50(tmp_path / "data", clips_per_fold=2)
    for fold in (1, 2):
        overrides = ["+experiment=esc50_supervised", f"data.root={root}", *QUICK,
                     f"data.split.test_folds=[{fold}]"]  # fmt: skip
        cfg = compose_config("train", overrides, tmp_path / "cache")
        cfg.paths.output_dir = str(tmp_path / "runs" / f"fold{fold}")
        metrics = run_training(cfg)
        assert 0.0 <= metrics["test/acc"] <= 1.0 and metrics["test/acc_ci95"] >= 0.0
        assert json.loads((Path(cfg.paths.output_dir) / "metrics.json").read_text())
    (row,) = summarize(collect_runs([tmp_path / "runs"]))
    assert row["folds"] == ["[1]", "[2]"]


@pytest.mark.slow
@pytest.mark.parametrize("experiment", ["us8k_supervised", "fma_supervised"])
def test_other_supervised_experiments_run_on_replicas(compose_config, tmp_path, experiment):
    if experiment == "us8k_supervised":
        root = make_urbansound8k(tmp_path / "data")
    else:
        root = make_fma(tmp_path / "data")
    small = ["sampler.batch_size=4"] if experiment == "fma_supervised" else []  # 6 clips
    overrides = [f"+experiment={experiment}", f"data.root={root}", *QUICK, *small]
    cfg = compose_config("train", overrides, tmp_path / "cache")
    assert 0.0 <= run_training(cfg)["test/acc"] <= 1.0


@pytest.mark.slow
@pytest.mark.parametrize("loss", ["focal", "bce"])
def test_irmas_multi_label_training_reports_multi_label_metrics(compose_config, tmp_path, loss):
    """Single-label training clips, multi-label test excerpts scored window by window."""
    root = make_irmas(tmp_path / "data")
    overrides = ["+experiment=irmas_supervised", f"data.root={root}", *QUICK,
                 "encoder=conv4", f"loss={loss}", "sampler.batch_size=4",
                 "data.loader.clip_seconds=0.5", "data.loader.eval_hop_seconds=0.25"]  # fmt: skip
    if loss == "bce":
        overrides.append("method.positive_weights=auto")
    cfg = compose_config("train", overrides, tmp_path / "cache")
    metrics = run_training(cfg)
    for key in ("acc", "acc_ci95", "f1_macro", "f1_micro", "hamming", "map"):
        assert 0.0 <= metrics[f"test/{key}"] <= 1.0, key
    saved = (Path(cfg.paths.output_dir) / "config.yaml").read_text()
    if loss == "bce":  # the weights from the training label counts, stored with the run
        assert "positive_weights:\n  - " in saved
    again = run_evaluation(compose_config("eval", [f"run_dir={cfg.paths.output_dir}"]))
    assert again["test/map"] == pytest.approx(metrics["test/map"], abs=1e-6)


@pytest.mark.slow
def test_synthetic_multi_label_training_learns(compose_config, tmp_path):
    """Single-class training clips, multi-label mixtures as test clips: mAP above untrained."""
    tiny = ["+experiment=synthetic_multilabel", "data.n_classes=5", "data.clips_per_class=8",
            "data.mixtures=40", "frontend.n_mels=32", "encoder.hidden_channels=8",
            "sampler.batch_size=8", "method.optimizer.lr=0.01", "logger=csv"]  # fmt: skip
    metrics = {}
    for epochs in (0, 8):  # 0 epochs: the untrained encoder and classifier
        cfg = compose_config("train", [*tiny, f"trainer.max_epochs={epochs}"], tmp_path / "cache")
        cfg.paths.output_dir = str(tmp_path / f"epochs{epochs}")
        metrics[epochs] = run_training(cfg)
    for key in ("acc", "f1_macro", "hamming", "map"):
        assert 0.0 <= metrics[8][f"test/{key}"] <= 1.0, key
    # 2 or 3 of 5 labels: chance mAP is about 0.5 and the untrained one 0.55 here; trained 0.68
    assert metrics[8]["test/map"] > metrics[0]["test/map"] + 0.05
