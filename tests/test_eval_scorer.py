"""``python -m audiofsl.eval run_dir=RUN +scorer.<name>=<value>``: a run scored another way."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from omegaconf import OmegaConf
from test_entry_points import TINY

from audiofsl.eval import changed_scorer, run_evaluation
from audiofsl.evaluation import PrototypeScorer
from audiofsl.runs.composition import build_datamodule, load_run
from audiofsl.runs.measurements import read_measurements
from audiofsl.train import build_trainer, run_training

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning", "ignore::FutureWarning")

PROTOTYPES = {"_target_": "audiofsl.evaluation.PrototypeScorer", "distance": "euclidean",
              "transform": "none"}  # fmt: skip


def test_a_change_keeps_the_runs_other_scorer_settings():
    run_cfg = OmegaConf.create({"method": {"scorer": PROTOTYPES}})
    scorer = changed_scorer(run_cfg, OmegaConf.create({"transform": "center_l2"}))
    assert isinstance(scorer, PrototypeScorer)
    assert (scorer.distance, scorer.transform.mode) == ("euclidean", "center_l2")


def test_a_bad_value_names_the_setting_and_the_choices():
    run_cfg = OmegaConf.create({"method": {"scorer": PROTOTYPES}})
    with pytest.raises(ValueError, match=r"scorer=\{'transform': 'centre'\}.*center_l2"):
        changed_scorer(run_cfg, OmegaConf.create({"transform": "centre"}))


def test_a_method_without_a_scorer_is_named():
    run_cfg = OmegaConf.create({"method": {"_target_": "my.Method"}})
    with pytest.raises(ValueError, match="my.Method.*no scorer"):
        changed_scorer(run_cfg, OmegaConf.create({"transform": "l2"}))


def test_scorer_changes_are_refused_outside_episodes(compose_config, tmp_path):
    cfg = compose_config("eval", [f"run_dir={tmp_path}", "mode=probe", "+scorer.transform=l2"])
    with pytest.raises(ValueError, match="mode=episodes, not mode=probe"):
        run_evaluation(cfg)


@pytest.mark.slow
def test_simpleshot_scoring_centres_on_the_training_mean_then_normalises(compose_config, tmp_path):
    train_cfg = compose_config("train", TINY, tmp_path / "data")
    run_training(train_cfg)
    run_dir = Path(train_cfg.paths.output_dir)
    run_evaluation(compose_config("eval", [f"run_dir={run_dir}", "+scorer.transform=center_l2"]))
    entry = read_measurements(run_dir / "eval_metrics.json")["episodes/best/transform=center_l2"]
    assert entry["scorer"] == {"transform": "center_l2"}

    # The same tasks scored by hand: the raw cached embeddings, minus the run's training mean,
    # L2-normalised, nearest prototype with the run's distance.
    run_cfg, method, _ = load_run(run_dir)
    assert bool(method.train_mean_fitted)
    datamodule = build_datamodule(run_cfg, method.evaluation)
    trainer = build_trainer(
        OmegaConf.merge(run_cfg, {"trainer": {"logger": False}, "logger": None})
    )
    trainer.test(method, datamodule=datamodule, verbose=False)
    raw = method.evaluator.last.cached
    by_hand = F.normalize(raw.representations.float() - method.train_embedding_mean.float(), dim=-1)
    setting = method.evaluation.test_settings()[0]
    plain = PrototypeScorer(distance=run_cfg.head.distance, transform="none")
    expected = method.evaluation.evaluate(
        dataclasses.replace(raw, representations=by_hand), setting, plain
    )["acc"]
    assert entry["metrics"]["test/acc"] == pytest.approx(expected, abs=1e-6)
    untransformed = method.evaluation.evaluate(raw, setting, plain)["acc"]
    assert not torch.isclose(torch.tensor(expected), torch.tensor(untransformed), atol=1e-6)
