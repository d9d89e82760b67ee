"""The ``__main__`` of every entry point: ``run_command(main, "train")``.

:func:`run_command` runs an entry point's main function (Hydra's, or another) and

- silences library warnings that say nothing about the run, before anything is built
  (:mod:`audiofsl.runs.quiet`);
- reports a user error (:mod:`audiofsl.runs.errors`) as one message, with a "did you mean" for
  a mistyped setting, and exits with status 1; other errors print their traceback from the
  task function on, as Hydra does. ``HYDRA_FULL_ERROR=1`` shows every error's whole traceback;
- for ``--cfg ... --resolve``, prints each ``${part:NAME.ATTRIBUTE}`` value, known only once the
  method's parts are built, as a placeholder that says so.

Hydra reports errors itself, composition errors included, before the task function runs. So for
the duration of the command ``HYDRA_FULL_ERROR=1`` is set, which makes Hydra raise them to this
function instead.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from typing import Any, NoReturn

from hydra import compose, initialize_config_module
from hydra._internal.utils import get_args_parser
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import DictConfig, OmegaConf

from audiofsl.runs.errors import user_error_message
from audiofsl.runs.quiet import quiet_known_warnings

CONFIG_MODULE = "audiofsl.conf"
#: Hydra's switch for complete tracebacks, also this module's.
FULL_ERROR = "HYDRA_FULL_ERROR"
FULL_ERROR_HINT = f"Set the environment variable {FULL_ERROR}=1 for a complete stack trace."


def run_command(main: Callable[[], Any], config_name: str | None = None) -> Any:
    """Run ``main`` (e.g. a ``@hydra.main`` function) as a command; see the module docstring.

    Args:
        main: called without arguments; it reads ``sys.argv``.
        config_name: the primary config of a Hydra command, composed again (only on an error)
            to suggest a mistyped setting's name.
    """
    quiet_known_warnings()
    argv = sys.argv[1:]
    inspection = _build_values_shown(argv) if config_name else nullcontext()
    if os.environ.get(FULL_ERROR) == "1":
        with inspection:
            return main()
    with _hydra_raises(), inspection:
        try:
            return main()
        except Exception as error:
            _exit_with_report(error, argv, config_name)


@contextmanager
def _hydra_raises() -> Iterator[None]:
    """Make Hydra raise errors rather than print them (see the module docstring)."""
    before = os.environ.get(FULL_ERROR)
    os.environ[FULL_ERROR] = "1"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(FULL_ERROR, None)
        else:
            os.environ[FULL_ERROR] = before


def _exit_with_report(error: Exception, argv: Sequence[str], config_name: str | None) -> NoReturn:
    """Print the message of a user error, or a bug's traceback, and exit with status 1."""
    if isinstance(error, BrokenPipeError):  # the output was piped into e.g. head, now closed
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
    hydra_args = _hydra_arguments(argv) if config_name else None
    overrides = hydra_args.overrides if hydra_args else []

    def command_config() -> DictConfig | None:
        return compose_quietly(hydra_args.config_name or config_name, overrides)

    message = user_error_message(error, overrides, command_config)
    if message is None:
        print_task_traceback(error)
        sys.stderr.write(f"\n{FULL_ERROR_HINT}\n")
    else:
        sys.stderr.write(f"Error: {message}\n({FULL_ERROR}=1 shows the traceback.)\n")
    sys.exit(1)


def _hydra_arguments(argv: Sequence[str]) -> Any:
    """The command line as Hydra's parser reads it (None when it does not parse)."""
    try:
        return get_args_parser().parse_known_args(list(argv))[0]
    except SystemExit:
        return None


def compose_quietly(config_name: str, overrides: Sequence[str]) -> DictConfig | None:
    """``config_name`` composed with the command's overrides, a sweep's taking none of its
    values; None when they do not compose."""
    parser = OverridesParser.create()
    try:
        plain = [o.input_line for o in parser.parse_overrides(list(overrides))
                 if not o.is_sweep_override()]  # fmt: skip
        with initialize_config_module(CONFIG_MODULE, version_base="1.3"):
            return compose(config_name, overrides=plain)
    except Exception:
        return None


def print_task_traceback(error: BaseException) -> None:
    """The traceback of ``error`` from the task function on (Hydra's frames left out)."""
    tb = error.__traceback__
    start = tb
    while tb is not None:
        if tb.tb_frame.f_code.co_name == "run_job" and tb.tb_next is not None:
            start = tb.tb_next
            break
        tb = tb.tb_next
    traceback.print_exception(type(error), error, start)


def part_placeholder(path: str) -> str:
    """What ``${part:PATH}`` shows in a printed config: it is known only at build time."""
    return f"<{path}: known once the parts are built>"


@contextmanager
def _build_values_shown(argv: Sequence[str]) -> Iterator[None]:
    """While a config is only printed (``--cfg ... --resolve``), ``${part:...}`` resolves to
    :func:`part_placeholder`; the task function never runs then, so no build sees it."""
    args = _hydra_arguments(argv)
    if args is None or not (args.cfg and args.resolve):
        yield
        return
    from audiofsl.runs.composition import (
        resolve_part,
    )  # torch and Lightning, for Hydra commands only

    OmegaConf.register_new_resolver("part", part_placeholder, replace=True)
    try:
        yield
    finally:
        OmegaConf.register_new_resolver("part", resolve_part, replace=True)
