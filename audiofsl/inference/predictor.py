"""A trained run on your own audio files, from Python (no Hydra): embed, predict, enrol.

::

    from audiofsl.inference import load_model

    model = load_model("outputs/train/2026-11-21_10-00-00")       # or a .ckpt file
    rows, unreadable = model.predict_files(["a.wav", "b.flac"])   # runs with a classifier
    model.enrol({"dog": ["dog.wav"], "bell": ["bell1.ogg", "bell2.wav"]})  # any run
    rows, unreadable = model.classify(["query.mp3"])
    model.export_embeddings(paths, labels, "embeddings/")          # numpy, CSV, TensorBoard

Files are decoded, cut into the run's windows and embedded by a
:class:`~audiofsl.inference.files.FileEmbedder`; a file's embedding is the mean of its windows'.
A classifier's window probabilities are combined per file
(:class:`~audiofsl.inference.file_classifier.FileClassifier`). Files that cannot be used
(undecodable, empty, too short, non-finite) are returned as ``(path, reason)`` pairs, never
raised. :mod:`audiofsl.inference.audio_files` finds the files of folders.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from audiofsl.data.windows import cut_windows
from audiofsl.inference.enrolment import (
    Enrolment,
    QueryAssignment,
    readable_owners,
    support_files,
)
from audiofsl.inference.file_classifier import FileClassifier
from audiofsl.inference.files import Failure, FileEmbedder, PathLike
from audiofsl.inference.outputs import FilePrediction, write_embeddings
from audiofsl.methods import FewShotMethod
from audiofsl.runs.composition import build_loader, load_run

__all__ = ["Predictor", "load_model"]


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
        batch_size = loader.eval_batch_size if batch_size is None else batch_size
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size={batch_size!r} must be a positive number of windows.")
        if device is None:
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.device = torch.device(device)
        self.method = method.to(self.device).eval()
        self.sample_rate, self.window = int(loader.sample_rate), loader.clip_samples
        self.hop, self.batch_size = loader.hop_samples or self.window, batch_size
        seconds = float(loader.min_clip_seconds)
        #: Decodes, windows and embeds files (the run's rate, windows and hop).
        self.files = FileEmbedder(self.method, self.sample_rate, self.window, self.hop, seconds,
                                  batch_size, self.device)  # fmt: skip
        #: The run's classifier over its training classes, on files.
        self.classes = FileClassifier(self.method, self.files, self.checkpoint, class_names)
        #: The classes enrolled by :meth:`enrol`.
        self.enrolment: Enrolment | None = None

    def __repr__(self) -> str:
        return (
            f"Predictor({type(self.method).__name__} from {self.checkpoint}, windows of "
            f"{self.window} samples at {self.sample_rate} Hz, hop {self.hop}, on {self.device})"
        )

    def windows(self, audio: Tensor) -> Tensor:
        """The run's windows ``[W, window]`` of a waveform ``[T]`` at its rate: windows of
        ``data.loader.clip_seconds`` every ``data.loader.eval_hop_seconds`` (every window
        length when it is null), see :func:`~audiofsl.data.windows.cut_windows`."""
        return cut_windows(audio, self.window, self.hop)

    def embed_files(self, paths: Sequence[PathLike]) -> tuple[Tensor, list[Failure]]:
        """``[N, D]`` embeddings (CPU) of the N readable files, in the order of ``paths``, and
        the unusable files as ``(path, reason)``."""
        embeddings, _, failures = self.files.embed(paths)
        return embeddings, failures

    # ------------------------------------------------------------- classifier
    @property
    def class_names(self) -> list[str]:
        """Names of the classifier's classes, in label order (see
        :attr:`FileClassifier.class_names`)."""
        return self.classes.class_names

    def predict_files(
        self, paths: Sequence[PathLike], top_k: int = 3, combine: str = "mean"
    ) -> tuple[list[FilePrediction], list[Failure]]:
        """The classifier's ``top_k`` most probable training classes for each file, windows
        combined by ``combine`` (``"mean"``, ``"max"`` or ``"mean_logits"``): one
        :class:`FilePrediction` per readable file (in the order of ``paths``), and the unusable
        files as ``(path, reason)``."""
        return self.classes.predict(paths, top_k, combine)

    # ------------------------------------------------------------- new classes
    def enrol(self, support: Mapping[str, Sequence[PathLike] | PathLike]) -> Enrolment:
        """Enrol new classes from ``{class name: audio files}`` (as few as one file each; a
        single path is one file), with any run, replacing any earlier enrolment.

        Each class's prototype is the mean of its support files' embeddings after the method's
        scorer transform (e.g. SimpleShot's centring on the run's mean training embedding and
        L2 normalisation), as in the run's few-shot evaluation (see :class:`Enrolment`). Returns
        it (also kept as :attr:`enrolment`, the unusable files in its ``failures``); raises a
        ValueError naming a class that has no readable support file.
        """
        classes, paths, owner = support_files(support)
        embeddings, kept, failures = self.files.embed(paths)
        owners = readable_owners(classes, owner, kept, failures)
        train_mean = self.method.fitted_train_mean()
        train_mean = None if train_mean is None else train_mean.float().cpu()
        scorer = self.method.prototype_scorer()
        self.enrolment = Enrolment.from_embeddings(embeddings, owners, classes, scorer, train_mean)
        self.enrolment.failures = failures
        return self.enrolment

    def classify(self, query_paths: Sequence[PathLike]) -> tuple[list[QueryAssignment], list]:
        """Assign each file to the nearest class enrolled by :meth:`enrol`.

        The distance is the method's scorer's (``euclidean``, ``squared_euclidean`` or
        ``cosine``; euclidean for methods scored otherwise, e.g. RelationNet); the confidence
        is the softmax over the negative distances to the prototypes.

        Returns:
            One :class:`QueryAssignment` per readable file (in the order given), and the
            unusable files as ``(path, reason)``.
        """
        if self.enrolment is None:
            raise ValueError("classify: no classes enrolled; call enrol({class: [files]}) first.")
        embeddings, kept, failures = self.files.embed(query_paths)
        if not kept:
            return [], failures
        return self.enrolment.assign(embeddings, [query_paths[p] for p in kept]), failures

    # ------------------------------------------------------------- export
    def export_embeddings(
        self, paths: Sequence[PathLike], labels: Sequence[str] | None, out_dir: PathLike
    ) -> tuple[dict[str, Path], list[Failure]]:
        """Write the files' embeddings for analysis and TensorBoard's projector (see
        :func:`~audiofsl.inference.outputs.write_embeddings`).

        Args:
            paths: audio files.
            labels: a label per file (None: empty labels).
            out_dir: output folder (created).

        Returns:
            The written paths by kind, and the unusable files as ``(path, reason)``.
        """
        if labels is not None and len(labels) != len(paths):
            raise ValueError(f"labels: {len(labels)} labels for {len(paths)} paths.")
        embeddings, kept, failures = self.files.embed(paths)
        rows = [(str(paths[p]), "" if labels is None else str(labels[p])) for p in kept]
        return write_embeddings(embeddings, rows, Path(out_dir)), failures


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
