"""Any trained encoder, fine-tuned or transferred: init_from, the head-first schedule, eval."""

from pathlib import Path

import pytest
import torch
from test_entry_points import TINY

from audiofsl.eval import run_evaluation
from audiofsl.methods.finetuning import HeadFirstFinetuning
from audiofsl.runs.composition import build_method, load_backbone, load_run
from audiofsl.train import run_training

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning", "ignore::FutureWarning")


@pytest.fixture(scope="module")
def protonet_run(tmp_path_factory) -> Path:
    """A finished ProtoNet run (the encoder every fine-tuning test starts from)."""
    from hydra import compose, initialize_config_dir
    from test_entry_points import CONF_DIR

    root = tmp_path_factory.mktemp("protonet")
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose("train", [*TINY, f"paths.output_dir={root}/run",
                                f"paths.data_dir={root}/data"])  # fmt: skip
    run_training(cfg)
    return root / "run"


def _encoder_state(method) -> dict:
    return {k: v.clone() for k, v in method.encoder.state_dict().items()}


def test_init_from_loads_the_frontend_and_encoder_and_names_a_mismatch(
    compose_config, protonet_run
):
    _, trained, _ = load_run(protonet_run)
    fresh = build_method(compose_config("train", TINY))
    load_backbone(fresh, protonet_run)
    for name, value in trained.encoder.state_dict().items():
        assert torch.equal(fresh.encoder.state_dict()[name], value)
    wider = build_method(compose_config("train", [*TINY, "encoder.hidden_channels=8"]))
    with pytest.raises(ValueError, match="init_from=.*encoder differs"):
        load_backbone(wider, protonet_run)


def test_the_encoder_stays_frozen_for_the_head_only_epochs(compose_config, tmp_path, protonet_run):
    """Epoch 0 trains the head alone; from epoch 1 the encoder learns, in its own group."""
    overrides = [*TINY, "+experiment=synthetic_supervised", "sampler.batch_size=10",
                 "trainer.max_epochs=1", "trainer.limit_train_batches=3",
                 f"init_from={protonet_run}",
                 "+callbacks.head_first._target_=audiofsl.methods.finetuning.HeadFirstFinetuning",
                 "+callbacks.head_first.head_only_epochs=1",
                 "+callbacks.head_first.encoder_lr_factor=0.5"]  # fmt: skip
    cfg = compose_config("train", overrides, protonet_run.parent / "data")
    _, source, _ = load_run(protonet_run)
    before = _encoder_state(source)
    run_training(cfg)
    _, after_one, _ = load_run(cfg.paths.output_dir, which="last")
    for name, value in before.items():
        if "num_batches_tracked" not in name:
            assert torch.equal(after_one.encoder.state_dict()[name], value), name
    cfg.trainer.max_epochs = 2
    cfg.paths.output_dir = str(tmp_path / "two")
    run_training(cfg)
    _, after_two, _ = load_run(cfg.paths.output_dir, which="last")
    state = after_two.encoder.state_dict()
    assert any(not torch.equal(state[n], v) for n, v in before.items()), "trains once unfrozen"
    with pytest.raises(ValueError, match="head_only_epochs=-1"):
        HeadFirstFinetuning(head_only_epochs=-1)


@pytest.mark.slow
def test_eval_probes_and_finetunes_a_protonet_encoder(compose_config, protonet_run):
    checkpoints = sorted((protonet_run / "checkpoints").glob("*.ckpt"))
    before = {path: path.read_bytes() for path in checkpoints}
    probe = run_evaluation(compose_config("eval", [f"run_dir={protonet_run}", "mode=probe"]))
    assert 0.0 < probe["probe/acc"] <= 1.0 and probe["probe/acc_ci95"] > 0
    overrides = [f"run_dir={protonet_run}", "mode=finetune", "finetune.epochs=2",
                 "finetune.head_only_epochs=1", "finetune.batch_size=10"]  # fmt: skip
    tuned = run_evaluation(compose_config("eval", overrides))
    assert 0.0 <= tuned["finetune/acc"] <= 1.0
    saved = (protonet_run / "finetune" / "config.yaml").read_text()
    assert "audiofsl.methods.Supervised" in saved and "init_from:" in saved
    assert (protonet_run / "finetune" / "metrics.json").is_file()
    assert (protonet_run / "finetune" / "checkpoints" / "best.ckpt").is_file()
    assert all(path.read_bytes() == data for path, data in before.items()), "run untouched"


def test_a_run_trained_with_ddp_is_measured_and_fine_tuned_in_one_process(
    compose_config, protonet_run
):
    from omegaconf import OmegaConf

    from audiofsl.eval import evaluation_trainer_config, finetune_config

    run_cfg = OmegaConf.load(protonet_run / "config.yaml")
    run_cfg.trainer.merge_with({"strategy": "ddp", "devices": 4, "sync_batchnorm": True})
    cfg = compose_config("eval", [f"run_dir={protonet_run}"])
    ckpt = protonet_run / "checkpoints" / "best.ckpt"
    for trainer in (evaluation_trainer_config(cfg, run_cfg).trainer,
                    finetune_config(cfg, run_cfg, ckpt).trainer):  # fmt: skip
        assert (trainer.strategy, trainer.devices, trainer.sync_batchnorm) == ("auto", 1, False)
    many = compose_config("eval", [f"run_dir={protonet_run}", "trainer.devices=4",
                                   "trainer.strategy=ddp"])  # fmt: skip
    assert evaluation_trainer_config(many, run_cfg).trainer.devices == 4
