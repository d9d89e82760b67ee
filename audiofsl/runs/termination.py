"""A run stopped by SIGTERM (a scheduler's time limit, ``kill``) ends with a failure status.

Lightning answers SIGTERM by finishing the current batch and raising ``SIGTERMException``, a
``SystemExit`` with status 0. Left alone, a stopped run would look finished to a shell script, a
sweep or a scheduler, although nothing was tested and no ``metrics.json`` was written.
:func:`fail_on_sigterm` turns it into status 143 (128 + SIGTERM, what a shell reports for a
process the signal killed) and logs the command that continues the run.
"""

from __future__ import annotations

import contextlib
import logging
import signal
from collections.abc import Iterator
from pathlib import Path

from lightning.pytorch.utilities.exceptions import SIGTERMException

from audiofsl.runs.resume import CHECKPOINT_DIR, LAST_CHECKPOINT

log = logging.getLogger(__name__)

#: Exit status of a run stopped by SIGTERM.
SIGTERM_EXIT_STATUS = 128 + signal.SIGTERM


@contextlib.contextmanager
def fail_on_sigterm(run_dir: Path, metrics_file: str) -> Iterator[None]:
    """Exit with :data:`SIGTERM_EXIT_STATUS` and the resume command when SIGTERM stops a run.

    Args:
        run_dir: The run's directory (``paths.output_dir``).
        metrics_file: The file a finished run writes there, named in the message.
    """
    try:
        yield
    except SIGTERMException:
        last = run_dir / CHECKPOINT_DIR / LAST_CHECKPOINT
        if last.is_file():
            advice = (
                "continue it from its last completed epoch (the result equals an "
                f"uninterrupted run's) with:\n    python -m audiofsl.train resume={run_dir}"
            )
        else:
            advice = f"no epoch was completed ({last} does not exist): start it again."
        log.error(
            "stopped by SIGTERM before the run finished: %s was not written; %s",
            run_dir / metrics_file,
            advice,
        )
        raise SystemExit(SIGTERM_EXIT_STATUS) from None
