"""Records figures of the public reference code of prototypical contrastive learning.

The reference is the code of Sgouropoulos et al., "Prototypical Contrastive Learning for
Improved Few-Shot Audio Classification" (MLSP 2025, arXiv:2509.10074),
github.com/magcil/audio-few-shot-learning, which builds on the features and encoders of
MetaAudio (Heggan et al., 2022), github.com/CHeggan/MetaAudio-A-Few-Shot-Audio-Classification-
Benchmark. This script imports their modules from local checkouts at run time, runs them on
fixed inputs and writes the numbers to ``tests/fixtures/reference/*.json``;
``tests/test_reference_parity.py`` checks that audiofsl's parts reproduce them. It contains no
code of either repository: it builds inputs, calls the reference's functions and classes
(forward hooks read intermediate tensors) and summarises what comes back.

Fixed inputs are deterministic formulas (the builders below, which the test imports too):

- :func:`fixed_clip`: 5 s at 44.1 kHz (ESC-50's format): five tones under a slow envelope,
  noise from ``numpy.random.default_rng(20250)``, and digital silence over the last 1.25 s
  (as many ESC-50 clips end), peak 0.5; written as 16-bit PCM WAV.
- :func:`fixed_feature_batch`: ``[3, 1, 128, 157]`` encoder input (sines).
- :func:`fixed_stat_batches`: arrays for the normalisation statistics.
- :func:`fixed_episode`: support ``[V, W, S, D]`` and query ``[V, W, Q, D]`` embeddings.
- :func:`fixed_state_dict`: weights for every entry of a module's ``state_dict()``, in the
  module's own order (reference key order), skipping integer buffers (``num_batches_tracked``).
  Entry ``k`` (0-based) with ``n`` elements takes ``v_i = sin(0.37 (i + 1) + 1.1 (k + 1))``,
  ``i = 0 .. n - 1`` in row-major order, then by the key's last component: ``running_var``
  ``0.5 + 0.5 v^2``; ``running_mean`` ``0.1 v``; other 1-D ``weight`` (norm layers)
  ``1 + 0.2 v``; a name starting with ``bias`` ``0.1 v``; tensors of 2 or more dims
  ``v sqrt(3 / fan_in)`` with ``fan_in = n / shape[0]``.
- The CPL candidate draw: ``torch.randperm`` is replaced, only while the reference's loss
  runs, by :func:`fixed_permutation` of the call number, and the permutations it handed out
  are recorded (the reference draws ``indices[randperm(len(indices))[:M]]`` per query and
  other class).

Environment: an interpreter with the reference's requirements, e.g. a venv with numpy 1.26.3,
librosa 0.10.2, pandas, tqdm, pydub, pyyaml, pytorch-metric-learning, audiomentations 0.37,
torch-audiomentations, matplotlib, torch and torchaudio (the reference pins torch 2.4.1; any
recent torch computes the same figures to float32 rounding). audiofsl is not imported.

Usage::

    git clone https://github.com/magcil/audio-few-shot-learning magcil
    git clone https://github.com/CHeggan/MetaAudio-A-Few-Shot-Audio-Classification-Benchmark \\
        metaaudio
    python benchmarks/reference_parity.py magcil --metaaudio metaaudio
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import math
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "reference"

# The fixed clip, at ESC-50's native rate.
CLIP_RATE = 44100
CLIP_SECONDS = 5
CLIP_SILENCE_FROM = 3.75  # seconds; digital silence from here to the end
CLIP_SEED = 20250
# Mel bins and frames whose values are recorded (frames 117-120 cross into the silence).
SUMMARY_BINS = (0, 1, 5, 20, 50, 90, 127)
SUMMARY_FRAMES = (0, 1, 30, 60, 90, 116, 117, 118, 119, 120, 130, 155, 156)
# Encoders: batch of 3 log-mel-like maps, 128 bins x 157 frames (5 s at hop 512).
FEATURE_SHAPE = (3, 1, 128, 157)
# Episode of the losses: V views, W-way, S-shot, Q-query, D dims.
EPISODE = {"n_views": 2, "n_way": 5, "n_shot": 5, "n_query": 5, "dim": 16}
# ESC-50 values of the reference's README ("FS+CPL parameters"): lambda, T, M.
CPL_ESC50 = {"l_param": 1.7235, "t_param": 6.0488, "m_param": 3}
# A small projection head (the reference's ESC-50 head is 256-128-256).
PROJECTION = {"input_dim": 16, "hidden_dim": 8, "output_dim": 12}
SIG = 9  # significant digits written (float32 values round-trip)
# README.md "ModelConfig" of the reference; MetaAudio's all_model_params.yaml adds the CNN's
# trial_shape, which the reference's get_backbone_model does not pass.
HYBRID_CONFIG = {
    "in_channels": 1,
    "seq_layers": 1,
    "seq_type": "RNN",
    "bidirectional": False,
    "hidden_channels": 64,
    "pool_dim": [3, 3],
    "out_dim": 64,
}
CNN_CONFIG = {"in_channels": 1, "hidden_channels": 64, "pool_dim": [3, 3], "out_dim": 64}


# --------------------------------------------------------------------------- fixed inputs
def fixed_clip() -> np.ndarray:
    """The fixed clip: ``[CLIP_RATE * CLIP_SECONDS]`` float32 at 44.1 kHz, peak 0.5."""
    n = CLIP_RATE * CLIP_SECONDS
    rng = np.random.default_rng(CLIP_SEED)
    t = np.arange(n) / CLIP_RATE
    freqs = np.array([220.0, 440.0, 1250.0, 3100.0, 6400.0])
    amps = np.array([0.5, 0.3, 0.2, 0.1, 0.05])
    phases = rng.uniform(0.0, 2.0 * np.pi, freqs.size)
    tones = np.sum(amps[:, None] * np.sin(2 * np.pi * freqs[:, None] * t + phases[:, None]), 0)
    clip = (0.6 + 0.4 * np.sin(2 * np.pi * 0.5 * t)) * tones + 0.02 * rng.standard_normal(n)
    clip[int(CLIP_SILENCE_FROM * CLIP_RATE) :] = 0.0
    return (0.5 * clip / np.abs(clip).max()).astype(np.float32)


def write_fixed_clip(path: str | os.PathLike) -> None:
    """Writes :func:`fixed_clip` as 16-bit PCM WAV (ESC-50's format)."""
    import soundfile

    soundfile.write(os.fspath(path), fixed_clip(), CLIP_RATE, subtype="PCM_16")


def fixed_feature_batch() -> np.ndarray:
    """Encoder input ``FEATURE_SHAPE`` float32: smooth patterns of unit scale, one per example."""
    b, _, f, t = np.meshgrid(
        *(np.arange(n, dtype=np.float64) for n in FEATURE_SHAPE), indexing="ij"
    )
    x = np.sin(0.013 * (f + 1) * (b + 1) + 0.071 * t) + 0.5 * np.cos(0.029 * f * t / (b + 1) + b)
    return x.astype(np.float32)


def fixed_stat_batches() -> list[np.ndarray]:
    """Normalisation-statistics input: batches of 8 and 4 spectrogram-like ``[128, 157]`` arrays
    (dB-like values around -20 with a spread of about 20)."""
    arrays = []
    for k in range(12):
        f, t = np.meshgrid(np.arange(128.0), np.arange(157.0), indexing="ij")
        x = -20.0 + 15.0 * np.sin(0.05 * f * (k + 1) + 0.11 * t) - 0.12 * f + 3.0 * np.cos(k + t)
        arrays.append(x.astype(np.float32))
    return [np.stack(arrays[:8]), np.stack(arrays[8:])]


def fixed_episode() -> tuple[np.ndarray, np.ndarray]:
    """Support ``[V, W, S, D]`` and query ``[V, W, Q, D]`` float32 embeddings, class-major: a
    class centre plus a per-example (and per-view) offset."""
    v_, w_, s_, q_, d_ = (EPISODE[k] for k in ("n_views", "n_way", "n_shot", "n_query", "dim"))
    v, w, k, d = np.meshgrid(
        np.arange(v_), np.arange(w_), np.arange(s_ + q_), np.arange(d_), indexing="ij"
    )
    centre = 0.5 * np.sin(1.1 * (w + 1) * (d + 1))
    offset = 0.8 * np.sin(2.3 * (k + 1) * (d + 1) + 0.7 * w + 0.4 * v)
    shift = 0.6 * v * np.cos(0.9 * (w + 1) * (d + 2))  # a class-dependent shift per view
    x = (centre + offset + shift).astype(np.float32)
    return x[:, :, :s_], x[:, :, s_:]


def fixed_permutation(call: int, n: int) -> np.ndarray:
    """Permutation of ``range(n)`` number ``call``: argsort of ``sin(1.7 (call + 1) (i + 1))``."""
    keys = np.sin(1.7 * (call + 1) * (np.arange(n) + 1.0))
    return np.argsort(keys, kind="stable")


def fixed_value(k: int, name: str, shape: tuple[int, ...]) -> np.ndarray:
    """Value of state-dict entry ``k`` named ``name`` (see the module docstring), float32."""
    n = int(np.prod(shape)) if shape else 1
    v = np.sin(0.37 * (np.arange(n) + 1.0) + 1.1 * (k + 1))
    last = name.rsplit(".", 1)[-1]
    if last == "running_var":
        x = 0.5 + 0.5 * v**2
    elif last == "running_mean":
        x = 0.1 * v
    elif len(shape) >= 2:
        x = v * math.sqrt(3.0 / (n / shape[0]))
    elif last.startswith("bias"):
        x = 0.1 * v
    else:
        x = 1.0 + 0.2 * v
    return x.reshape(shape).astype(np.float32)


def fixed_state_dict(keys_and_shapes: list[tuple[str, tuple[int, ...]]]) -> dict[str, np.ndarray]:
    """Fixed weights for float entries ``(key, shape)`` listed in the module's state-dict order."""
    return {
        key: fixed_value(k, key, tuple(shape)) for k, (key, shape) in enumerate(keys_and_shapes)
    }


def float_entries(module: torch.nn.Module) -> list[tuple[str, tuple[int, ...]]]:
    """``(key, shape)`` of the floating-point entries of ``module.state_dict()``, in order."""
    return [(k, tuple(v.shape)) for k, v in module.state_dict().items() if v.is_floating_point()]


# --------------------------------------------------------------------------- summaries
def rounded(x) -> list | float:
    """Nested lists of floats rounded to ``SIG`` significant digits."""
    array = np.asarray(x, dtype=np.float64)
    if array.ndim == 0:
        return float(f"{float(array):.{SIG}g}")
    return [rounded(row) for row in array]


def checksum(x) -> dict:
    """Shape, sum, sum of squares and the first values of an array (to check rebuilt inputs)."""
    array = np.asarray(x, dtype=np.float64)
    flat = array.ravel()
    return {
        "shape": list(array.shape),
        "sum": rounded(flat.sum()),
        "sum_squares": rounded((flat**2).sum()),
        "first": rounded(flat[:5]),
    }


def feature_summary(features: np.ndarray) -> dict:
    """Summary of a ``[n_mels, L]`` feature matrix."""
    x = np.asarray(features, dtype=np.float64)
    return {
        "shape": list(x.shape),
        "mean": rounded(x.mean()),
        "std": rounded(x.std()),
        "min": rounded(x.min()),
        "max": rounded(x.max()),
        "bins": list(SUMMARY_BINS),
        "frames": list(SUMMARY_FRAMES),
        "values": rounded(x[np.ix_(SUMMARY_BINS, SUMMARY_FRAMES)]),
        "bin_means": rounded(x.mean(axis=1)),
        "frame_means": rounded(x.mean(axis=0)),
    }


# --------------------------------------------------------------------------- reference access
def reference_modules(ref: Path) -> SimpleNamespace:
    """Imports the reference modules used here from the checkout ``ref``."""
    for path in (ref / "offline_preprocessing", ref):
        sys.path.insert(0, str(path))
    names = {
        "to_np_and_norm": "to_np_and_norm",
        "to_spec": "to_spec",
        "full_stack_esc": "full_stack_ESC",
        "main_modules": "models.main_modules",
        "prototypical": "models.prototypical",
        "loss": "loops.loss",
        "datasets": "datasets.datasets",
        "batch_creation": "datasets.batch_creation",
    }
    return SimpleNamespace(**{key: importlib.import_module(mod) for key, mod in names.items()})


def git_commit(path: Path) -> str | None:
    try:
        out = subprocess.run(
            ["git", "-C", str(path), "rev-parse", "HEAD"], capture_output=True, text=True
        )
    except OSError:
        return None
    return out.stdout.strip() or None


@contextlib.contextmanager
def restored_working_directory():
    """Restores the caller's working directory (the reference's preprocessing may ``chdir``)."""
    before = os.getcwd()
    try:
        yield
    finally:
        os.chdir(before)


# --------------------------------------------------------------------------- figures
def feature_figures(r: SimpleNamespace, ref: Path) -> dict:
    """Log-mel features of the fixed clip through the reference's two feature paths."""
    import librosa
    import torchaudio

    params = dict(r.full_stack_esc.MEL_SPEC_PARAMS)
    length = r.full_stack_esc.SAMPLE_LENGTH
    with tempfile.TemporaryDirectory() as tmp, restored_working_directory():
        tmp = Path(tmp)
        (tmp / "npy").mkdir()
        (tmp / "spec").mkdir()
        write_fixed_clip(tmp / "clip.wav")
        # offline path: wav -> librosa.load at 16 kHz -> per-clip z-normalisation -> .npy
        r.to_np_and_norm.file_conversion(
            str(tmp / "npy"), str(tmp / "clip.wav"), params["sr"], r.full_stack_esc.NORM
        )
        waveform = np.load(tmp / "npy" / "clip.npy")
        # .npy -> librosa mel spectrogram -> 20 / power * log10(mel + epsilon)
        r.to_spec.to_spectrogram(str(tmp / "npy" / "clip.npy"), str(tmp / "spec"), length, **params)
        offline = np.load(tmp / "spec" / "clip.npy")
    # on-the-fly path (input_type "wav"): torchaudio's MelSpectrogram with the settings of
    # src/train_test.py, then datasets/batch_creation.py's mel_spec_function_gpu
    ta_params = {
        "sample_rate": 16000,
        "n_mels": 128,
        "n_fft": 1024,
        "hop_length": 512,
        "power": 2.0,
    }
    transform = torchaudio.transforms.MelSpectrogram(**ta_params)
    online = r.batch_creation.mel_spec_function_gpu(torch.from_numpy(waveform)[None], transform)[0]
    # global normalisation as MetaAudioDataset applies it, with the stored ESC-50 statistics
    dataset = SimpleNamespace(root=ref / "data" / "ESC-50-master")
    mean, std = r.datasets.MetaAudioDataset.get_normalization_stats(dataset)
    normalised = r.datasets.MetaAudioDataset.normalize_spectrogram(
        None, torch.from_numpy(offline), mean=mean, std=std
    )
    steps = np.arange(waveform.size, step=7919)
    return {
        "clip": {
            "sample_rate": CLIP_RATE,
            "seconds": CLIP_SECONDS,
            "subtype": "PCM_16",
            "checksum": checksum(fixed_clip()),
        },
        "offline": {
            "source": "offline_preprocessing/full_stack_ESC.py (MEL_SPEC_PARAMS, SAMPLE_LENGTH, "
            "NORM), to_np_and_norm.py (file_conversion), to_spec.py (to_spectrogram)",
            "mel_spec_params": params,
            "sample_length": length,
            "waveform_normalised": bool(r.full_stack_esc.NORM),
            "log_offset": sys.float_info.epsilon,
            "librosa_version": librosa.__version__,
            "soxr_version": importlib.import_module("soxr").__version__,
            "waveform": {
                "length": int(waveform.size),
                "dtype": str(waveform.dtype),
                "mean": rounded(waveform.astype(np.float64).mean()),
                "std": rounded(waveform.astype(np.float64).std()),
                "indices": steps.tolist(),
                "values": rounded(waveform[steps]),
            },
            "features": feature_summary(offline),
        },
        "online": {
            "source": "src/train_test.py (torchaudio MelSpectrogram settings), "
            "datasets/batch_creation.py (mel_spec_function_gpu)",
            "mel_spectrogram_params": ta_params,
            "log_offset": float(torch.finfo(torch.float32).eps),
            "torchaudio_version": torchaudio.__version__,
            "features": feature_summary(online.numpy()),
        },
        "normalised": {
            "source": "datasets/datasets.py (get_normalization_stats, normalize_spectrogram), "
            "data/ESC-50-master/norm_stats/glob_norm.npy",
            "mean": rounded(mean),
            "std": rounded(std),
            "features": feature_summary(normalised.numpy()),
        },
    }


def normalization_figures(metaaudio: Path) -> dict:
    """MetaAudio's global statistics (StatsRecorder, red_dims (0, 1, 2)) on fixed batches."""
    base = metaaudio / "Examples" / "Proto_Kaggle18"
    sys.path.insert(0, str(base))
    recorder_module = importlib.import_module("dataset_.stat_recorder_class")
    recorder = recorder_module.StatsRecorder(red_dims=(0, 1, 2))
    batches = fixed_stat_batches()
    for batch in batches:
        recorder.update(torch.from_numpy(batch))
    return {
        "source": "Examples/Proto_Kaggle18/dataset_/stat_recorder_class.py (StatsRecorder), "
        "dataset_/dataset_stuff.py (gen_training_stats: global spec norm red_dims (0, 1, 2), "
        "batches of 1000 clips)",
        "batch_checksums": [checksum(b) for b in batches],
        "mean": rounded(recorder.mean.flatten()[0]),
        "std": rounded(recorder.std.flatten()[0]),
    }


def _record(module: torch.nn.Module, names: list[str]) -> tuple[dict, list]:
    """Forward hooks on the named submodules: their input and output of the last call."""
    seen: dict = {}
    handles = []
    for name in names:
        sub = module.get_submodule(name)

        def hook(_, inputs, output, name=name):
            seen[name] = (inputs[0], output[0] if isinstance(output, tuple) else output)

        handles.append(sub.register_forward_hook(hook))
    return seen, handles


def encoder_figures(r: SimpleNamespace) -> dict:
    """Hybrid (CRNN) and CNN embeddings for fixed weights and input, with intermediates."""
    x = torch.from_numpy(fixed_feature_batch())
    hybrid_config, cnn_config = dict(HYBRID_CONFIG), dict(CNN_CONFIG)
    try:
        r.main_modules.get_backbone_model("CNN", {"CNN": cnn_config})
        cnn_factory_error = None
    except Exception as error:  # noqa: BLE001 - recorded as a fact about the reference
        cnn_factory_error = f"{type(error).__name__}: {error}"
    torch.manual_seed(0)
    hybrid = r.main_modules.get_backbone_model("Hybrid", {"Hybrid": hybrid_config})
    cnn = r.main_modules.StandardCNN(trial_shape=list(x.shape), **cnn_config)
    out = {"input_checksum": checksum(x.numpy()), "cnn_factory_error": cnn_factory_error}
    for name, model, config, hooks in (
        ("hybrid", hybrid, hybrid_config, ["conv_encoder", "seq_layers", "logits"]),
        ("cnn", cnn, {**cnn_config, "trial_shape": list(x.shape)}, ["conv_encoder", "logits"]),
    ):
        entries = float_entries(model)
        weights = fixed_state_dict(entries)
        model.load_state_dict({k: torch.from_numpy(v) for k, v in weights.items()}, strict=False)
        seen, handles = _record(model, hooks)
        model.eval()
        with torch.no_grad():
            embedding = model(x)
            figures = {
                "config": config,
                "state_dict": [[k, list(s)] for k, s in entries],
                "conv_map": rounded(seen["conv_encoder"][1].flatten(1)),
                "embedding": rounded(embedding),
            }
            if name == "hybrid":
                figures["rnn_last"] = rounded(seen["seq_layers"][1][:, -1])
                figures["pre_logits"] = rounded(seen["logits"][0])
            model.train()  # batch statistics in BatchNorm; the conv map has no dropout
            model(x)
            figures["conv_map_train"] = rounded(seen["conv_encoder"][1].flatten(1))
        for handle in handles:
            handle.remove()
        out[name] = figures
    return out


@contextlib.contextmanager
def fixed_randperm(log: list):
    """``torch.randperm`` replaced by :func:`fixed_permutation` (calls logged) while active."""
    original = torch.randperm

    def randperm(n, *args, **kwargs):
        perm = fixed_permutation(len(log), int(n))
        log.append(perm.tolist())
        return torch.as_tensor(perm, dtype=torch.long)

    torch.randperm = randperm
    try:
        yield
    finally:
        torch.randperm = original


def loss_figures(r: SimpleNamespace) -> dict:
    """Prototypical and CPL loss values of the reference's model and losses on a fixed episode."""
    support, query = (torch.from_numpy(a) for a in fixed_episode())
    n_way, n_shot, n_query = (EPISODE[k] for k in ("n_way", "n_shot", "n_query"))
    proto_cls = r.prototypical.ContrastivePrototypicalNetworksWithoutAttention
    projection = r.main_modules.ProjectionHead({"Projection": PROJECTION})
    proj_entries = float_entries(projection)
    projection.load_state_dict(
        {k: torch.from_numpy(v) for k, v in fixed_state_dict(proj_entries).items()}
    )
    fsl = r.loss.FSL_Loss()
    cpl = r.loss.CPL_Loss(T=CPL_ESC50["t_param"], M=CPL_ESC50["m_param"])
    out: dict = {
        "episode": dict(EPISODE),
        "cpl_params": dict(CPL_ESC50),
        "projection": {"config": PROJECTION, "state_dict": [[k, list(s)] for k, s in proj_entries]},
        "support_checksum": checksum(support.numpy()),
        "query_checksum": checksum(query.numpy()),
        "source": "loops/loss.py (FSL_Loss, CPL_Loss), models/prototypical.py "
        "(ContrastivePrototypicalNetworksWithoutAttention), models/main_modules.py "
        "(EncoderModule, ProjectionHead), loops/loops.py (training_epoch: how they combine)",
    }
    for n_views in (1, 2):
        # The model without attention as training_epoch drives it: views enrich one episode
        # (labels repeated per view, one prototype per class over all views' supports).
        encoder = r.main_modules.EncoderModule(
            {"encoder_name": "Hybrid"}, {"Hybrid": HYBRID_CONFIG}
        )
        encoder.encoder = torch.nn.Identity()
        model = proto_cls(backbone=encoder, projection_head=projection)
        labels = torch.arange(n_way)
        support_labels = labels.repeat_interleave(n_shot).repeat(n_views)
        query_labels = labels.repeat_interleave(n_query).repeat(n_views)
        support_list = [support[v].reshape(-1, support.shape[-1]) for v in range(n_views)]
        query_list = [query[v].reshape(-1, query.shape[-1]) for v in range(n_views)]
        with torch.no_grad():
            model.process_support_set(support_list, support_labels)
            query_features = model(query_list)
            figures = {"fsl_loss": rounded(fsl(model.prototypes, query_features, query_labels))}
            if n_views == 1:
                figures["prototypes"] = rounded(model.prototypes)
                # CPL_Loss on the embeddings themselves (no projection head), then as
                # training_epoch calls it with project_prototypes=True (the README's value):
                # queries and prototypes through the projection head. (With
                # project_prototypes=False contrastive_forward still projects the queries but
                # not the prototypes.)
                raw = torch.nn.functional.normalize(model.prototypes, p=2.0, dim=1)
                projected_queries, projected_protos = model.contrastive_forward(True)
                for key, protos, queries in (
                    ("raw", raw, query_features),
                    ("projected", projected_protos, projected_queries),
                ):
                    draws: list = []
                    with fixed_randperm(draws):
                        value = cpl(protos, queries, query_labels)
                    figures[f"cpl_loss_{key}"] = rounded(value)
                    figures[f"cpl_draws_{key}"] = draws
        out[f"views_{n_views}"] = figures
    return out


def split_figures(ref: Path) -> dict:
    """The ESC-50 class split the reference trains, validates and tests on."""
    splits = np.load(ref / "data" / "ESC-50-master" / "splits.npy", allow_pickle=True)
    return {
        "source": "data/ESC-50-master/splits.npy",
        "train": [str(c) for c in splits[0]],
        "val": [str(c) for c in splits[1]],
        "test": [str(c) for c in splits[2]],
    }


# --------------------------------------------------------------------------- main
def write(name: str, payload: dict, meta: dict, out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{name}.json"
    path.write_text(json.dumps({"meta": meta, **payload}, indent=1) + "\n")
    print(f"wrote {path} ({path.stat().st_size / 1024:.1f} KB)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("reference", type=Path, help="checkout of magcil/audio-few-shot-learning")
    parser.add_argument(
        "--metaaudio", type=Path, help="checkout of CHeggan/MetaAudio (normalisation statistics)"
    )
    parser.add_argument("--out", type=Path, default=FIXTURES)
    args = parser.parse_args()
    ref = args.reference.resolve()
    torch.set_num_threads(1)
    r = reference_modules(ref)
    meta = {
        "reference": "github.com/magcil/audio-few-shot-learning",
        "reference_commit": git_commit(ref),
        "generator": "benchmarks/reference_parity.py",
        "numpy": np.__version__,
        "torch": torch.__version__,
        "python": sys.version.split()[0],
    }
    write("features", feature_figures(r, ref), meta, args.out)
    write("encoders", encoder_figures(r), meta, args.out)
    write("losses", loss_figures(r), meta, args.out)
    write("splits", split_figures(ref), meta, args.out)
    if args.metaaudio is not None:
        meta_ma = {
            "reference": "github.com/CHeggan/MetaAudio-A-Few-Shot-Audio-Classification-Benchmark",
            "reference_commit": git_commit(args.metaaudio.resolve()),
            "generator": meta["generator"],
            "numpy": np.__version__,
            "torch": torch.__version__,
        }
        write("normalization", normalization_figures(args.metaaudio.resolve()), meta_ma, args.out)


if __name__ == "__main__":
    main()
