"""Lightning's DDP child processes inside a Hydra multirun: one sweep directory for all.

On one machine Lightning starts the other processes of a DDP run by running the command line
again (``LOCAL_RANK=1 python -m audiofsl.train ...``). Under Hydra it adds ``hydra.run.dir`` so
that a child shares the parent's run directory. Under ``-m`` a child runs the same sweep, in
lockstep with the parent (each job is one DDP run), but the sweep directory comes from
``${now:...}`` again, so the children's job logs and ``multirun.yaml`` would land in a second,
later sweep folder. :func:`share_sweep_dir_with_children` makes the children's command name the
parent's sweep directory as well, and :func:`quiet_other_processes` keeps the other processes'
info lines (the same as the first process's) out of the logs.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from lightning.pytorch.strategies.launchers import subprocess_script

_ChildCommand = Callable[[int], tuple[Sequence[str], str]]


def _with_sweep_dir(build: _ChildCommand) -> _ChildCommand:
    def command(local_rank: int) -> tuple[Sequence[str], str]:
        args, cwd = build(local_rank)
        hydra = HydraConfig.get()
        if hydra.mode == RunMode.MULTIRUN:
            args = [*args, f'hydra.sweep.dir="{hydra.sweep.dir}"']
        return args, cwd

    command.audiofsl_sweep_dir = True  # type: ignore[attr-defined]
    return command


def share_sweep_dir_with_children() -> None:
    """Make Lightning's child-process command carry this multirun's sweep directory
    (idempotent; changes nothing outside a Hydra multirun)."""
    build = subprocess_script._hydra_subprocess_cmd
    if not getattr(build, "audiofsl_sweep_dir", False):
        subprocess_script._hydra_subprocess_cmd = _with_sweep_dir(build)


#: Variables that give a process's rank (torchrun, SLURM, submitit's local tasks, Lightning's
#: children, a node of a multi-node launch).
_RANK_VARIABLES = ("RANK", "SLURM_PROCID", "SUBMITIT_LOCAL_GLOBALID", "LOCAL_RANK", "NODE_RANK")


def quiet_other_processes() -> None:
    """In any process of a DDP run but the first, log warnings and errors only."""
    if any(int(os.environ.get(name, "0") or 0) > 0 for name in _RANK_VARIABLES):
        logging.getLogger().setLevel(logging.WARNING)
