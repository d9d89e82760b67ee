"""A trained run on your own audio files, from Python (no Hydra): embed, predict, enrol.

::

    from audiofsl.inference import load_model

    model = load_model("outputs/train/2026-11-21_10-00-00")       # or a .ckpt file
    rows, unreadable = model.predict_files(["a.wav", "b.flac"])   # runs with a classifier
    model.enrol({"dog": ["dog.wav"], "bell": ["bell1.ogg", "bell2.wav"]})  # any run
    rows, unreadable = model.classify(["query.mp3"])
    model.export_embeddings(paths, labels, "embeddings/")          # numpy, CSV, TensorBoard

Every file is decoded with :func:`~audiofsl.data.audio_io.load_audio` (any format libsndfile
reads, mixed to mono, resampled to the run's ``data.loader.sample_rate``) and cut into the
run's windows (:meth:`Predictor.windows`). A file's embedding is the mean of its windows'
embeddings; a classifier's window probabilities are combined as the run's test combines them
(:func:`~audiofsl.evaluation.classification.clip_probabilities`). Files that cannot be used
(undecodable, empty, too short, non-finite) are returned as ``(path, reason)`` pairs, never
raised. :mod:`audiofsl.inference.audio_files` finds the files of folders.
"""

from __future__ import annotations

import csv
import importlib.util
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from audiofsl.data.audio_io import AudioLoadError, display_path, load_audio
from audiofsl.data.windows import window_starts
from audiofsl.evaluation.cache import CachedSplit
from audiofsl.evaluation.classification import CLIP_COMBINATIONS, clip_probabilities
from audiofsl.evaluation.windows import mean_over_windows, window_table
from audiofsl.inference.enrolment import Enrolment, QueryAssignment
from audiofsl.methods import FewShotMethod
from audiofsl.runs.composition import build_loader, load_run

__all__ = [
    "FilePrediction",
    "Predictor",
    "cut_windows",
    "load_model",
    "loop_windows",
]

log = logging.getLogger(__name__)

#: ``(path, reason)`` of a file that could not be used.
Failure = tuple[str, str]
PathLike = str | os.PathLike


def cut_windows(wave: Tensor, window: int, hop: int) -> Tensor:
    """Every window of a waveform, as evaluation cuts a clip (:class:`WindowDataset`).

    Windows start every ``hop`` samples (:func:`~audiofsl.data.windows.window_starts`): one
    window for a clip no longer than ``window``, else the fewest that cover every sample; short
    clips and a last window running past the end are loop-padded (:func:`loop_windows`).

    Args:
        wave: ``[T]`` waveform, T >= 1.
        window: window length in samples.
        hop: samples between window starts, in 1..window.

    Returns:
        ``[W, window]`` windows, same dtype and device as ``wave``.
    """
    if wave.dim() != 1 or wave.numel() == 0:
        raise ValueError(f"cut_windows: wave must be a non-empty [T] tensor, got {wave.shape}.")
    starts = torch.tensor(window_starts(wave.numel(), window, hop), device=wave.device)
    return loop_windows(wave, starts, window)


def loop_windows(wave: Tensor, starts: Tensor, window: int) -> Tensor:
    """Windows ``wave[(s + i) % T]``, ``i`` in ``0..window-1``, for each start ``s``, in one
    gather (the looping of :func:`~audiofsl.data.windows.loop_window`).

    Args:
        wave: ``[T]`` waveform, T >= 1.
        starts: ``[W]`` long start samples.
        window: window length in samples.

    Returns:
        ``[W, window]`` windows.
    """
    index = (starts[:, None] + torch.arange(window, device=wave.device)) % wave.numel()
    return wave[index]


@dataclass(frozen=True)
class FilePrediction:
    """A classifier's prediction for one file.

    Attributes:
        path: the file.
        top: the ``top_k`` most probable classes ``(name, probability)``, best first.
        labels: the predicted labels: the most probable class, or for a multi-label run every
            class whose probability exceeds the run's threshold (most probable first).
    """

    path: str
    top: list[tuple[str, float]]
    labels: list[str]


