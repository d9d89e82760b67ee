"""What a run learns from its data (DataFacts): read once from the set-up splits, written into
the stored config, applied to the evaluation protocol."""

import dataclasses

import torch
from omegaconf import OmegaConf

from audiofsl.data import DataFacts
from audiofsl.evaluation import EpisodeSettings, EvaluationProtocol
from audiofsl.losses import BCEWithLogitsLoss
from audiofsl.runs.composition import (
    adjusted_evaluation,
    build_datamodule,
    build_evaluation,
    record_data_facts,
)

# Validation and test classes of 12 clips: their 5-shot 15-query tasks are lowered to 7 queries.
SMALL = ["data.n_classes=16", "data.clips_per_class=12", "data.split.sizes=[6,5,5]"]


def test_the_facts_are_read_from_the_set_up_splits(compose_config, tmp_path):
    cfg = compose_config("train", SMALL, tmp_path / "data")
    datamodule = build_datamodule(cfg)
    datamodule.prepare_data()
    facts = datamodule.data_facts()
    train = datamodule.train_set
    assert facts.class_names == tuple(train.class_names) and facts.n_classes == 6
    assert facts.label_counts == tuple(train.multi_hot().sum(0).long().tolist())
    assert facts.n_train_clips == len(train) == 72
    assert facts.split_classes == datamodule.split_class_names()
    assert dict(facts.adjusted_settings) == datamodule.adjusted_settings
    assert facts.adjusted_settings["evaluation.test.0.n_query"] == 7


def test_positive_weights_from_counts_equal_those_from_the_multi_hot_labels():
    g = torch.Generator().manual_seed(0)
    targets = (torch.rand(50, 7, generator=g) > 0.7).float()
    targets[:, 3] = 0  # a class without positives
    targets[:, 5] = 1  # a class always present
    from_counts = BCEWithLogitsLoss.weights_from_counts(targets.sum(0).long(), 50)
    assert torch.equal(from_counts, BCEWithLogitsLoss.positive_weights(targets))


def facts(**changes) -> DataFacts:
    splits = {"train": ["a", "b", "c"], "val": ["d", "e"], "test": None}
    values = dict(class_names=("a", "b", "c"), label_counts=(4, 1, 0), n_train_clips=5,
                  split_classes=splits)  # fmt: skip
    return DataFacts(**{**values, **changes})


def test_recorded_facts_are_what_the_stored_config_rebuilds_the_run_from():
    cfg = OmegaConf.create({
        "method": {"n_classes": None, "positive_weights": "auto"},
        "sampler": {"n_way": 5},
        "evaluation": {"val": {"n_query": 15}, "test": [{"n_query": 15}, {"n_query": 15}]},
        "data": {"root": "somewhere"},
    })  # fmt: skip
    adjusted = {"evaluation.val.n_query": 4, "evaluation.test.1.n_query": 2, "sampler.n_way": 3}
    record_data_facts(cfg, facts(adjusted_settings=adjusted))
    assert cfg.method.n_classes == 3
    expected = BCEWithLogitsLoss.weights_from_counts(torch.tensor([4, 1, 0]), 5).tolist()
    assert list(cfg.method.positive_weights) == expected == [0.25, 4.0, 5.0]
    assert cfg.evaluation.val.n_query == 4 and cfg.sampler.n_way == 3
    assert [s.n_query for s in cfg.evaluation.test] == [15, 2]
    assert OmegaConf.to_container(cfg.data.split_classes)["val"] == ["d", "e"]


def test_a_set_class_count_is_kept_and_methods_without_one_get_none():
    cfg = OmegaConf.create({"method": {"n_classes": 7}, "data": {}})
    record_data_facts(cfg, facts())
    assert cfg.method.n_classes == 7
    cfg = OmegaConf.create({"method": {"scorer": {}}, "data": {}})
    record_data_facts(cfg, facts())
    assert "n_classes" not in cfg.method and "positive_weights" not in cfg.method


def test_the_lowered_protocol_equals_one_rebuilt_from_the_lowered_config(compose_config):
    cfg = compose_config("train", [])
    adjusted = {"evaluation.val.n_query": 4, "evaluation.val.n_way": 3,
                "evaluation.test.0.n_query": 2}  # fmt: skip
    evaluation = build_evaluation(cfg)
    lowered = adjusted_evaluation(evaluation, adjusted)
    for key, value in adjusted.items():
        OmegaConf.update(cfg, key, value, merge=False)
    assert lowered == build_evaluation(cfg)
    assert evaluation.val.n_query != 4  # the protocol given is left as it was


def test_a_single_test_setting_is_lowered_too():
    protocol = EvaluationProtocol(test=EpisodeSettings(n_query=15))
    lowered = adjusted_evaluation(protocol, {"evaluation.test.n_query": 6})
    assert lowered.test == dataclasses.replace(protocol.test, n_query=6)
