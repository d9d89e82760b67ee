"""Which errors of a command are the user's to fix, and the message that says what to do.

A *user error* is a mistake in the command, its settings or its data, fully explained by its
message; it is printed as one message without a traceback:

- Hydra's composition errors: an unknown setting (with "did you mean", see
  :mod:`audiofsl.runs.suggestions`), an unknown config, a malformed override;
- an object config given a setting its class does not take, added on the command line
  (``+sampler.n_shots=1``), also with "did you mean";
- a required setting left unset (``???``: OmegaConf's ``MissingMandatoryValue``);
- a ``ValueError`` or ``OSError`` raised by a ``raise`` statement of audiofsl's own code. This is
  the library's convention for user errors: such a message names the setting or the file at
  fault and what to do (``Set evaluation.test.0.n_way=3``), so no traceback adds to it;
- a file or folder that is missing, of the wrong kind or not permitted
  (``FileNotFoundError`` and its kin), wherever raised: its message names the path.

Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import linecache
import re
from collections.abc import Callable, Sequence
from pathlib import Path

from hydra.errors import (
    CompactHydraException,
    ConfigCompositionException,
    InstantiationException,
)
from omegaconf import DictConfig
from omegaconf.errors import MissingMandatoryValue, OmegaConfBaseException

from audiofsl.runs.suggestions import (
    added_setting_suggestion,
    composition_suggestion,
    unused_group_message,
)

#: Errors about a path that its message names, wherever they are raised.
PATH_ERRORS = (
    FileNotFoundError, NotADirectoryError, IsADirectoryError, PermissionError, FileExistsError,
)  # fmt: skip
_PACKAGE_DIR = Path(__file__).resolve().parents[1]
_FULL_KEY = re.compile(r"full_key: (\S+)")


def raised_by_audiofsl(error: BaseException) -> bool:
    """Whether ``error`` comes from a ``raise`` statement in audiofsl's own code."""
    tb = error.__traceback__
    if tb is None:
        return False
    while tb.tb_next is not None:
        tb = tb.tb_next
    filename = tb.tb_frame.f_code.co_filename
    if not Path(filename).resolve().is_relative_to(_PACKAGE_DIR):
        return False
    statement = linecache.getline(filename, tb.tb_lineno).strip()
    return statement == "raise" or statement.startswith("raise ")


def is_user_error(error: BaseException) -> bool:
    """A ValueError or OSError that audiofsl raises itself, or an error about a path."""
    if isinstance(error, PATH_ERRORS):
        return True
    return isinstance(error, ValueError | OSError) and raised_by_audiofsl(error)


def hydra_message(error: CompactHydraException) -> str:
    """Hydra's own text of a compact error, with its OmegaConf cause (as Hydra prints them)."""
    cause = error.__cause__
    if isinstance(cause, OmegaConfBaseException):
        return f"{error}\n{cause}"
    return str(error)


def instantiation_message(error: InstantiationException) -> str | None:
    """The message of a user error raised while an object was built from its config, with the
    config node it was built from; None when the cause is a bug."""
    cause = error.__cause__
    if cause is None or not is_user_error(cause):
        return None
    full_key = _FULL_KEY.search(str(error))
    return f"{cause}\n(while building {full_key.group(1)})" if full_key else str(cause)


def user_error_message(
    error: BaseException,
    overrides: Sequence[str] = (),
    compose: Callable[[], DictConfig | None] = lambda: None,
) -> str | None:
    """The message that replaces the traceback of a user error; None for a bug.

    Args:
        error: what the command raised.
        overrides: the command line's overrides, to find a mistyped ``+key=value``.
        compose: composes the command's config (only called to suggest a setting).
    """
    if isinstance(error, ConfigCompositionException):
        return (
            unused_group_message(error, overrides)
            or composition_suggestion(error)
            or hydra_message(error)
        )
    suggestion = added_setting_suggestion(error, overrides, compose)
    if suggestion is not None:
        return suggestion
    if isinstance(error, MissingMandatoryValue):
        key = error.full_key or error.key
        return f"{key} is required: add {key}=... to the command (--help describes it)."
    if isinstance(error, InstantiationException):
        return instantiation_message(error)
    if isinstance(error, CompactHydraException):
        return hydra_message(error)
    return str(error) if is_user_error(error) else None
