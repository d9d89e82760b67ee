"""Feature standardisation applied at the end of a frontend."""

from __future__ import annotations

import torch
from torch import Tensor, nn

NORMALIZATION_MODES = ("none", "per_example", "global")


class FeatureNormalization(nn.Module):
    """Standardises features ``[B, C, F, L]`` to zero mean and unit variance.

    Modes:
        ``"none"``: identity.
        ``"per_example"``: each example (and channel) is standardised over its own (F, L).
        ``"global"``: one scalar mean/std estimated on the training data with
        :meth:`update` and :meth:`finalize` (or the owning frontend's ``fit_normalization``).
        The statistics live in persistent buffers ``mean``, ``std`` and ``fitted`` so that
        they are saved with checkpoints.

    Args:
        mode: One of ``"none"``, ``"per_example"``, ``"global"``.
        eps: Lower bound on the standard deviation, avoids division by zero on silent input.

    Attributes:
        n_seen: Number of feature values accumulated by :meth:`update` since the last reset.
    """

    def __init__(self, mode: str = "none", eps: float = 1e-5) -> None:
        super().__init__()
        if mode not in NORMALIZATION_MODES:
            raise ValueError(
                f"normalization={mode!r} is not supported; choose one of {NORMALIZATION_MODES}."
            )
        self.mode = mode
        self.eps = eps
        self.register_buffer("mean", torch.zeros(()))
        self.register_buffer("std", torch.ones(()))
        self.register_buffer("fitted", torch.zeros((), dtype=torch.bool))
        # Python mirror of `fitted`, so that forward never synchronises with the device.
        self._is_fitted = False
        self.register_load_state_dict_post_hook(_sync_fitted_flag)
        self.reset_statistics()

    @property
    def needs_fitting(self) -> bool:
        """True when the mode is ``"global"`` and no statistics have been fitted yet."""
        return self.mode == "global" and not self._is_fitted

    def reset_statistics(self) -> None:
        """Forgets the running sums gathered by :meth:`update` (not the fitted buffers)."""
        self.n_seen = 0
        self._running_mean = torch.zeros((), dtype=torch.float64)
        self._running_m2 = torch.zeros((), dtype=torch.float64)

    @torch.no_grad()
    def update(self, features: Tensor) -> None:
        """Accumulates float64 statistics of a batch (Chan et al. 1979 pairwise merge).

        Args:
            features: Unnormalised features of any shape, e.g. ``[B, C, F, L]``.
        """
        values = features.detach()
        if values.device.type == "mps":  # MPS has no float64 arithmetic
            values = values.cpu()
        values = values.to(torch.float64).flatten()
        n_batch = values.numel()
        if n_batch == 0:
            return
        batch_mean = values.mean()
        batch_m2 = ((values - batch_mean) ** 2).sum()
        batch_mean, batch_m2 = batch_mean.cpu(), batch_m2.cpu()
        total = self.n_seen + n_batch
        delta = batch_mean - self._running_mean
        self._running_mean = self._running_mean + delta * (n_batch / total)
        self._running_m2 = self._running_m2 + batch_m2 + delta**2 * (self.n_seen * n_batch / total)
        self.n_seen = total

    @torch.no_grad()
    def finalize(self) -> tuple[float, float]:
        """Writes the accumulated mean/std into the buffers and marks them fitted.

        Returns:
            The fitted ``(mean, std)`` as Python floats.
        """
        if self.n_seen == 0:
            raise RuntimeError(
                "FeatureNormalization.finalize() called before any update(); "
                "feed at least one non-empty batch of features first."
            )
        std = (self._running_m2 / self.n_seen).sqrt().clamp_min(self.eps)
        self.mean.fill_(float(self._running_mean))
        self.std.fill_(float(std))
        self.fitted.fill_(True)
        self._is_fitted = True
        self.reset_statistics()
        return float(self.mean), float(self.std)

    def forward(self, features: Tensor) -> Tensor:
        """Normalises features.

        Args:
            features: ``[B, C, F, L]`` features.

        Returns:
            ``[B, C, F, L]`` normalised features, same dtype as the input.
        """
        if self.mode == "none":
            return features
        if self.mode == "per_example":
            std, mean = torch.std_mean(features, dim=(-2, -1), correction=0, keepdim=True)
            return (features - mean) / std.clamp_min(self.eps)
        if not self._is_fitted:
            raise RuntimeError(
                'normalization="global" has no statistics yet: call '
                "frontend.fit_normalization(training_waveform_batches) before the first "
                "forward pass, or load a checkpoint that contains them."
            )
        return (features - self.mean.to(features.dtype)) / self.std.to(features.dtype)

    def extra_repr(self) -> str:
        return f"mode={self.mode!r}, eps={self.eps}"


def _sync_fitted_flag(module: FeatureNormalization, incompatible_keys) -> None:
    module._is_fitted = bool(module.fitted)
