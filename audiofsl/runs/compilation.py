"""Training steps through a compiled encoder (``torch.compile``): ``callbacks.compile.mode``.

A few-shot step on a GPU is small (a 5-way 1-shot 5-query episode of Conv4 is about 30 GFLOP), so
the device mostly waits for Python and kernel launches. ``torch.compile`` traces the encoder
once per input shape into one graph: its inductor backend fuses the elementwise work of each
block (batch norm, ReLU) into fewer kernels, and ``mode="reduce-overhead"`` also replays the
whole forward and backward as CUDA graphs, one launch each. Episodes have static shapes, so an
episodic run compiles once (a supervised epoch's smaller last batch compiles a second graph).

Only training steps use the compiled encoder. Validation, test and inference embed through the
eager module (their batch sizes vary, and they run without gradients), so evaluation is the same
whatever the mode. Parameters, buffers and checkpoints are the eager module's: nothing in the
state dict changes.

On the CPU, compiling gains nothing for Conv4 at the ``esc50_*`` shape (its convolutions are
oneDNN's either way): it cut the encoder's forward and backward from 338 profiler events to 147
but ran no faster. It is meant for GPUs, and is off by default (``mode: null``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import lightning as L
import torch

#: ``torch.compile`` modes (``torch._inductor.list_mode_options()``).
MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")


class CompiledTraining(L.Callback):
    """Compile the method's encoder for its training steps during ``fit``.

    Sets ``method.training_encoder`` (which :meth:`~audiofsl.methods.base.FewShotMethod.embed`
    uses while training) when fitting starts, and removes it when fitting ends.

    Args:
        mode: a ``torch.compile`` mode (:data:`MODES`), or None to leave the encoder eager.
        dynamic: let one graph serve several input shapes (``torch.compile(dynamic=...)``);
            False compiles each shape on its own, the fastest for fixed-size episodes.
        fullgraph: fail instead of falling back to Python where the encoder cannot be traced.
        backend: ``torch.compile``'s backend (a name, or a callable taking the traced graph);
            ``mode`` applies to inductor, the default.
    """

    def __init__(
        self,
        mode: str | None = None,
        dynamic: bool | None = False,
        fullgraph: bool = False,
        backend: str | Callable[..., Any] = "inductor",
    ) -> None:
        if mode is not None and mode not in MODES:
            raise ValueError(
                f"callbacks.compile.mode={mode!r} is not a torch.compile mode; choose one of "
                f"{', '.join(MODES)}, or null (no compilation)."
            )
        self.mode, self.dynamic, self.fullgraph, self.backend = mode, dynamic, fullgraph, backend

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.mode is None:
            return
        if not hasattr(pl_module, "training_encoder"):
            raise TypeError(
                f"callbacks.compile: {type(pl_module).__name__} has no training_encoder to set; "
                "only audiofsl's methods (FewShotMethod) can train through a compiled encoder."
            )
        options = {"mode": self.mode} if self.backend == "inductor" else {}
        # A function, not a module: nothing joins the method's parameters or state dict.
        pl_module.training_encoder = torch.compile(
            pl_module.encoder.forward, dynamic=self.dynamic, fullgraph=self.fullgraph,
            backend=self.backend, **options,
        )  # fmt: skip

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.mode is not None:
            pl_module.training_encoder = None

    def on_exception(
        self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException
    ) -> None:
        self.on_fit_end(trainer, pl_module)
