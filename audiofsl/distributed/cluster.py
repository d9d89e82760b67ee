"""Ranks of jobs that submitit starts as local tasks (``hydra/launcher=tasks``).

On SLURM, submitit starts one task per GPU through ``srun`` and Lightning reads the ranks from
SLURM's variables itself. submitit's local executor starts its tasks with ``SUBMITIT_LOCAL_*``
variables instead, which Lightning does not know; :class:`SubmititLocalEnvironment` reads them,
so that a multirun job of several local tasks forms one DDP group instead of each task spawning
processes of its own.
"""

from __future__ import annotations

import os

from lightning.fabric.plugins.environments import ClusterEnvironment

#: submitit's variables for the tasks of a local job.
_TASKS, _RANK, _LOCAL_RANK, _NODE, _JOB = (
    "SUBMITIT_LOCAL_NTASKS", "SUBMITIT_LOCAL_GLOBALID", "SUBMITIT_LOCAL_LOCALID",
    "SUBMITIT_LOCAL_NODEID", "SUBMITIT_LOCAL_JOB_ID",
)  # fmt: skip


class SubmititLocalEnvironment(ClusterEnvironment):
    """The processes of one local submitit job: its tasks, all on this machine.

    The rendezvous port comes from the job id (the pid of submitit's job process, the same in
    every task), so concurrent jobs on one machine use different ports.
    """

    @property
    def creates_processes_externally(self) -> bool:
        return True

    @property
    def main_address(self) -> str:
        return os.environ.get("MASTER_ADDR", "127.0.0.1")

    @property
    def main_port(self) -> int:
        if "MASTER_PORT" in os.environ:
            return int(os.environ["MASTER_PORT"])
        return 20000 + int(os.environ.get(_JOB, "0")) % 20000

    @staticmethod
    def detect() -> bool:
        """Whether this process is a task of a local submitit job of more than one task."""
        return int(os.environ.get(_TASKS, "1")) > 1

    def world_size(self) -> int:
        return int(os.environ[_TASKS])

    def set_world_size(self, size: int) -> None:
        if size != self.world_size():
            raise ValueError(
                f"the local job has {self.world_size()} tasks but the trainer asks for {size} "
                "processes; set trainer.devices (x trainer.num_nodes) to the number of tasks "
                "(hydra.launcher.tasks_per_node)."
            )

    def global_rank(self) -> int:
        return int(os.environ[_RANK])

    def set_global_rank(self, rank: int) -> None:
        pass  # the task's rank is submitit's

    def local_rank(self) -> int:
        return int(os.environ[_LOCAL_RANK])

    def node_rank(self) -> int:
        return int(os.environ.get(_NODE, "0"))
