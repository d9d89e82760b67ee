"""An online linear probe: the frozen encoder's val/probe_acc, logged during training."""

from __future__ import annotations

import logging

import lightning as L

from audiofsl.evaluation.probe import ProbeSettings, linear_probe

log = logging.getLogger(__name__)


class LinearProbeEvaluator(L.Callback):
    """Log a linear probe of the frozen encoder every ``every_n_epochs`` epochs (online).

    As the online evaluators of self-supervised training: at the end of a training epoch the
    validation clips are embedded and a linear probe is fitted and measured on them (see
    :func:`~audiofsl.evaluation.probe.linear_probe` with ``split="val"``), logged as
    ``val/probe_acc``. The test split is never looked at.

    Args:
        every_n_epochs: probe after every this many epochs.
        l2, max_iter, fit_fraction, seed: :class:`~audiofsl.evaluation.probe.ProbeSettings`.
    """

    def __init__(
        self,
        every_n_epochs: int = 1,
        l2: float = 1e-3,
        max_iter: int = 200,
        fit_fraction: float = 0.5,
        seed: int = 0,
    ) -> None:
        if every_n_epochs < 1:
            raise ValueError(f"LinearProbeEvaluator every_n_epochs={every_n_epochs} must be >= 1.")
        self.every_n_epochs = int(every_n_epochs)
        self.settings = ProbeSettings(
            l2=l2, max_iter=max_iter, fit_fraction=fit_fraction, seed=seed
        )

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if (trainer.current_epoch + 1) % self.every_n_epochs or trainer.sanity_checking:
            return
        datamodule = trainer.datamodule
        if datamodule is None or datamodule.val_set is None:
            log.warning("LinearProbeEvaluator: no validation split to probe on; skipped")
            return
        result = linear_probe(pl_module, datamodule, self.settings, split="val")
        pl_module.log("val/probe_acc", result["acc"])
        pl_module.log("val/probe_acc_ci95", result["acc_ci95"])
