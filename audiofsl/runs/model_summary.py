"""The model summary printed when training starts."""

from __future__ import annotations

from lightning.pytorch.callbacks import RichModelSummary
from lightning.pytorch.utilities.model_summary import get_human_readable_count
from rich import get_console
from rich.table import Table


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
