"""Trains and tests the public reference code of prototypical contrastive learning on ESC-50.

The reference is the code of Sgouropoulos et al., "Prototypical Contrastive Learning for
Improved Few-Shot Audio Classification" (MLSP 2025, arXiv:2509.10074),
github.com/magcil/audio-few-shot-learning, which builds on the features and encoders of
MetaAudio (Heggan et al., 2022), github.com/CHeggan/MetaAudio-A-Few-Shot-Audio-Classification-
Benchmark. This script runs one training and test of the reference's own entry point,
``src/train_test.py``, unchanged, on the clips of an official-layout ESC-50 folder
(``meta/esc50.csv``, ``audio/``) and writes the figures to a JSON file. It contains no code of
either repository: it imports their modules from local checkouts at run time, calls their
functions, writes the reference's configuration files and records what its loops return.

Steps, all under the work folder ``WORK``:

1. Features (once per work folder, reused while ``meta/esc50.csv`` is unchanged): the three
   steps of the reference's ``offline_preprocessing/full_stack_ESC.py``, called with that
   module's constants (its ``__main__`` block hard-codes ``MAIN_DIR = '/data/ESC-50-master'``):
   ``folder_scripts/folder_sort_ESC.main`` (clips sorted into class folders),
   ``to_np_and_norm.main`` (``librosa.load`` at 16 kHz, per-clip z-normalisation) and
   ``to_spec.main`` (librosa mel spectrogram: 128 mels, n_fft 1024, hop 512, power 2;
   ``10 log10(mel + float eps)``; ``[128, 157]``). All rows of ``meta/esc50.csv`` are used, so
   a one-fold replicate is a folder whose csv keeps one fold's rows. The class split is the
   reference's ``data/ESC-50-master/splits.npy``, MetaAudio's 35/5/10 split of the 50 classes
   (checked against MetaAudio's ``Dataset Splits/Baseline/ESC_paper_splits.npy``).
2. Normalisation statistics: one global mean and standard deviation over the features of the
   split's 35 training classes, as MetaAudio's ``gen_training_stats`` (norm ``global``, type
   ``spec``) computes them: batches of 500 through its ``StatsRecorder`` with red_dims
   ``(0, 1, 2)``, saved as ``norm_stats/glob_norm.npy``. The file listing is done here (the
   same ``os.walk``, keeping class folders of the training split) because MetaAudio's
   ``BasicTrainingSet.get_subset`` splits paths on ``'\\\\'`` and finds no class on POSIX. The
   reference ships a ``glob_norm.npy`` computed on all of ESC-50 (all classes and folds);
   ``--shipped-stats`` uses that file instead.
3. Configuration files in the reference's format (``configs/``), with the values below.
4. ``src/train_test.py`` run with ``runpy`` from the work folder, with these changes made at
   run time (no file of the reference is edited):

   - ``datasets.datasets.MetaAudioDataset.__init__``: its ``root`` argument is replaced by the
     prepared folder. ``train_test.py`` hard-codes ``data_root = '/data'``.
   - ``loops.loops.PROJECT_PATH`` is set to the work folder, so the best checkpoint
     (``experiments/<folder>/model.pt``, saved by ``EarlyStopping`` and reloaded before the
     test) is written there instead of inside the checkout; ``train_test.py`` creates
     ``experiments/<folder>`` relative to the working directory, which is the work folder.
   - ``loops.loops.training_epoch``, ``loops.loops.evaluate_single_segment`` and
     ``callbacks.early_stopping.EarlyStopping.save_checkpoint`` are wrapped to record losses,
     accuracies, the saved epochs and wall times; the wrappers call the originals with the same
     arguments and return what they return.
   - After the first test evaluation the wrapper ends the run: ``train_test.py`` loops
     ``for i in range(5)`` over independent trainings; one training per ``--index`` is wanted.
   - Seeds: the reference never seeds. Unless ``--unseeded``, Python's ``random``, numpy and
     torch are seeded with ``--index`` just before the reference's training modules are
     imported (episodes are drawn with ``random``, weights with torch).

Settings (``configs/<method>_<index>_{experiment,model}_config.json``, ``_smoke`` added with
``--smoke``) and the place in the reference's README.md each value comes from:

=======================================  ==============================================
value                                    source in the reference's README.md
=======================================  ==============================================
``lr`` 0.00038                           6. Hyperparameters, ESC-50 row, lr
``scheduler_gamma`` 0.376 (MultiStepLR)  6. Hyperparameters, ESC-50 row, gamma
``scheduler_milestones`` [20, 40, 60]    3. ExperimentConfig (example file)
``patience`` 70 (early stopping)         3. ExperimentConfig (example file)
CPL: ``l_param`` (lambda) 1.7235,        6. "FS+CPL parameters", ESC-50 row
``t_param`` (T) 6.0488, ``m_param`` (M) 3
Hybrid encoder: in_channels 1,           5. ModelConfig
seq_layers 1, RNN, not bidirectional,
hidden_channels 64, pool_dim [3, 3],
out_dim 64
projection head 64-128-256               6. Hyperparameters, ESC-50 "256-128-256", with
                                         input_dim 64 as 4. Scenarios (scenario 4,
                                         no attention) asks
``normalize_prototypes``,                3. ExperimentConfig (example file)
``project_prototypes`` true
protonet: no attention, no contrastive   4. Scenarios, scenario 1 (plain ProtoNet)
loss, no augmentation, ``spec`` input
cpl: as protonet plus the CPL loss       4. Scenarios, scenario 4 (ProtoNet + CPL)
``multi_segm`` false                     3. ExperimentConfig ("false for the rest")
inactive entries: specaug (7, 20, 2,     6. Hyperparameters (ESC-50 rows),
0.3127), angular (15, anchors), wave     3. ExperimentConfig and 5. ModelConfig
augmentations, CNN, Attention, Relation
=======================================  ==============================================

Budget (this script's defaults; the README's example file has 200 epochs and 2,000 test
tasks): 10 epochs of 100 training episodes, 5-way 1-shot with 5 queries per class in training,
validation and test; validation on 100 tasks per epoch, drawn afresh each epoch as the
reference draws them (``train_test.py`` passes ``n_training_tasks`` as the number of validation
tasks, so ``--train-tasks`` sets both); the epoch with the best validation accuracy (the last
one saved, ties included) is reloaded and tested on 1,000 tasks. ``--smoke``: 1 epoch of 3
episodes, 3 validation tasks, 20 test tasks. The test accuracy is the mean over tasks, with
``1.96 std / sqrt(tasks)`` (``std`` as the reference returns it, numpy's) as its 95% interval.

Output: ``WORK/results/<method>_<index>.json`` (``WORK/results/smoke/`` with ``--smoke``) or
``--out``: test accuracy and interval, selected epoch and its validation accuracy, per-epoch
losses, validation accuracies and timings, both configurations, the normalisation statistics,
the reference's commit (``--reference-commit``, else ``git`` when the checkout is a
repository), torch and numpy versions and the seed. ``WORK/data`` holds the
features, ``WORK/configs`` the configuration files, ``WORK/experiments`` the checkpoint.

Environment: python 3.9 or later with the reference's ``requirements.txt`` (torch and
torchaudio 2.4.1, numpy 1.26.3, librosa 0.10.2, pandas, tqdm, matplotlib, audiomentations
0.37.0) and the modules it imports without listing them (pydub, pyyaml, soundfile,
pytorch-metric-learning, torch-audiomentations). audiofsl is not imported. A run is one
process on the CPU; ``--threads`` (default 1) sets the OpenMP, MKL, OpenBLAS and torch threads
(the script restarts itself once to put them in its environment: the features' float
roundings depend on the BLAS thread count).

Usage::

    git clone https://github.com/magcil/audio-few-shot-learning magcil
    git clone https://github.com/CHeggan/MetaAudio-A-Few-Shot-Audio-Classification-Benchmark \\
        metaaudio
    python benchmarks/reference_training.py magcil --metaaudio metaaudio \\
        --esc50 ESC-50-master --work runs/reference --method cpl --index 0
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import hashlib
import importlib
import json
import math
import os
import random
import runpy
import shutil
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch
from reference_parity import git_commit, restored_working_directory

DATASET = "ESC-50-master"  # the reference's dataset_name (its folder name under data_root)
STATS_BATCH = 500  # clips per StatsRecorder update, as in MetaAudio's gen_training_stats
BUDGET = {"epochs": 10, "train_tasks": 100, "test_tasks": 1000}
SMOKE_BUDGET = {"epochs": 1, "train_tasks": 3, "test_tasks": 20}
N_WAY, N_SHOT, N_QUERY = 5, 1, 5
# 6. Hyperparameters of the reference's README, ESC-50 rows; 3. ExperimentConfig for the rest.
LR = 0.00038
SCHEDULER = {"scheduler_milestones": [20, 40, 60], "scheduler_gamma": 0.376}
PATIENCE = 70
CPL_ESC50 = {"l_param": 1.7235, "t_param": 6.0488, "m_param": 3}
APL_ESC50 = {"angle": 15, "prototypes_as_anchors": True}  # recorded, not used
SPECAUG_ESC50 = {"mask_param": 7, "W": 20, "num_mask": 2, "mask_value": 0, "p": 0.3127}
# 3. ExperimentConfig's example "waveaug_params" (used only with input_type "wav").
WAVEAUG = {
    "aug_num": 3,
    "min_gain_in_db": -6,
    "max_gain_in_db": 6,
    "gain_p": 0.5,
    "min_snr_in_db": 10,
    "max_snr_in_db": 25,
    "noise_min_f_decay": -2,
    "noise_max_f_decay": 2,
    "noise_p": 0.5,
    "bandstop_min_bandwidth_fraction": 0.5,
    "bandstop_max_bandwidth_fraction": 1,
    "bandstop_p": 0.5,
    "highpass_p": 0.3,
    "lowpass_p": 0.5,
    "pitchshift_min_transpose_semitones": -4,
    "pitchshift_max_transpose_semitones": 4,
    "pitchshift_p": 0.5,
    "shift_min_shift": -0.5,
    "shift_max_shift": 0.5,
    "shift_p": 0.5,
    "spliceout_num_time_intervals": 8,
    "spliceout_max_width": 400,
    "spliceout_p": 0.5,
    "timeinversion_p": 0,
    "min_stretch_ratio": 0.9,
    "max_stretch_ratio": 1.1,
    "timestretch_p": 0,
    "timemasking_masks": 5,
    "timemasking_mask_fraction": 0.01,
    "timemasking_p": 0.5,
}
# 5. ModelConfig; Projection: ESC-50's 256-128-256 with input_dim 64 (scenario 4, no attention).
MODEL_CONFIG = {
    "CNN": {"in_channels": 1, "hidden_channels": 64, "pool_dim": [3, 3], "out_dim": 64},
    "Hybrid": {
        "in_channels": 1,
        "seq_layers": 1,
        "seq_type": "RNN",
        "bidirectional": False,
        "hidden_channels": 64,
        "pool_dim": [3, 3],
        "out_dim": 64,
    },
    "Attention": {"embed_dim": 64, "num_heads": 1, "ffn_dim": 256, "dropout": 0.1},
    "Projection": {"input_dim": 64, "hidden_dim": 128, "output_dim": 256},
    "Relation": {
        "input_dim": 512,
        "hidden_dim1": 256,
        "hidden_dim2": 128,
        "hidden_dim3": 256,
        "out_dim": 1,
    },
}


class _Finished(Exception):
    """Raised after the first test evaluation to leave ``train_test.py``'s loop of 5 runs."""


