"""A callback that signals its own process (SIGKILL by default) at a given training step."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import lightning as L


class KillAtStep(L.Callback):
    """Send ``signal_name`` to this process once ``trainer.global_step`` reaches ``step``.

    SIGKILL (the default) ends it at once, with no cleanup; SIGTERM lets Lightning stop after
    the batch. Fires once: it first writes ``marker``, and does nothing when the marker exists
    (so the resumed run, which stores the same callbacks, trains on).
    """

    def __init__(self, step: int, marker: str, signal_name: str = "SIGKILL") -> None:
        self.step = step
        self.marker = Path(marker)
        self.signal = signal.Signals[signal_name]

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        # every process of a DDP run kills itself at the same step, each with its own marker
        marker = self.marker.with_name(f"{self.marker.name}.{trainer.global_rank}")
        if trainer.global_step >= self.step and not marker.exists():
            marker.write_text(f"killed at step {trainer.global_step}\n")
            os.kill(os.getpid(), self.signal)
