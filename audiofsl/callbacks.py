"""Training callbacks beyond Lightning's: head-first fine-tuning and an online linear probe."""

from __future__ import annotations

import logging

import lightning as L
from lightning.pytorch.callbacks import BaseFinetuning
from torch.optim import Optimizer

from audiofsl.evaluation.probe import ProbeSettings, linear_probe

log = logging.getLogger(__name__)


class HeadFirstFinetuning(BaseFinetuning):
    """Train the head alone for some epochs, then the whole network (fine-tuning recipe).

    Before training the method's ``encoder`` (and ``frontend``, when it has parameters) is
    frozen, batch normalisation included, so the first ``head_only_epochs`` epochs fit the new
    head on fixed features (a linear probe when the head is linear). At epoch
    ``head_only_epochs`` they are unfrozen and added to the optimiser as a new parameter group
    with the head's learning rate times ``encoder_lr_factor``. Built on Lightning's
    :class:`~lightning.pytorch.callbacks.BaseFinetuning`, which also checkpoints the schedule.
    Methods build their optimiser from the parameters that require gradients.

    Args:
        head_only_epochs: epochs with the encoder frozen (0: train everything from the start).
        encoder_lr_factor: the encoder's learning rate relative to the head's once unfrozen.
    """

    def __init__(self, head_only_epochs: int = 2, encoder_lr_factor: float = 1.0) -> None:
        super().__init__()
        if head_only_epochs < 0 or not encoder_lr_factor > 0:
            raise ValueError(
                f"HeadFirstFinetuning: head_only_epochs={head_only_epochs} must be >= 0 and "
                f"encoder_lr_factor={encoder_lr_factor} > 0."
            )
        self.head_only_epochs = int(head_only_epochs)
        self.encoder_lr_factor = float(encoder_lr_factor)

    @staticmethod
    def _backbone(pl_module: L.LightningModule) -> list:
        return [pl_module.frontend, pl_module.encoder]

    def freeze_before_training(self, pl_module: L.LightningModule) -> None:
        if self.head_only_epochs > 0:
            self.freeze(self._backbone(pl_module), train_bn=False)

    def finetune_function(
        self, pl_module: L.LightningModule, epoch: int, optimizer: Optimizer
    ) -> None:
        if self.head_only_epochs > 0 and epoch == self.head_only_epochs:
            lr = optimizer.param_groups[0]["lr"] * self.encoder_lr_factor
            self.unfreeze_and_add_param_group(
                self._backbone(pl_module), optimizer, lr=lr, train_bn=True,
                initial_denom_lr=1.0,
            )  # fmt: skip
            log.info("epoch %d: encoder unfrozen (lr %.3g)", epoch, lr)


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
