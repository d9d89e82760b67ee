"""Library warnings and notices that say nothing a user can act on, silenced.

:func:`quiet_known_warnings` runs first thing in every command (:func:`audiofsl.runs.cli.
run_command`), before any data or model is built: filters installed inside a task function come
too late for what is built before it, and three commands never installed them at all.
"""

from __future__ import annotations

import logging
import warnings

#: (message pattern, category) of each warning silenced, matched from the message's start.
KNOWN_WARNINGS: tuple[tuple[str, type[Warning]], ...] = (
    # audiofsl's methods own on_after_batch_transfer by design (DataModules never define it).
    (r".*overridden `on_after_batch_transfer`", UserWarning),
    # torch >= 2.11 deprecates LeafSpec, which Lightning 2.6 still uses on every fit.
    (r".*LeafSpec", FutureWarning),
    # Lightning, for a run without a validation split, which audiofsl reports in its own words.
    (r"Total length of `.*` across ranks is zero", UserWarning),
)
#: Lightning's loggers that advertise a cloud logger on every run.
_TIP_LOGGERS = ("lightning.pytorch.utilities.rank_zero", "lightning.fabric.utilities.rank_zero")


class _DropLitLoggerTip(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "litlogger" not in record.getMessage()


def quiet_known_warnings() -> None:
    """Silence :data:`KNOWN_WARNINGS` and Lightning's cloud-logger tip (idempotent)."""
    for message, category in KNOWN_WARNINGS:
        warnings.filterwarnings("ignore", message=message, category=category)
    for name in _TIP_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, _DropLitLoggerTip) for f in logger.filters):
            logger.addFilter(_DropLitLoggerTip())
