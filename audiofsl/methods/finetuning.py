"""Head-first fine-tuning: a new head trained alone, then the whole encoder at a lower rate."""

from __future__ import annotations

import logging

import lightning as L
from lightning.pytorch.callbacks import BaseFinetuning
from torch.optim import Optimizer

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
