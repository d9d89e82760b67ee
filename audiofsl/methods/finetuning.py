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

    Layer-wise learning rates (``layer_decay`` < 1, as in BEiT, Bao et al. 2022, and the
    fine-tuning of audio transformers): when the encoder lists its parameters by layer
    (``encoder.layer_groups()``, input to output, as pretrained encoders do), the top layer
    gets the encoder's rate and each layer below it ``layer_decay`` times the rate of the layer
    above; the frontend's parameters, if any, join the lowest group.

    Args:
        head_only_epochs: epochs with the encoder frozen (0: train everything from the start).
        encoder_lr_factor: the encoder's learning rate relative to the head's once unfrozen.
        layer_decay: the learning-rate ratio of a layer to the one above it (1: one rate).
    """

    def __init__(
        self, head_only_epochs: int = 2, encoder_lr_factor: float = 1.0, layer_decay: float = 1.0
    ) -> None:
        super().__init__()
        if head_only_epochs < 0 or not encoder_lr_factor > 0 or not 0 < layer_decay <= 1:
            raise ValueError(
                f"HeadFirstFinetuning: head_only_epochs={head_only_epochs} must be >= 0, "
                f"encoder_lr_factor={encoder_lr_factor} > 0 and layer_decay={layer_decay} in "
                "(0, 1]."
            )
        self.head_only_epochs = int(head_only_epochs)
        self.encoder_lr_factor = float(encoder_lr_factor)
        self.layer_decay = float(layer_decay)

    @staticmethod
    def _backbone(pl_module: L.LightningModule) -> list:
        return [pl_module.frontend, pl_module.encoder]

    def freeze_before_training(self, pl_module: L.LightningModule) -> None:
        if getattr(pl_module.encoder, "freeze", False) is True:
            raise ValueError(
                "HeadFirstFinetuning fine-tunes the encoder, but encoder.freeze=true keeps it "
                "fixed: set encoder.freeze=false."
            )
        if self.head_only_epochs > 0:
            self.freeze(self._backbone(pl_module), train_bn=False)

    def finetune_function(
        self, pl_module: L.LightningModule, epoch: int, optimizer: Optimizer
    ) -> None:
        if self.head_only_epochs > 0 and epoch == self.head_only_epochs:
            lr = optimizer.param_groups[0]["lr"] * self.encoder_lr_factor
            groups = self.layer_groups(pl_module)
            if self.layer_decay == 1.0 or groups is None:
                self.unfreeze_and_add_param_group(
                    self._backbone(pl_module), optimizer, lr=lr, train_bn=True,
                    initial_denom_lr=1.0,
                )  # fmt: skip
            else:
                self.make_trainable(self._backbone(pl_module))
                # by identity: Lightning's filter_on_optimizer compares values, and two layer
                # norms initialised alike would count as one
                present = {id(p) for group in optimizer.param_groups for p in group["params"]}
                for depth, params in enumerate(reversed(groups)):
                    params = [p for p in params if id(p) not in present]
                    if params:
                        optimizer.add_param_group(
                            {"params": params, "lr": lr * self.layer_decay**depth}
                        )
            log.info("epoch %d: encoder unfrozen (lr %.3g, layer decay %g)",
                     epoch, lr, self.layer_decay)  # fmt: skip

    @staticmethod
    def layer_groups(pl_module: L.LightningModule) -> list[list] | None:
        """The backbone's parameters by layer, input to output (the frontend's with the first,
        the encoder's others, e.g. an adapter, with the last), or None when the encoder does not
        list its layers."""
        layer_groups = getattr(pl_module.encoder, "layer_groups", None)
        if layer_groups is None:
            return None
        groups = [list(group) for group in layer_groups()]
        listed = {id(p) for group in groups for p in group}
        groups[0] = [*pl_module.frontend.parameters(), *groups[0]]
        groups[-1] += [p for p in pl_module.encoder.parameters() if id(p) not in listed]
        return groups
