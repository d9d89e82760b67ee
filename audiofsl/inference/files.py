"""Audio files through a trained method: decoded, cut into the run's windows, embedded (or
classified) a batch at a time, with the files that cannot be used returned, never raised."""

from __future__ import annotations

import os
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from audiofsl.data.audio_io import AudioLoadError, load_audio
from audiofsl.data.windows import loop_windows, window_starts
from audiofsl.evaluation.windows import mean_over_windows, window_table
from audiofsl.methods import FewShotMethod

__all__ = ["Failure", "FileEmbedder", "PathLike"]

#: ``(path, reason)`` of a file that could not be used.
Failure = tuple[str, str]
PathLike = str | os.PathLike


class FileEmbedder:
    """A method's embeddings (or classifier logits) of audio files.

    Every file is decoded with :func:`~audiofsl.data.audio_io.load_audio` (mixed to mono,
    resampled to ``sample_rate``) and cut into windows of ``window`` samples every ``hop``
    (:func:`~audiofsl.data.windows.cut_windows`); windows of several files share a batch of
    ``batch_size``, and a long file is cut a batch at a time.

    Args:
        method: the trained method, in eval mode on ``device``.
        sample_rate: the run's sample rate in Hz.
        window: window length in samples.
        hop: samples between window starts.
        min_seconds: shorter files are refused.
        batch_size: windows per forward pass.
        device: where the method runs.
    """

    def __init__(
        self,
        method: FewShotMethod,
        sample_rate: int,
        window: int,
        hop: int,
        min_seconds: float,
        batch_size: int,
        device: torch.device,
    ) -> None:
        self.method = method
        self.sample_rate = sample_rate
        self.window = window
        self.hop = hop
        self.min_seconds = min_seconds
        self.batch_size = batch_size
        self.device = device

    def embed(self, paths: Sequence[PathLike]) -> tuple[Tensor, list[int], list[Failure]]:
        """Each readable file's embedding, the mean of its windows' embeddings.

        Returns:
            ``[N, D]`` float32 embeddings (CPU) of the N readable files, their positions in
            ``paths``, and the unusable files as ``(path, reason)``.
        """
        outputs, clip_of_window, kept, failures = self.window_outputs(paths)
        if not kept:
            return torch.zeros(0, self.method.encoder.out_dim), kept, failures
        table, mask = window_table(clip_of_window, len(kept))
        return mean_over_windows(outputs, table, mask), kept, failures

    def window_outputs(
        self, paths: Sequence[PathLike], classifier: nn.Module | None = None
    ) -> tuple[Tensor, Tensor, list[int], list[Failure]]:
        """Embeddings (or, with ``classifier``, its logits) of every window of every readable
        file.

        Returns:
            ``[N_windows, D or C]`` outputs (CPU), ``[N_windows]`` the readable file of each
            window, the positions in ``paths`` of the readable files, and the failures.
        """
        kept, failures, owners = [], [], []
        pending: list[Tensor] = []
        outputs: list[Tensor] = []
        for position, path in enumerate(paths):
            wave = self.load(path)
            if isinstance(wave, str):
                failures.append((str(path), wave))
                continue
            starts = torch.tensor(window_starts(wave.numel(), self.window, self.hop))
            owners.append(torch.full(starts.shape, len(kept), dtype=torch.long))
            kept.append(position)
            for chunk in starts.split(self.batch_size):
                pending.append(loop_windows(wave, chunk, self.window))
                if sum(w.shape[0] for w in pending) >= self.batch_size:
                    outputs += self._forward(torch.cat(pending), classifier)
                    pending = []
        if pending:
            outputs += self._forward(torch.cat(pending), classifier)
        if not kept:
            return torch.zeros(0), torch.zeros(0, dtype=torch.long), kept, failures
        return torch.cat(outputs), torch.cat(owners), kept, failures

    def load(self, path: PathLike) -> Tensor | str:
        """The file's waveform ``[T]`` at the run's rate, or why it cannot be used."""
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
    def _forward(self, windows: Tensor, classifier: nn.Module | None) -> list[Tensor]:
        """Embeddings [B, D] (or logits [B, C]) of ``windows`` [B, window], in batches."""
        results = []
        for batch in windows.split(self.batch_size):
            out = self.method.embed(self.method.frontend(batch.to(self.device)))
            if classifier is not None:
                out = classifier(out)
            results.append(out.float().cpu())
        return results
