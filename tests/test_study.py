"""The few-data study (python -m audiofsl.study): its runs, its table and plot, resuming; the
kNN and prototype classifiers it tests with, against loop references."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import torch
from data.sources.supervised_replicas import make_urbansound8k
from omegaconf import OmegaConf
from test_entry_points import write_tone_folder

from audiofsl.evaluation.knn import knn_scores, mfcc_statistics
from audiofsl.evaluation.prototype_classifier import prototype_scores
from audiofsl.study import (
    StudyRun,
    episode_shape,
    plan,
    plot_accuracy,
    render,
    run_study,
    write_table,
)
from audiofsl.train import run_training

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning", "ignore::FutureWarning")
ROOT = Path(__file__).resolve().parents[1]
#: Every run of the end-to-end test: a tiny encoder on short windows, quiet.
TINY = [
    "logger=csv",
    "callbacks.progress_bar=null",
    "callbacks.model_summary=null",
    "frontend.n_mels=32",
    "encoder.hidden_channels=8",
    "encoder.n_blocks=2",
    "data.loader.clip_seconds=0.5",
]
ALL_METHODS = "[supervised,protonet,knn,transfer_finetune,transfer_prototypes]"


def loop_knn(fit, fit_labels, query, k, distance):
    """Brute force: sort every training row by distance, majority of the first k, a tie going
    to the class met first."""
    predictions = []
    for q in query:
        if distance == "cosine":
            d = [1 - float(torch.dot(q, f) / (q.norm() * f.norm())) for f in fit]
        else:
            d = [float(((q - f) ** 2).sum().sqrt()) for f in fit]
        nearest = [int(fit_labels[i]) for i in sorted(range(len(fit)), key=d.__getitem__)[:k]]
        counts = Counter(nearest)
        best = max(counts.values())
        predictions.append(next(c for c in nearest if counts[c] == best))
    return torch.tensor(predictions)


@pytest.mark.parametrize("k", [1, 3, 4])
@pytest.mark.parametrize("distance", ["euclidean", "cosine"])
def test_knn_matches_a_loop_reference(k, distance):
    generator = torch.Generator().manual_seed(k)
    fit = torch.randn(23, 6, generator=generator)
    fit_labels = torch.randint(0, 4, (23,), generator=generator)
    query = torch.randn(40, 6, generator=generator)
    scores = knn_scores(fit, fit_labels, query, 4, k, distance)
    assert torch.equal(scores.argmax(-1), loop_knn(fit, fit_labels, query, k, distance))
    # k votes per query, plus a tie-breaking fraction below one per class
    assert torch.equal(scores.floor().sum(-1), torch.full((40,), float(k)))


def test_knn_rejects_more_neighbours_than_clips():
    with pytest.raises(ValueError, match="k=3"):
        knn_scores(torch.randn(2, 4), torch.tensor([0, 1]), torch.randn(1, 4), 2, k=3)


def test_mfcc_statistics_are_mean_and_std_over_time():
    mfcc = torch.randn(3, 1, 20, 17)
    stats = mfcc_statistics(mfcc)
    assert stats.shape == (3, 40)
    for b in range(3):
        frames = mfcc[b, 0]
        mean = torch.stack([frames[i].sum() / 17 for i in range(20)])
        std = torch.stack([((frames[i] - mean[i]) ** 2).mean().sqrt() for i in range(20)])
        assert torch.allclose(stats[b], torch.cat([mean, std]), atol=1e-5)


def test_prototype_scores_match_a_loop_reference():
    generator = torch.Generator().manual_seed(0)
    fit = torch.randn(12, 5, generator=generator)
    fit_labels = torch.tensor([0, 0, 1, 1, 1, 3, 3, 0, 1, 3, -1, -1])  # no clip of class 2
    query = torch.randn(7, 5, generator=generator)
    scores = prototype_scores(fit, fit_labels, query, 4, "euclidean")
    for c in range(4):
        members = [fit[i] for i in range(12) if int(fit_labels[i]) == c]
        for q in range(7):
            if not members:
                assert scores[q, c] == float("-inf")
                continue
            prototype = torch.stack(members).mean(0)
            assert scores[q, c] == pytest.approx(-float((query[q] - prototype).norm()), abs=1e-4)


def test_episode_shapes_and_the_plan(compose_config):
    assert [episode_shape(n, 5, 5) for n in (1, 2, 5, 10, 100)] == [
        None, (1, 1), (3, 2), (5, 5), (5, 5)
    ]  # fmt: skip
    cfg = compose_config("study", ["study.n_per_class=[1,2]", "study.draws=2",
                                   "study.test_folds=[1,3]"])  # fmt: skip
    runs = plan(cfg.study)
    assert [r for r in runs if r.method == "protonet"] == [
        StudyRun("protonet", 2, draw, fold) for draw in (0, 1) for fold in (1, 3)
    ]
    assert len(runs) == 2 * 2 * 2 + 4 + 2 * 2 * 2  # supervised, protonet (n=2), knn
    assert runs[0].directory(Path("out")) == Path("out/runs/supervised/n1/draw0/fold1")
    cfg.study.methods = ["transfer_prototypes"]
    with pytest.raises(ValueError, match="study.transfer_from"):
        plan(cfg.study)


def test_the_table_is_written_without_matplotlib(tmp_path, monkeypatch, caplog):
    rows = [{"method": "knn", "n_per_class": 1, "runs": 2, "acc_mean": 0.5, "acc_ci95": 0.1}]
    table = write_table(rows, tmp_path / "few_data.csv")
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    assert plot_accuracy(rows, tmp_path / "few_data.png", "title") is None
    assert "matplotlib is not installed" in caplog.text
    assert table.read_text().splitlines()[1] == "knn,1,2,0.5,0.1"


def test_a_cell_of_one_run_shows_no_interval():
    rows = [
        {"method": "knn", "n_per_class": 1, "runs": 1, "acc_mean": 0.5, "acc_ci95": float("nan")},
        {"method": "knn", "n_per_class": 2, "runs": 3, "acc_mean": 0.625, "acc_ci95": 0.05},
    ]
    table = render(rows, [1, 2, 5], "title")
    cells = [column._cells[0] for column in table.columns]
    assert cells == ["knn", "50.0 ± n/a (1)", "62.5 ± 5.0 (3)", "—"]


def read_rows(path: Path) -> dict:
    with path.open() as handle:
        return {(r["method"], int(r["n_per_class"])): r for r in csv.DictReader(handle)}


@pytest.mark.slow
def test_the_study_runs_every_method_and_resumes(compose_config, tmp_path):
    root = make_urbansound8k(tmp_path / "data")
    cache = tmp_path / "cache"
    # The encoder to transfer: another architecture, trained at another sample rate.
    source = compose_config("train", ["+experiment=us8k_supervised", f"data.root={root}",
                                      *TINY, "trainer.max_epochs=1", "encoder=conv4",
                                      "data.loader.sample_rate=8000"], cache)  # fmt: skip
    source.paths.output_dir = str(tmp_path / "source")
    run_training(source)
    quoted = ",".join(f"'{o}'" for o in TINY)
    overrides = [f"data.root={root}", f"study.methods={ALL_METHODS}", "study.n_per_class=[1,2]",
                 "study.draws=2", "study.test_folds=[2]", "study.epochs=1",
                 f"study.overrides=[{quoted}]", "study.protonet.n_way=4",
                 "study.protonet.episodes=2", "study.transfer.head_only_epochs=0",
                 f"study.transfer_from={tmp_path / 'source'}"]  # fmt: skip
    cfg = compose_config("study", overrides, cache)
    out = Path(cfg.paths.output_dir)
    result = run_study(cfg)

    # 2 n x 2 draws x 1 fold per method, protonet without n=1
    assert len(result.ran) == 4 * 4 + 2 and not result.skipped
    rows = read_rows(result.table)
    assert set(rows) == {(m, n) for m in ("supervised", "knn", "transfer_finetune",
                                          "transfer_prototypes") for n in (1, 2)} | {
        ("protonet", 2)
    }  # fmt: skip
    for (method, n), row in rows.items():
        found = sorted((out / "runs" / method / f"n{n}").glob("draw*/fold*/metrics.json"))
        values = [json.loads(path.read_text())["test/acc"] for path in found]
        assert len(values) == int(row["runs"]) == 2
        assert float(row["acc_mean"]) == pytest.approx(sum(values) / len(values))
        assert 0.0 <= float(row["acc_mean"]) <= 1.0
    assert result.plot is not None and result.plot.stat().st_size > 0
    transferred = (out / "runs/transfer_finetune/n1/draw0/fold2/config.yaml").read_text()
    assert "Conv4" in transferred and "sample_rate: 8000" in transferred

    # Again, from the command line and with n=3 too: only the runs of n=3 are run.
    stamps = {p: p.stat().st_mtime_ns for p in out.rglob("metrics.json")}
    command = [sys.executable, "-m", "audiofsl.study", *overrides, "study.methods=[supervised,knn]",
               "study.n_per_class=[1,2,3]", f"paths.data_dir={cache}", f"paths.output_dir={out}",
               f"hydra.run.dir={out}"]  # fmt: skip
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "8 of 12 runs were finished already" in done.stdout + done.stderr
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps
    again = read_rows(result.table)
    assert {key: again[key] for key in again if key[1] < 3} == {
        key: rows[key] for key in rows if key[0] in ("supervised", "knn")
    }
    assert again[("supervised", 3)]["runs"] == again[("knn", 3)]["runs"] == "2"


def test_the_study_runs_on_a_folder_with_folds_it_makes(compose_config, tmp_path):
    root = tmp_path / "audio"
    write_tone_folder(root, n_classes=4, clips=6, seconds=0.5)
    short = "study.overrides=['data.loader.clip_seconds=0.5']"
    overrides = ["data.source=folder", f"data.root={root}", "data.folds=3", short,
                 "study.methods=[knn]", "study.n_per_class=[1,3]", "study.draws=1",
                 "study.test_folds=[1,3]"]  # fmt: skip
    cfg = compose_config("study", overrides, tmp_path / "cache")
    result = run_study(cfg)
    assert len(result.ran) == 4 and [r["n_per_class"] for r in result.rows] == [1, 3]
    assert all(0 <= r["acc_mean"] <= 1 and r["runs"] == 2 for r in result.rows)
    stored = OmegaConf.load(Path(cfg.paths.output_dir) / "runs/knn/n3/draw0/fold3/config.yaml")
    assert stored.data._target_ == "audiofsl.data.FolderDataModule" and stored.data.folds == 3
    assert list(stored.data.split.test_folds) == [3]
    for wrong, message in [
        (["study.test_folds=[1,4]"], r"set study.test_folds=\[1,2,3\]"),
        (["data.source=urbansound8k"], "add data.source=folder"),
        (["data.root=null"], "data.root: set it"),
    ]:
        with pytest.raises(ValueError, match=message):
            run_study(compose_config("study", [*overrides, *wrong], tmp_path / "cache"))


def test_the_study_trains_on_a_folder_of_few_classes(compose_config, tmp_path):
    root = tmp_path / "audio"
    write_tone_folder(root, n_classes=4, clips=6, seconds=0.5)
    quoted = ",".join(f"'{o}'" for o in TINY)
    overrides = ["data.source=folder", f"data.root={root}", "data.folds=3",
                 "study.methods=[supervised,protonet]", "study.n_per_class=[2]",
                 "study.draws=1", "study.test_folds=[2]", "study.epochs=1",
                 f"study.overrides=[{quoted}]", "study.protonet.episodes=2"]  # fmt: skip
    cfg = compose_config("study", overrides, tmp_path / "cache")
    result = run_study(cfg)
    assert [(r["method"], r["runs"]) for r in result.rows] == [("supervised", 1), ("protonet", 1)]
    protonet = Path(cfg.paths.output_dir) / "runs/protonet/n2/draw0/fold2/config.yaml"
    assert OmegaConf.load(protonet).sampler.n_way == 4  # the study's 10-way, fitted to 4 classes
