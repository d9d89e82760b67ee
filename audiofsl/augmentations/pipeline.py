"""Multi-view augmentation pipeline: waveform augmentations, frontend, spectrogram ones."""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import Tensor, nn


def _module_list(modules: Iterable[nn.Module] | nn.Module | None, name: str) -> nn.ModuleList:
    if modules is None:
        return nn.ModuleList()
    if isinstance(modules, nn.Module):
        modules = [modules]
    modules = list(modules)
    for index, module in enumerate(modules):
        if not isinstance(module, nn.Module):
            raise ValueError(
                f"AugmentationPipeline {name}[{index}] is a {type(module).__name__}, not a "
                "torch.nn.Module; instantiate the augmentation before passing it."
            )
    return nn.ModuleList(modules)


class AugmentationPipeline(nn.Module):
    """Ordered waveform and spectrogram augmentations with ``n_views`` views per clip.

    Typical training use (what ``forward`` does)::

        audio = pipeline.repeat_views(audio)      # [V*B, T], view-major
        features = frontend(pipeline.waveform(audio))
        features = pipeline.spectrogram(features)

    Each augmentation draws its randomness per row, so the views of one clip differ.

    Args:
        waveform: Modules applied in order to waveforms ``[B, T]`` (empty: identity).
        spectrogram: Modules applied in order to features ``[B, C, F, L]`` (empty: identity).
        n_views: Number of views per clip (2 for contrastive methods, 1 otherwise).
        keep_original: view 0 is the clip itself, not augmented (the other views are); as the
            view-attention model of the prototypical contrastive learning paper uses.
    """

    def __init__(
        self,
        waveform: Iterable[nn.Module] | nn.Module | None = (),
        spectrogram: Iterable[nn.Module] | nn.Module | None = (),
        n_views: int = 1,
        keep_original: bool = False,
    ) -> None:
        super().__init__()
        if int(n_views) != n_views or n_views < 1:
            raise ValueError(
                f"AugmentationPipeline n_views must be an integer >= 1, got {n_views}."
            )
        self.waveform_augmentations = _module_list(waveform, "waveform")
        self.spectrogram_augmentations = _module_list(spectrogram, "spectrogram")
        self.n_views = int(n_views)
        self.keep_original = bool(keep_original)
        if self.keep_original and self.n_views < 2:
            raise ValueError("AugmentationPipeline keep_original needs n_views >= 2.")

    def repeat_views(self, x: Tensor) -> Tensor:
        """Stacks ``n_views`` copies of a batch, view-major.

        Args:
            x: ``[B, ...]`` tensor (audio ``[B, T]``, labels ``[B]``, ...).

        Returns:
            ``[n_views * B, ...]``; row ``v * B + i`` is view ``v`` of example ``i``.
        """
        if self.n_views == 1:
            return x
        return x.repeat(self.n_views, *([1] * (x.dim() - 1)))

    def waveform(self, audio: Tensor) -> Tensor:
        """Applies the waveform augmentations.

        Args:
            audio: ``[B, T]`` waveforms.

        Returns:
            ``[B, T]`` augmented waveforms.
        """
        for augmentation in self.waveform_augmentations:
            audio = augmentation(audio)
        return audio

    def spectrogram(self, features: Tensor) -> Tensor:
        """Applies the spectrogram augmentations.

        Args:
            features: ``[B, C, F, L]`` features.

        Returns:
            ``[B, C, F, L]`` augmented features.
        """
        for augmentation in self.spectrogram_augmentations:
            features = augmentation(features)
        return features

    def forward(self, audio: Tensor, frontend: nn.Module) -> Tensor:
        """Runs the full training chain: views, waveform augs, frontend, spectrogram augs.

        Args:
            audio: ``[B, T]`` waveforms.
            frontend: Module mapping ``[V*B, T]`` waveforms to ``[V*B, C, F, L]`` features.

        Returns:
            ``[n_views * B, C, F, L]`` augmented features, view-major (view 0 unaugmented with
            ``keep_original``).
        """
        if not self.keep_original:
            return self.spectrogram(frontend(self.waveform(self.repeat_views(audio))))
        others = audio.repeat(self.n_views - 1, *([1] * (audio.dim() - 1)))
        augmented = self.spectrogram(frontend(self.waveform(others)))
        return torch.cat([frontend(audio), augmented])

    def seeded(self, audio: Tensor, frontend: nn.Module, seed: int) -> Tensor:
        """The views of :meth:`forward` drawn from ``seed`` without touching the global random
        state (of training): evaluation of methods that fuse views sees the same views in every
        run.

        Args:
            audio: ``[B, T]`` waveforms.
            frontend: as for :meth:`forward`.
            seed: the draw's seed (e.g. a base plus the batch's first item index).

        Returns:
            ``[n_views * B, C, F, L]`` features, as :meth:`forward`.
        """
        devices = [audio.device.index or 0] if audio.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(seed)
            return self(audio, frontend)
