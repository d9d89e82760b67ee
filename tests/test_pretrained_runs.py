"""Pretrained encoders in runs: measured and enrolled with no training, trained frozen with an
adapter, experiments' settings fitted to them, and the command line that gathers them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from test_entry_points import SMALL_SYNTHETIC

from audiofsl.enrol import run_enrol
from audiofsl.eval import run_evaluation
from audiofsl.runs.composition import build_method, load_run
from audiofsl.runs.measurements import read_measurements
from audiofsl.runs.pretrained import fit_to_pretrained_encoder, split_arguments
from audiofsl.train import run_training

pytest.importorskip("transformers")
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning", "ignore::FutureWarning")

EVAL_KEYS = {"run_dir", "mode", "split", "episodes", "pretrained"}


def test_the_command_line_gathers_training_settings():
    argv = ["encoder=ast", "+experiment=esc50_protonet", "split=val", "data.root=/my data",
            "paths.data_dir=/cache", '+x="q"', "--cfg", "job"]  # fmt: skip
    assert split_arguments(argv, EVAL_KEYS, shared={"paths"}) == [
        "split=val", "paths.data_dir=/cache", "--cfg", "job",
        'pretrained=["encoder=ast","+experiment=esc50_protonet","data.root=/my data",'
        '"paths.data_dir=/cache","+x=\\"q\\""]',
    ]  # fmt: skip
    with_run = ["run_dir=RUN", "encoder=ast"]
    assert split_arguments(with_run, EVAL_KEYS, shared=set()) == with_run
    assert split_arguments(["split=val"], EVAL_KEYS, shared=set()) == ["split=val"]


def test_an_experiments_conv4_settings_are_left_out(compose_config, caplog):
    cfg = compose_config("train", ["+experiment=esc50_protonet", "encoder=wav2vec2"])
    assert cfg.method.encoder.pool == 2  # MetaAudio's Conv4 setting, merged by the overlay
    assert cfg.method.frontend._target_.endswith("Waveform")
    assert cfg.method.augmentation.spectrogram  # SpecAugment
    fitted = fit_to_pretrained_encoder(cfg)
    assert "pool" not in fitted.method.encoder and fitted.method.encoder.source
    assert list(fitted.method.augmentation.spectrogram) == []
    assert "does not take pool" in caplog.text and "spectrogram augmentations" in caplog.text
    conv4 = compose_config("train", ["+experiment=esc50_protonet"])
    assert fit_to_pretrained_encoder(conv4) is conv4


def tiny(folder: Path, *more: str) -> list[str]:
    return ["+debug=fast", *SMALL_SYNTHETIC, "encoder=wav2vec2", f"encoder.source={folder}",
            *more]  # fmt: skip


def count_embedded(monkeypatch) -> list[int]:
    """Counts the windows the transformers model embeds."""
    from audiofsl.encoders.pretrained.transformers_audio import TransformersAudioEncoder

    counted = [0]
    original = TransformersAudioEncoder.embed_waveform

    def counting(self, waveform):
        counted[0] += len(waveform)
        return original(self, waveform)

    monkeypatch.setattr(TransformersAudioEncoder, "embed_waveform", counting)
    return counted


@pytest.mark.slow
def test_a_pretrained_encoder_is_measured_with_no_training_and_embeds_once(
    compose_config, tiny_models, tmp_path, monkeypatch, no_network
):
    folder, data = tiny_models("wav2vec2"), tmp_path / "data"
    counted = count_embedded(monkeypatch)
    pretrained = "pretrained=[" + ",".join(f'"{a}"' for a in tiny(folder)) + "]"
    first = run_evaluation(compose_config("eval", [pretrained], data))
    out = tmp_path / "run"
    assert (out / "config.yaml").is_file()
    measured = read_measurements(out / "eval_metrics.json")["episodes/pretrained"]
    assert measured["checkpoint"]["kind"] == "pretrained"
    assert 0.0 <= first["test/acc"] <= 1.0
    windows = counted[0]
    assert windows > 0
    # the second evaluation reads every embedding from the cache
    second = run_evaluation(compose_config("eval", [pretrained], data))
    assert counted[0] == windows and second["test/acc"] == first["test/acc"]
    # the folder is a run directory for later commands
    probe = ["run_dir=" + str(out), "checkpoint=pretrained", "mode=probe"]
    assert "probe/acc" in run_evaluation(compose_config("eval", probe, data))
    assert counted[0] == windows


def test_finetune_mode_is_refused_for_a_pretrained_encoder(compose_config, tmp_path):
    (tmp_path / "config.yaml").write_text("{}")
    cfg = compose_config("eval", ['pretrained=["encoder=wav2vec2"]', "mode=finetune"])
    with pytest.raises(ValueError, match="encoder.freeze=false"):
        run_evaluation(cfg)


def test_a_model_with_no_training_needs_a_pretrained_encoder(compose_config):
    cfg = compose_config("eval", ['pretrained=["+debug=fast"]'])
    with pytest.raises(ValueError, match="needs a pretrained encoder, e.g. encoder=cnn14"):
        run_evaluation(cfg)
    with pytest.raises(ValueError, match="run_dir=RUN .* or encoder=NAME"):
        run_evaluation(compose_config("eval", []))


def write_tone(path: Path, frequency: float, rate: int = 16000) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(rate) / rate
    sf.write(path, (0.5 * np.sin(2 * np.pi * frequency * t)).astype("float32"), rate)


def test_enrolment_with_a_pretrained_encoder_and_no_training(
    compose_config, tiny_models, tmp_path, no_network
):
    for name, frequency in (("low", 300), ("high", 3000)):
        for i in range(2):
            write_tone(tmp_path / "support" / name / f"{i}.wav", frequency * (1 + 0.05 * i))
        write_tone(tmp_path / "queries" / f"{name}.wav", frequency * 1.02)
    pretrained = f'pretrained=["encoder=wav2vec2","encoder.source={tiny_models("wav2vec2")}"]'
    overrides = [pretrained, f"support={tmp_path / 'support'}", f"queries={tmp_path / 'queries'}"]
    result = run_enrol(compose_config("enrol", overrides, tmp_path / "data"))
    assert result["enrolment"].counts == {"high": 2, "low": 2}
    assert {Path(row.path).stem for row in result["assignments"]} == {"low", "high"}
    assert Path(result["csv"]).parent.parent == tmp_path / "run"
    content = json.loads(Path(result["json"]).read_text())
    assert content["checkpoint"].endswith("config.yaml")


@pytest.mark.slow
@pytest.mark.parametrize(
    ("more", "trained_part"),
    [
        (["encoder.adapter.out_dim=8"], "encoder.adapter."),  # ProtoNet trains an adapter
        (["+experiment=synthetic_supervised"], "head."),  # a classifier trains its head
    ],
)
def test_a_frozen_encoder_trains_only_what_sits_on_top(
    compose_config, tiny_models, tmp_path, more, trained_part
):
    overrides = [*more, *tiny(tiny_models("wav2vec2"), "logger=csv")]  # +debug=fast last
    run_training(compose_config("train", overrides, tmp_path / "data"))
    _, initial, _ = load_run(tmp_path / "run", "untrained")  # as built from the run's seed
    before = initial.state_dict()
    _, trained, _ = load_run(tmp_path / "run", "last")
    after = trained.state_dict()
    backbone = [k for k in after if k.startswith("encoder.model.")]
    on_top = [k for k in after if k.startswith(trained_part) and k.endswith("weight")]
    assert backbone and on_top
    assert all(torch.equal(before[k], after[k]) for k in backbone)
    assert any(not torch.equal(before[k], after[k]) for k in on_top)


def test_a_frozen_encoder_with_nothing_on_top_is_a_clear_error(compose_config, tiny_models):
    method = build_method(compose_config("train", tiny(tiny_models("wav2vec2"))))
    with pytest.raises(ValueError, match=r"nothing to train.*encoder\.adapter\.out_dim"):
        method.configure_optimizers()


@pytest.mark.slow
def test_the_eval_command_takes_an_encoder_and_an_experiment(tiny_models, tmp_path):
    folder = tiny_models("wav2vec2")
    command = [sys.executable, "-m", "audiofsl.eval", *tiny(folder), f"hydra.run.dir={tmp_path}",
               f"paths.data_dir={tmp_path / 'data'}", "split=val"]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    measured = read_measurements(tmp_path / "eval_metrics.json")
    assert "val/acc" in measured["episodes/pretrained/val"]["metrics"]
