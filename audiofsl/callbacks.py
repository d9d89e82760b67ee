"""Training callbacks beyond Lightning's: head-first fine-tuning, an online linear probe and a
model summary without an empty FLOPs count."""

from __future__ import annotations

import logging

import lightning as L
from lightning.pytorch.callbacks import BaseFinetuning, RichModelSummary
from lightning.pytorch.utilities.model_summary import get_human_readable_count
from rich import get_console
from rich.table import Table
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


class ModelSummary(RichModelSummary):
    """Lightning's rich model summary, without its FLOPs column and total when nothing was counted.

    Lightning 2.6 counts FLOPs only for a model with an ``example_input_array``. audiofsl's
    methods have none (they take batches of clips of any length), so the count would always read
    0 and say nothing about the model.
    """

    @staticmethod
    def summarize(
        summary_data: list[tuple[str, list[str]]],
        total_parameters: int,
        trainable_parameters: int,
        model_size: float,
        total_training_modes: dict[str, int],
        total_flops: int,
        **summarize_kwargs,
    ) -> None:
        if total_flops:
            RichModelSummary.summarize(summary_data, total_parameters, trainable_parameters,
                                       model_size, total_training_modes, total_flops,
                                       **summarize_kwargs)  # fmt: skip
            return
        columns = [(name, values) for name, values in summary_data if name != "FLOPs"]
        table = Table(header_style=summarize_kwargs.get("header_style", "bold magenta"))
        for name, _ in columns:
            table.add_column(name, justify="left" if name in ("Name", "Type", "Mode") else "right")
        for row in zip(*(values for _, values in columns), strict=True):
            table.add_row(*row)
        console = get_console()
        console.print(table)
        count = get_human_readable_count
        console.print(
            f"[bold]Params[/]: {count(trainable_parameters)} trainable, "
            f"{count(total_parameters - trainable_parameters)} non-trainable, "
            f"{count(total_parameters)} in all ({model_size:.3f} MB)"
        )
        console.print(
            f"[bold]Modules[/]: {total_training_modes['train']} in train mode, "
            f"{total_training_modes['eval']} in eval mode"
        )
