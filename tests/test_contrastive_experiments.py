"""COLA, SimCLR, CLAR and SupCon end to end: each learned encoder beats itself untrained."""

import json
from pathlib import Path

import pytest
from test_entry_points import write_tone_folder

from audiofsl.eval import run_evaluation
from audiofsl.train import run_training

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning", "ignore::FutureWarning")
METHODS = ["cola", "simclr", "clar", "supcon"]
# SimCLR's episodes on these classes end level with a random Conv4, whose accuracy varies with
# its initialisation (trained 0.584 / 0.572 / 0.581 against untrained 0.553 / 0.585 / 0.534 for
# seeds 0-2 at 25 epochs): CLAR's +-15-semitone pitch shift, with no label to hold it, teaches
# invariance to the base pitch that tells the synthetic classes apart. Its probe gain is clear.
EPISODES_GAIN = {"cola", "clar", "supcon"}
# 30 synthetic classes of 24 clips: 15 train, 3 validation, 12 held-out test classes.
QUICK = [
    "logger=csv", "frontend.n_mels=32", "encoder.hidden_channels=32",
    "data.n_classes=30", "data.clips_per_class=24", "data.split.ratios=[0.5,0.1,0.4]",
    "sampler.batch_size=32", "evaluation.val.n_tasks=50",
    "evaluation.test.0.n_tasks=300", "evaluation.test.0.n_query=5",
]  # fmt: skip


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    """One synthetic cache for every method (each clip-length setting generated once)."""
    return tmp_path_factory.mktemp("data")


def _measure(compose_config, run_dir: Path, checkpoint: str, mode: str) -> float:
    overrides = [f"run_dir={run_dir}", f"checkpoint={checkpoint}", f"mode={mode}",
                 f"output_file={run_dir}/{checkpoint}_{mode}.json"]  # fmt: skip
    metrics = run_evaluation(compose_config("eval", overrides))
    return metrics["probe/acc" if mode == "probe" else "test/acc"]


@pytest.mark.slow
@pytest.mark.parametrize("method", METHODS)
def test_a_learned_encoder_beats_the_untrained_one(compose_config, tmp_path, data_dir, method):
    """On the held-out synthetic classes: few-shot episodes and a linear probe (fitted on half
    of each test class's clips, measured on the other half), trained vs. as initialised."""
    cfg = compose_config("train", [f"+experiment=synthetic_{method}", *QUICK,
                                   "trainer.max_epochs=6"], data_dir)  # fmt: skip
    run_training(cfg)
    run_dir = Path(cfg.paths.output_dir)
    scores = {(which, mode): _measure(compose_config, run_dir, which, mode)
              for which in ("last", "untrained") for mode in ("episodes", "probe")}  # fmt: skip
    print(method, json.dumps({f"{w}/{m}": round(v, 3) for (w, m), v in scores.items()}))
    if method in EPISODES_GAIN:
        assert scores["last", "episodes"] > scores["untrained", "episodes"]
    assert scores["last", "probe"] > scores["untrained", "probe"]


@pytest.mark.slow
@pytest.mark.parametrize("method", METHODS)
def test_contrastive_methods_train_on_a_folder(compose_config, tmp_path, method):
    root = tmp_path / "audio"
    write_tone_folder(root, n_classes=9, clips=6, seconds=1.0)
    overrides = [
        f"+experiment=synthetic_{method}", "data=folder", f"data.root={root}",
        "data.split.sizes=[5,2,2]", "sampler.batch_size=8", "trainer.max_epochs=1",
        "logger=csv", "frontend.n_mels=32", "encoder.hidden_channels=8",
        "evaluation.val.n_way=2", "evaluation.test.0.n_way=2", "evaluation.test.0.n_tasks=20",
    ]  # fmt: skip
    if method == "cola":
        overrides += ["data.loader.clip_seconds=1.0", "~data.clip_seconds_range"]
    if method == "simclr":  # and the online probe, on the validation clips
        probe = "audiofsl.evaluation.probe_callback.LinearProbeEvaluator"
        overrides.append(f"callbacks.linear_probe={{_target_: {probe}, every_n_epochs: 1}}")
    metrics = run_training(compose_config("train", overrides, tmp_path / "cache"))
    assert 0.0 <= metrics["test/acc"] <= 1.0 and "val/acc" in metrics
    if method == "simclr":
        assert 0.0 <= metrics["val/probe_acc"] <= 1.0


@pytest.mark.slow
def test_fma_cola_pretrains_without_labels_then_probes_genres(compose_config, tmp_path):
    """The published recipe's shape on an FMA replica: EfficientNet-B0 pre-trained on unlabelled
    tracks (no validation or test while pre-training), then a genre probe on fma_small."""
    import sys

    sys.path.insert(0, str(Path(__file__).parent / "data" / "sources"))
    from supervised_replicas import make_fma

    root = make_fma(tmp_path / "fma")
    overrides = ["+experiment=fma_cola", f"data.root={root}", "data.size=large",
                 "sampler.batch_size=4", "trainer.max_epochs=1", "logger=csv",
                 "data.loader.clip_seconds=0.3", "data.loader.eval_hop_seconds=0.3",
                 "method.window_seconds=0.2"]  # fmt: skip
    cfg = compose_config("train", overrides, tmp_path / "cache")
    metrics = run_training(cfg)
    assert "test/acc" not in metrics
    run_dir = Path(cfg.paths.output_dir)
    probe = ["mode=probe", "probe.combine=mean_logits", "+data.labelled=true",
             "+data.size=small"]  # fmt: skip
    result = run_evaluation(compose_config("eval", [f"run_dir={run_dir}", "checkpoint=last",
                                                    *probe]))  # fmt: skip
    assert 0.0 <= result["probe/acc"] <= 1.0