class Predictor:
    """A trained method applied to audio files (see the module's docstring).

    Args:
        config: the run's stored configuration.
        method: the method with its trained weights.
        checkpoint: the checkpoint it was loaded from.
        device: ``"cpu"``, ``"cuda"``, ...; None: CUDA when available.
        batch_size: windows per forward pass (None: the run's ``data.loader.eval_batch_size``).
        class_names: names of the classifier's classes, in label order (None: those saved in
            the checkpoint, see :attr:`class_names`).
    """

    def __init__(
        self,
        config: Any,
        method: FewShotMethod,
        checkpoint: PathLike,
        device: str | torch.device | None = None,
        batch_size: int | None = None,
        class_names: Sequence[str] | None = None,
    ) -> None:
        self.config = config
        self.checkpoint = Path(checkpoint)
        loader = build_loader(config)
        self.sample_rate = int(loader.sample_rate)
        self.window = loader.clip_samples
        self.hop = loader.hop_samples or self.window
        self.min_seconds = float(loader.min_clip_seconds)
        batch_size = loader.eval_batch_size if batch_size is None else batch_size
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size={batch_size!r} must be a positive number of windows.")
        self.batch_size = batch_size
        if device is None:
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.device = torch.device(device)
        self.method = method.to(self.device).eval()
        self.classifier = method.training_classifier()
        threshold = method.decision_threshold()
        self.threshold = None if threshold is None else threshold.detach().float().cpu()
        self._given_names = None if class_names is None else [str(n) for n in class_names]
        self._class_names: list[str] | None = None
        #: The classes enrolled by :meth:`enrol`.
        self.enrolment: Enrolment | None = None

    def __repr__(self) -> str:
        return (
            f"Predictor({type(self.method).__name__} from {self.checkpoint}, windows of "
            f"{self.window} samples at {self.sample_rate} Hz, hop {self.hop}, on {self.device})"
        )

    # ------------------------------------------------------------- windows, embeddings
    def windows(self, audio: Tensor) -> Tensor:
        """The run's windows of a waveform (see :func:`cut_windows`).

        Windows of ``data.loader.clip_seconds`` start every ``data.loader.eval_hop_seconds``
        (every window length when it is null, so that the whole file is used).

        Args:
            audio: ``[T]`` mono waveform at the run's sample rate.

        Returns:
            ``[W, window]`` windows.
        """
        return cut_windows(audio, self.window, self.hop)

    def embed_files(self, paths: Sequence[PathLike]) -> tuple[Tensor, list[Failure]]:
        """Each readable file's embedding: the mean of its windows' embeddings.

        Args:
            paths: audio files.

        Returns:
            ``[N, D]`` float32 embeddings (on the CPU) of the N readable files, in the order of
            ``paths`` with the unusable files left out; those files as ``(path, reason)``.
        """
        embeddings, _, failures = self._embed(paths)
        return embeddings, failures

    def _embed(self, paths: Sequence[PathLike]) -> tuple[Tensor, list[int], list[Failure]]:
        """File embeddings [N, D], the positions in ``paths`` of those files, failures."""
        outputs, clip_of_window, kept, failures = self._window_outputs(paths, logits=False)
        if not kept:
            return torch.zeros(0, self.method.encoder.out_dim), kept, failures
        table, mask = window_table(clip_of_window, len(kept))
        return mean_over_windows(outputs, table, mask), kept, failures

    def _window_outputs(
        self, paths: Sequence[PathLike], logits: bool
    ) -> tuple[Tensor, Tensor, list[int], list[Failure]]:
        """Embeddings (or classifier logits) of every window of every readable file.

        Windows of several files share a batch; a long file is cut a batch at a time.

        Returns:
            ``[N_windows, D or C]`` outputs, ``[N_windows]`` the readable file of each window,
            the positions in ``paths`` of the readable files, and the failures.
        """
        kept, failures, owners = [], [], []
        pending: list[Tensor] = []
        outputs: list[Tensor] = []
        for position, path in enumerate(paths):
            wave = self._load(path)
            if isinstance(wave, str):
                failures.append((str(path), wave))
                continue
            starts = torch.tensor(window_starts(wave.numel(), self.window, self.hop))
            owners.append(torch.full(starts.shape, len(kept), dtype=torch.long))
            kept.append(position)
            for chunk in starts.split(self.batch_size):
                pending.append(loop_windows(wave, chunk, self.window))
                if sum(w.shape[0] for w in pending) >= self.batch_size:
                    outputs += self._forward(torch.cat(pending), logits)
                    pending = []
        if pending:
            outputs += self._forward(torch.cat(pending), logits)
        if not kept:
            return torch.zeros(0), torch.zeros(0, dtype=torch.long), kept, failures
        return torch.cat(outputs), torch.cat(owners), kept, failures

    def _load(self, path: PathLike) -> Tensor | str:
        """The file's waveform at the run's rate, or why it cannot be used."""
        try:
            wave = load_audio(path, self.sample_rate)
        except AudioLoadError as error:
            return error.reason
        if wave.numel() == 0:
            return "no audio frames"
        if not bool(torch.isfinite(wave).all()):
            return "non-finite samples (NaN or infinity)"
        seconds = wave.numel() / self.sample_rate
        if seconds < self.min_seconds:
            return (
                f"too short ({seconds:.3f} s < the run's data.loader.min_clip_seconds="
                f"{self.min_seconds:g})"
            )
        return wave

    @torch.inference_mode()
    def _forward(self, windows: Tensor, logits: bool) -> list[Tensor]:
        """Embeddings [B, D] (or logits [B, C]) of ``windows`` [B, window], in batches."""
        results = []
        for batch in windows.split(self.batch_size):
            out = self.method.embed(self.method.frontend(batch.to(self.device)))
            if logits:
                out = self.classifier(out)
            results.append(out.float().cpu())
        return results

    # ------------------------------------------------------------- classifier
    @property
    def class_names(self) -> list[str]:
        """Names of the classifier's classes, in label order.

        The names given to :func:`load_model`, else those saved in the checkpoint (every run
        saves its training classes), else ``class_0``, ``class_1``, ... with a warning.
        """
        if self._class_names is None:
            self._class_names = self._resolve_class_names()
        return self._class_names

    def _resolve_class_names(self) -> list[str]:
        n_classes = self._n_classes()
        if self._given_names is not None:
            if len(self._given_names) != n_classes:
                raise ValueError(
                    f"class_names: {len(self._given_names)} names given for the run's "
                    f"{n_classes} classes."
                )
            return self._given_names
        stored = self.method.class_names
        if stored is not None and len(stored) == n_classes:
            return list(stored)
        log.warning(
            "class names: %s holds no names for its %d classes (%s); they are named "
            "class_0..class_%d. Add class_names=[NAME,...] (in label order) to the command.",
            self.checkpoint, n_classes,
            "none saved" if stored is None else f"{len(stored)} saved", n_classes - 1,
        )  # fmt: skip
        return [f"class_{i}" for i in range(n_classes)]

    def _n_classes(self) -> int:
        self._require_classifier()
        if isinstance(self.method.n_classes, int):
            return self.method.n_classes
        probe = torch.zeros(2, self.method.encoder.out_dim, device=self.device)
        with torch.inference_mode():
            return int(self.classifier(probe).shape[-1])

    def _require_classifier(self) -> None:
        if self.classifier is None:
            raise ValueError(
                f"{self.checkpoint}: this run's {type(self.method).__name__} has no classifier "
                "over its training classes, so it cannot predict them; train one (e.g. "
                "+experiment=synthetic_supervised), or name new classes from a few examples "
                "with enrol/classify (python -m audiofsl.enrol)."
            )

    def predict_files(
        self, paths: Sequence[PathLike], top_k: int = 3, combine: str = "mean"
    ) -> tuple[list[FilePrediction], list[Failure]]:
        """The classifier's most probable training classes for each file.

        Args:
            paths: audio files.
            top_k: classes reported per file (at most the number of classes).
            combine: how the windows' probabilities make the file's: ``"mean"``, ``"max"`` or
                ``"mean_logits"`` (see :func:`clip_probabilities`).

        Returns:
            One :class:`FilePrediction` per readable file (in the order of ``paths``), and the
            unusable files as ``(path, reason)``.
        """
        self._require_classifier()
        if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1:
            raise ValueError(f"top_k={top_k!r} must be a positive integer.")
        if combine not in CLIP_COMBINATIONS:
            raise ValueError(f"combine={combine!r}: choose one of {CLIP_COMBINATIONS}.")
        logits, clip_of_window, kept, failures = self._window_outputs(paths, logits=True)
        if not kept:
            return [], failures
        split = CachedSplit(logits, clip_of_window, torch.zeros(len(kept), dtype=torch.long))
        multi_label = {"multi_label": True} if self.threshold is not None else {}
        probabilities = clip_probabilities(split, combine, **multi_label)  # [N, C]
        names = self.class_names
        top = probabilities.topk(min(top_k, probabilities.shape[1]), dim=-1)
        rows = []
        for row, position in enumerate(kept):
            best = zip(top.indices[row].tolist(), top.values[row].tolist(), strict=True)
            rows.append(FilePrediction(
                path=str(paths[position]),
                top=[(names[c], p) for c, p in best],
                labels=self._labels(probabilities[row], names),
            ))  # fmt: skip
        return rows, failures

    def _labels(self, probabilities: Tensor, names: list[str]) -> list[str]:
        """The top class, or (multi-label) every class over the threshold, best first."""
        if self.threshold is None:
            return [names[int(probabilities.argmax())]]
        over = (probabilities > self.threshold).nonzero().flatten()
        order = over[probabilities[over].argsort(descending=True)]
        return [names[int(c)] for c in order]

    # ------------------------------------------------------------- new classes
    def enrol(self, support: Mapping[str, Sequence[PathLike] | PathLike]) -> Enrolment:
        """Enrol new classes from a few example files each (as few as one), with any run.

        Each class's prototype is the mean of its support files' embeddings after the method's
        scorer transform (e.g. SimpleShot's centring on the run's mean training embedding and
        L2 normalisation), as in the run's few-shot evaluation (see
        :class:`~audiofsl.inference.enrolment.Enrolment`). Replaces any earlier enrolment;
        :meth:`classify` then assigns files to these classes.

        Args:
            support: ``{class name: audio files}`` (a single path is one file).

        Returns:
            The :class:`Enrolment` (also kept as :attr:`enrolment`), with the support files
            that could not be used in its ``failures``.

        Raises:
            ValueError: naming the class, when one has no readable support file.
        """
        if not support:
            raise ValueError("enrol: support is empty; give {class name: [audio files]}.")
        classes = [str(name) for name in support]
        paths, owner = [], []
        for index, files in enumerate(support.values()):
            files = [files] if isinstance(files, str | os.PathLike) else list(files)
            paths += files
            owner += [index] * len(files)
        embeddings, kept, failures = self._embed(paths)
        failed = sorted(set(range(len(paths))) - set(kept))  # aligned with failures
        for index, name in enumerate(classes):
            if not any(owner[p] == index for p in kept):
                reasons = [f"{path}: {reason}"
                           for p, (path, reason) in zip(failed, failures, strict=True)
                           if owner[p] == index]  # fmt: skip
                raise ValueError(
                    f"enrol: class '{name}' has no readable support file"
                    + (f" ({'; '.join(reasons)})" if reasons else " (none given)")
                )
        train_mean = self.method.fitted_train_mean()
        train_mean = None if train_mean is None else train_mean.float().cpu()
        owners = torch.tensor([owner[p] for p in kept], dtype=torch.long)
        scorer = self.method.prototype_scorer()
        self.enrolment = Enrolment.from_embeddings(embeddings, owners, classes, scorer, train_mean)
        self.enrolment.failures = failures
        return self.enrolment

    def classify(self, query_paths: Sequence[PathLike]) -> tuple[list[QueryAssignment], list]:
        """Assign each file to the nearest class enrolled by :meth:`enrol`.

        The distance is the method's scorer's (``euclidean``, ``squared_euclidean`` or
        ``cosine``; euclidean for methods scored otherwise, e.g. RelationNet); the confidence
        is the softmax over the negative distances to the prototypes.

        Args:
            query_paths: audio files.

        Returns:
            One :class:`~audiofsl.inference.enrolment.QueryAssignment` per readable file (in the
            order given), and the unusable files as ``(path, reason)``.
        """
        if self.enrolment is None:
            raise ValueError("classify: no classes enrolled; call enrol({class: [files]}) first.")
        embeddings, kept, failures = self._embed(query_paths)
        if not kept:
            return [], failures
        return self.enrolment.assign(embeddings, [query_paths[p] for p in kept]), failures

    # ------------------------------------------------------------- export
    def export_embeddings(
        self, paths: Sequence[PathLike], labels: Sequence[str] | None, out_dir: PathLike
    ) -> tuple[dict[str, Path], list[Failure]]:
        """Write the files' embeddings for analysis and for TensorBoard's projector.

        Writes ``embeddings.npy`` (float32 ``[N, D]``, one row per readable file),
        ``metadata.csv`` (``path,label``, the same rows) and, when TensorBoard is installed, a
        projector log in ``out_dir/tensorboard`` (``tensorboard --logdir out_dir/tensorboard``).

        Args:
            paths: audio files.
            labels: a label per file (None: empty labels).
            out_dir: output folder (created).

        Returns:
            The written paths by kind (``embeddings``, ``metadata``, ``tensorboard``), and the
            unusable files as ``(path, reason)``.
        """
        if labels is not None and len(labels) != len(paths):
            raise ValueError(f"labels: {len(labels)} labels for {len(paths)} paths.")
        embeddings, kept, failures = self._embed(paths)
        rows = [(str(paths[p]), "" if labels is None else str(labels[p])) for p in kept]
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        written = {"embeddings": out / "embeddings.npy", "metadata": out / "metadata.csv"}
        np.save(written["embeddings"], embeddings.numpy().astype(np.float32))
        with written["metadata"].open("w", newline="", encoding="utf-8") as handle:
            csv.writer(handle).writerows([("path", "label"), *rows])
        if rows and importlib.util.find_spec("tensorboard") is not None:
            from torch.utils.tensorboard import SummaryWriter

            written["tensorboard"] = out / "tensorboard"
            metadata = [[display_path(path), label or "-"] for path, label in rows]
            with SummaryWriter(str(written["tensorboard"])) as writer:
                writer.add_embedding(embeddings, metadata=metadata,
                                     metadata_header=["path", "label"], tag="audio")  # fmt: skip
        return written, failures


def load_model(
    run_dir_or_ckpt: PathLike,
    which: str = "best",
    device: str | torch.device | None = None,
    batch_size: int | None = None,
    class_names: Sequence[str] | None = None,
) -> Predictor:
    """A trained run ready for audio files (see :class:`Predictor`).

    Args:
        run_dir_or_ckpt: a run directory written by ``audiofsl.train``, or a ``.ckpt``.
        which: ``"best"`` or ``"last"`` checkpoint of a run directory (or ``"untrained"``).
        device, batch_size, class_names: see :class:`Predictor`.
    """
    config, method, checkpoint = load_run(run_dir_or_ckpt, which)
    return Predictor(config, method, checkpoint, device, batch_size, class_names)