# --------------------------------------------------------------------------- small utilities
def sha256(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def plain(x):
    """``x`` with numpy scalars as Python numbers and NaN as None (strict JSON)."""
    if isinstance(x, dict):
        return {k: plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [plain(v) for v in x]
    if isinstance(x, (np.floating, float)):
        return None if math.isnan(x) else float(x)
    if isinstance(x, np.integer):
        return int(x)
    return x


def write_json(path: Path, payload: dict) -> None:
    """Writes ``payload`` as indented JSON, creating the parent folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(plain(payload), indent=1, allow_nan=False) + "\n")


def limit_threads(threads: int) -> None:
    """``threads`` OpenMP, MKL and OpenBLAS threads, one numba thread (librosa), ``threads``
    torch intra-op threads and one inter-op thread.

    The BLAS libraries read their thread counts when numpy and torch load, before the command
    line is read, so the script restarts itself once with them in its environment when they
    differ. The count matters: the features' float roundings follow the BLAS thread count."""
    count = str(threads)
    wanted = {
        "OMP_NUM_THREADS": count,
        "MKL_NUM_THREADS": count,
        "OPENBLAS_NUM_THREADS": count,
        "NUMBA_NUM_THREADS": "1",
    }
    if any(os.environ.get(name) != value for name, value in wanted.items()):
        os.environ.update(wanted)
        sys.stdout.flush()
        script = os.path.abspath(__file__)
        os.execv(sys.executable, [sys.executable, script, *sys.argv[1:]])
    torch.set_num_threads(threads)
    with contextlib.suppress(RuntimeError):  # only settable before the first parallel op
        torch.set_num_interop_threads(1)


# --------------------------------------------------------------------------- data
def read_metadata(esc50: Path) -> list[dict]:
    """Rows of ``esc50/meta/esc50.csv``; fails clearly when the layout is not ESC-50's."""
    meta = esc50 / "meta" / "esc50.csv"
    if not meta.is_file() or not (esc50 / "audio").is_dir():
        raise SystemExit(f"{esc50}: expected meta/esc50.csv and audio/ (ESC-50-master layout)")
    with meta.open(newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows or not {"filename", "fold", "category"} <= set(rows[0]):
        raise SystemExit(f"{meta}: no rows with filename, fold and category")
    return rows


def load_split(ref: Path, metaaudio: Path) -> np.ndarray:
    """The reference's ``splits.npy`` (train, valid, test class lists), checked against
    MetaAudio's ``ESC_paper_splits.npy``."""
    splits = np.load(ref / "data" / DATASET / "splits.npy", allow_pickle=True)
    baseline = metaaudio / "Dataset Splits" / "Baseline" / "ESC_paper_splits.npy"
    theirs = np.load(baseline, allow_pickle=True)
    for k, name in enumerate(("train", "valid", "test")):
        if sorted(map(str, splits[k])) != sorted(map(str, theirs[k])):
            raise SystemExit(f"{name} classes differ: the reference's splits.npy, MetaAudio's")
    return splits


def check_classes(rows: list[dict], splits: np.ndarray) -> None:
    """Every split class must have at least shot + query clips in the csv."""
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["category"]] = counts.get(row["category"], 0) + 1
    short = [str(c) for part in splits for c in part if counts.get(str(c), 0) < N_SHOT + N_QUERY]
    if short:
        raise SystemExit(f"classes with fewer than {N_SHOT + N_QUERY} clips in the csv: {short}")


def preprocessing_modules(ref: Path) -> SimpleNamespace:
    """The reference's offline preprocessing (``full_stack_ESC`` and the three steps)."""
    sys.path.insert(0, str(ref / "offline_preprocessing"))
    names = {
        "full_stack": "full_stack_ESC",
        "folder_sort": "folder_scripts.folder_sort_ESC",
        "np_norm": "to_np_and_norm",
        "to_spec": "to_spec",
    }
    return SimpleNamespace(**{key: importlib.import_module(mod) for key, mod in names.items()})


def make_features(p: SimpleNamespace, main_dir: Path) -> Path:
    """Runs the three steps of ``full_stack_ESC.py`` on ``main_dir``; returns the feature
    folder. The intermediate folders (copied clips, normalised waveforms) are removed."""
    constants = p.full_stack
    spec_dir = main_dir / "ESC_spec"  # as FINAL_SPEC_PATH = MAIN_DIR + '/ESC_spec'
    with restored_working_directory():
        sorted_dir = main_dir / p.folder_sort.main(main_dir=str(main_dir))
        npy_dir = Path(f"{sorted_dir}_npy")
        sr = constants.MEL_SPEC_PARAMS["sr"]
        p.np_norm.main(old_dir=str(sorted_dir), new_dir=str(npy_dir), sr=sr, norm=constants.NORM)
        p.to_spec.main(
            old_dir=str(npy_dir),
            new_dir=str(spec_dir),
            sample_length=constants.SAMPLE_LENGTH,
            spec_params=constants.MEL_SPEC_PARAMS,
        )
    shutil.rmtree(sorted_dir)
    shutil.rmtree(npy_dir)
    (main_dir / "features").symlink_to("ESC_spec")  # the folder MetaAudioDataset reads
    return spec_dir


def training_stats(metaaudio: Path, spec_dir: Path, classes: set[str]) -> tuple[float, float, int]:
    """Global mean and std of the training classes' features with MetaAudio's StatsRecorder
    (batches of ``STATS_BATCH`` in ``os.walk`` order); also the number of clips."""
    sys.path.insert(0, str(metaaudio / "Examples" / "SimpleShot_ESC"))
    recorder_module = importlib.import_module("dataset_.stat_recorder_class")
    paths = [
        Path(root, name)
        for root, _, files in os.walk(spec_dir, followlinks=True)
        if os.path.basename(root) in classes
        for name in files
        if name.endswith(".npy")
    ]
    recorder = recorder_module.StatsRecorder(red_dims=(0, 1, 2))
    for start in range(0, len(paths), STATS_BATCH):
        batch = [torch.from_numpy(np.load(path)) for path in paths[start : start + STATS_BATCH]]
        recorder.update(torch.stack(batch))
    return float(recorder.mean.flatten()[0]), float(recorder.std.flatten()[0]), len(paths)


def save_stats(folder: Path, mean: float, std: float) -> None:
    """``norm_stats/glob_norm.npy`` as MetaAudio saves it: ``[mean, std]``, shape (2, 1, 1)."""
    (folder / "norm_stats").mkdir(parents=True, exist_ok=True)
    stats = np.array([[[mean]], [[std]]], dtype=np.float32)
    np.save(folder / "norm_stats" / "glob_norm.npy", stats)


def prepare_data(args: argparse.Namespace, splits: np.ndarray, rows: list[dict]) -> dict:
    """Features and statistics under ``WORK/data/ESC-50-master``, made once per work folder
    (``prep_info.json`` marks a finished preparation of the same ``esc50.csv``)."""
    main_dir = args.work / "data" / DATASET
    info_path = main_dir / "prep_info.json"
    digest = sha256(args.esc50 / "meta" / "esc50.csv")
    if info_path.exists():
        info = json.loads(info_path.read_text())
        if info["esc50_csv_sha256"] != digest:
            raise SystemExit(f"{main_dir} was prepared from another esc50.csv; use a new --work")
        print(f"features: cached in {main_dir}", flush=True)
        return info
    if main_dir.exists():
        shutil.rmtree(main_dir)  # an unfinished earlier preparation
    (main_dir / "meta").mkdir(parents=True)
    shutil.copyfile(args.esc50 / "meta" / "esc50.csv", main_dir / "meta" / "esc50.csv")
    (main_dir / "audio").symlink_to((args.esc50 / "audio").resolve())
    shutil.copyfile(args.reference / "data" / DATASET / "splits.npy", main_dir / "splits.npy")
    start = time.time()
    modules = preprocessing_modules(args.reference)
    spec_dir = make_features(modules, main_dir)
    n_features = sum(len(files) for _, _, files in os.walk(spec_dir))
    if n_features != len(rows):
        raise SystemExit(f"{n_features} features for {len(rows)} csv rows in {spec_dir}")
    classes = {str(c) for c in splits[0]}
    mean, std, n_stats = training_stats(args.metaaudio, spec_dir, classes)
    save_stats(main_dir, mean, std)
    info = {
        "esc50": str(args.esc50),
        "esc50_csv_sha256": digest,
        "n_clips": len(rows),
        "folds": sorted({int(row["fold"]) for row in rows}),
        "n_features": n_features,
        "mel_spec_params": modules.full_stack.MEL_SPEC_PARAMS,
        "waveform_normalised": modules.full_stack.NORM,
        "sample_length": modules.full_stack.SAMPLE_LENGTH,
        "training_stats": {"mean": mean, "std": std, "n_clips": n_stats},
        "seconds": time.time() - start,
    }
    write_json(info_path, info)
    print(f"features: {n_features} in {spec_dir} ({info['seconds']:.0f} s)", flush=True)
    return info


def shipped_stats_folder(args: argparse.Namespace) -> Path:
    """A twin of the prepared folder whose ``glob_norm.npy`` is the reference's shipped file
    (computed on all of ESC-50)."""
    main_dir = args.work / "data" / DATASET
    twin = args.work / "data" / "shipped_stats" / DATASET
    (twin / "norm_stats").mkdir(parents=True, exist_ok=True)
    for name in ("features", "splits.npy"):
        if not (twin / name).is_symlink():
            (twin / name).symlink_to(main_dir / name)
    shipped = args.reference / "data" / DATASET / "norm_stats" / "glob_norm.npy"
    shutil.copyfile(shipped, twin / "norm_stats" / "glob_norm.npy")
    return twin


def stats_of(folder: Path) -> dict:
    """Mean and std stored in ``folder/norm_stats/glob_norm.npy``."""
    stats = np.load(folder / "norm_stats" / "glob_norm.npy").ravel()
    return {"mean": float(stats[0]), "std": float(stats[1])}


# --------------------------------------------------------------------------- configuration
def experiment_config(method: str, budget: dict, folder: str) -> dict:
    """The reference's ``experiment_config.json`` for ``method`` (protonet or cpl)."""
    cpl = method == "cpl"
    shots = {
        f"n_{kind}_{part}": n
        for kind, n in (("way", N_WAY), ("shot", N_SHOT), ("query", N_QUERY))
        for part in ("train", "validation", "test")
    }
    return {
        "encoder_name": "Hybrid",
        "dataset_name": DATASET,
        "use_attention": False,
        "use_contrastive": cpl,
        "input_type": "spec",
        **shots,
        "train_query_augmentations": False,
        "validation_query_augmentations": False,
        "test_query_augmentations": False,
        "lr": LR,
        "loss": {
            "l_param": CPL_ESC50["l_param"],
            "cpl": {"use": cpl, "m_param": CPL_ESC50["m_param"], "t_param": CPL_ESC50["t_param"]},
            "angular": {"use": False, **APL_ESC50},
        },
        "num_epochs": budget["epochs"],
        "multi_segm": False,
        "tie_strategy": "",
        "relation_head": False,
        "n_training_tasks": budget["train_tasks"],
        "n_testing_tasks": budget["test_tasks"],
        "device": "cpu",
        "gpu_index": 0,
        **SCHEDULER,
        "patience": PATIENCE,
        "experiment_folder": folder,
        "normalize_prototypes": True,
        "project_prototypes": True,
        "specaug_params": {"use": False, **SPECAUG_ESC50},
        "waveaug_params": {"use": False, **WAVEAUG},
    }


def write_configs(args: argparse.Namespace, tag: str, exp: dict) -> tuple[Path, Path]:
    """Writes both configuration files under ``WORK/configs``; returns their paths."""
    folder = args.work / "configs"
    exp_path = folder / f"{tag}_experiment_config.json"
    model_path = folder / f"{tag}_model_config.json"
    write_json(exp_path, exp)
    write_json(model_path, MODEL_CONFIG)
    return exp_path, model_path


# --------------------------------------------------------------------------- recording
class Recorder:
    """Wraps the reference's loop functions to record one training and its test."""

    def __init__(self) -> None:
        self.epochs: list[dict] = []
        self.saved: list[dict] = []
        self.test: dict | None = None

    def training_epoch(self, original):
        """Wrapper of ``loops.loops.training_epoch``: losses and time of each epoch."""

        def wrapper(*args, **kwargs):
            start = time.time()
            losses = original(*args, **kwargs)
            seconds = time.time() - start
            episodes = kwargs["num_train_tasks"]
            self.epochs.append(
                {
                    "epoch": len(self.epochs) + 1,
                    "train": dict(losses),
                    "train_seconds": seconds,
                    "train_seconds_per_episode": seconds / episodes,
                }
            )
            print(f"epoch {len(self.epochs)}: {losses} ({seconds:.1f} s)", flush=True)
            return losses

        return wrapper

    def evaluate(self, original):
        """Wrapper of ``loops.loops.evaluate_single_segment``: validation accuracy per epoch,
        then the test accuracy, after which the run ends."""

        def wrapper(*args, **kwargs):
            start = time.time()
            mean, std = original(*args, **kwargs)
            seconds, tasks = time.time() - start, kwargs["num_val_tasks"]
            figures = {"acc": float(mean), "std": float(std), "tasks": tasks, "seconds": seconds}
            print(f"{kwargs['dataset'].split}: {figures}", flush=True)
            if kwargs["dataset"].split == "valid":
                self.epochs[-1]["val"] = figures
                return mean, std
            self.test = figures
            raise _Finished

        return wrapper

    def save_checkpoint(self, original):
        """Wrapper of ``EarlyStopping.save_checkpoint``: the epochs whose weights were saved."""

        def wrapper(stopper, val_accuracy, model, epoch):
            self.saved.append({"epoch": epoch, "val_acc": float(val_accuracy)})
            return original(stopper, val_accuracy, model, epoch)

        return wrapper

    def summary(self) -> dict:
        """Test accuracy with its 95% interval over tasks, the selected epoch (the last saved,
        which ``contrastive_training_loop`` reloads) and the per-epoch records."""
        if self.test is None or not self.saved:
            raise RuntimeError("the reference's run ended before its test evaluation")
        test, selected = self.test, self.saved[-1]
        return {
            "test_acc": test["acc"],
            "test_ci95": 1.96 * test["std"] / math.sqrt(test["tasks"]),
            "test_std_over_tasks": test["std"],
            "n_test_tasks": test["tasks"],
            "test_seconds": test["seconds"],
            "selected_epoch": selected["epoch"],
            "val_acc_selected_epoch": selected["val_acc"],
            "saved_epochs": self.saved,
            "epochs": self.epochs,
        }


def install(ref: Path, work: Path, data_dir: Path) -> Recorder:
    """Imports the reference's training modules and makes the changes listed in the module
    docstring; returns the recorder that collects the figures."""
    sys.path.insert(0, str(ref))
    datasets = importlib.import_module("datasets.datasets")
    loops = importlib.import_module("loops.loops")
    early_stopping = importlib.import_module("callbacks.early_stopping")
    dataset_init = datasets.MetaAudioDataset.__init__

    def init(self, experiment_config, root, split=None):
        if Path(root).name != DATASET:
            raise RuntimeError(f"unexpected dataset root {root}")
        return dataset_init(self, experiment_config, root=data_dir, split=split)

    datasets.MetaAudioDataset.__init__ = init
    loops.PROJECT_PATH = str(work)
    recorder = Recorder()
    loops.training_epoch = recorder.training_epoch(loops.training_epoch)
    loops.evaluate_single_segment = recorder.evaluate(loops.evaluate_single_segment)
    stopper = early_stopping.EarlyStopping
    stopper.save_checkpoint = recorder.save_checkpoint(stopper.save_checkpoint)
    return recorder


def seed_all(seed: int) -> None:
    """Seeds Python's ``random`` (episodes), numpy and torch (weights)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def run_reference(ref: Path, work: Path, exp_path: Path, model_path: Path) -> float:
    """Runs ``src/train_test.py`` from ``work`` until the recorder ends it; returns seconds."""
    script = ref / "src" / "train_test.py"
    argv = sys.argv
    sys.argv = [str(script), "-e", str(exp_path), "-m", str(model_path)]
    start = time.time()
    try:
        with restored_working_directory(), contextlib.suppress(_Finished):
            os.chdir(work)
            runpy.run_path(str(script), run_name="__main__")
    finally:
        sys.argv = argv
    return time.time() - start


# --------------------------------------------------------------------------- main
def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("reference", type=Path, help="checkout of magcil/audio-few-shot-learning")
    parser.add_argument(
        "--metaaudio", type=Path, required=True, help="checkout of CHeggan/MetaAudio"
    )
    parser.add_argument(
        "--esc50", type=Path, required=True, help="ESC-50-master folder (meta/esc50.csv, audio/)"
    )
    parser.add_argument("--work", type=Path, required=True, help="folder for all outputs")
    parser.add_argument("--method", choices=("protonet", "cpl"), required=True)
    parser.add_argument("--index", type=int, required=True, help="training index (the seed)")
    parser.add_argument("--smoke", action="store_true", help="1 epoch x 3 episodes, 20 tests")
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--train-tasks", type=int, help="episodes per epoch = validation tasks")
    parser.add_argument("--test-tasks", type=int)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--unseeded", action="store_true", help="do not seed (as the reference)")
    parser.add_argument(
        "--shipped-stats", action="store_true", help="the reference's glob_norm.npy (all ESC-50)"
    )
    parser.add_argument("--out", type=Path, help="result file (default WORK/results/...)")
    parser.add_argument("--reference-commit", help="recorded instead of the checkout's git HEAD")
    parser.add_argument("--metaaudio-commit", help="recorded instead of the checkout's git HEAD")
    args = parser.parse_args()
    for name in ("reference", "metaaudio", "esc50", "work"):
        setattr(args, name, getattr(args, name).resolve())
    return args


def budget_of(args: argparse.Namespace) -> dict:
    """Epochs and tasks: the defaults (or the smoke budget) with the command line's overrides."""
    budget = dict(SMOKE_BUDGET if args.smoke else BUDGET)
    for key in budget:
        if getattr(args, key) is not None:
            budget[key] = getattr(args, key)
    return budget


def main() -> None:
    args = parse_args()
    limit_threads(args.threads)
    tag = f"{args.method}_{args.index}" + ("_smoke" if args.smoke else "")
    rows = read_metadata(args.esc50)
    splits = load_split(args.reference, args.metaaudio)
    check_classes(rows, splits)
    args.work.mkdir(parents=True, exist_ok=True)
    prep = prepare_data(args, splits, rows)
    data_dir = shipped_stats_folder(args) if args.shipped_stats else args.work / "data" / DATASET
    budget = budget_of(args)
    exp = experiment_config(args.method, budget, tag)
    exp_path, model_path = write_configs(args, tag, exp)
    (args.work / "experiments" / tag).mkdir(parents=True, exist_ok=True)
    seed = None if args.unseeded else args.index
    if seed is not None:
        seed_all(seed)
    recorder = install(args.reference, args.work, data_dir)
    seconds = run_reference(args.reference, args.work, exp_path, model_path)
    result = {
        "method": args.method,
        "index": args.index,
        "smoke": args.smoke,
        **recorder.summary(),
        "budget": budget,
        "seed": seed,
        "threads": args.threads,
        "norm_stats": {"source": "shipped" if args.shipped_stats else "training classes"}
        | stats_of(data_dir),
        "data": {"dir": str(data_dir), **prep},
        "total_seconds": seconds,
        "experiment_config": exp,
        "model_config": MODEL_CONFIG,
        "reference": "github.com/magcil/audio-few-shot-learning",
        "reference_commit": args.reference_commit or git_commit(args.reference),
        "metaaudio_commit": args.metaaudio_commit or git_commit(args.metaaudio),
        "generator": "benchmarks/reference_training.py",
        "torch": torch.__version__,
        "numpy": np.__version__,
        "python": sys.version.split()[0],
    }
    results = args.work / "results" / ("smoke" if args.smoke else "")
    out = args.out or results / f"{args.method}_{args.index}.json"
    write_json(out, result)
    print(f"wrote {out}: test {result['test_acc']:.4f} ± {result['test_ci95']:.4f}", flush=True)


if __name__ == "__main__":
    main()
