"""'Did you mean ...?' for a setting mistyped on the command line.

Two mistakes end here. ``sampler.n_shots=1`` names a key the config lacks: Hydra's composition
fails and its advice, ``+sampler.n_shots=1``, adds the key, so that building the sampler then
fails on an unexpected keyword argument. Both are answered with the closest keys of the node the
setting belongs to (``sampler.n_shot``).
"""

from __future__ import annotations

import difflib
import importlib.resources
import re
from collections.abc import Callable, Sequence

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import ConfigCompositionException
from omegaconf import DictConfig, OmegaConf

_COULD_NOT_OVERRIDE = re.compile(r"Could not override '([^']+)'")
_UNEXPECTED_KEYWORD = re.compile(r"unexpected keyword argument '(\w+)'")


def settings_of(node: DictConfig) -> list[str]:
    """The keys of a config node that are settings (not ``_target_`` and the like)."""
    return sorted(str(key) for key in node if not str(key).startswith("_"))


def unknown_setting(key: str, parent: DictConfig, verb: str = "has") -> str:
    """E.g. ``sampler has no setting 'n_shots'. Did you mean sampler.n_shot?``: the closest
    settings of ``parent`` (the node ``key`` belongs to), or all of them when none is close."""
    parent_path, _, name = key.rpartition(".")
    prefix = f"{parent_path}." if parent_path else ""
    where = parent_path or "the configuration"
    candidates = [setting for setting in settings_of(parent) if setting != name]
    matches = difflib.get_close_matches(name, candidates, n=3, cutoff=0.6)
    if matches:
        hint = "Did you mean " + " or ".join(prefix + match for match in matches) + "?"
    else:
        hint = f"The settings of {where}: {', '.join(candidates)}."
    return f"{where} {verb} no setting '{name}'. {hint}"


def composition_suggestion(error: ConfigCompositionException) -> str | None:
    """For Hydra's ``Could not override 'KEY'``: the message with the closest settings, or None
    for other composition errors."""
    match = _COULD_NOT_OVERRIDE.match(str(error))
    cause = error.__cause__
    parent = getattr(cause, "parent_node", None)
    if match is None or not isinstance(parent, DictConfig):
        return None
    key = match.group(1)
    if getattr(cause, "key", None) != key.rpartition(".")[2]:
        return None
    return (
        f"Could not override '{key}': {unknown_setting(key, parent)}\n"
        f"(To add '{key}' as a new setting, write +{key}=...)"
    )


def unexpected_keyword(error: BaseException) -> str | None:
    """The name in ``got an unexpected keyword argument 'NAME'`` of ``error`` or its causes."""
    while error is not None:
        if isinstance(error, TypeError):
            match = _UNEXPECTED_KEYWORD.search(str(error))
            if match:
                return match.group(1)
        error = error.__cause__ or error.__context__
    return None


def added_setting_suggestion(
    error: BaseException, overrides: Sequence[str], compose: Callable[[], DictConfig | None]
) -> str | None:
    """For an object built with a setting its class does not take, added on the command line
    (``+sampler.n_shots=1``): which override it was and the closest settings of its node.

    ``compose`` composes the command's config (called only here, on this error); None when no
    override of the command added the keyword, i.e. when the error is not a typo of the user's.
    """
    keyword = unexpected_keyword(error)
    if keyword is None:
        return None
    added = [
        override
        for override in OverridesParser.create().parse_overrides(list(overrides))
        if (override.is_add() or override.is_force_add())
        and override.key_or_group.rpartition(".")[2] == keyword
    ]
    if not added:
        return None
    key = added[0].key_or_group
    cfg = compose()
    parent_path = key.rpartition(".")[0]
    parent = OmegaConf.select(cfg, parent_path) if cfg is not None and parent_path else cfg
    if not isinstance(parent, DictConfig):
        return f"{added[0].input_line}: {error}"
    return f"{added[0].input_line}: {unknown_setting(key, parent, verb='takes')}"


_NO_GROUP_MATCH = re.compile(r"Could not override '(\w+)'\. No match in the defaults list")
#: Groups that only some methods compose (in their own defaults list).
METHOD_PART_GROUPS = ("head", "loss")


def methods_taking(group: str) -> list[str]:
    """The ``method=`` options whose config composes ``group`` (e.g. loss: protonet, ...)."""
    folder = importlib.resources.files("audiofsl.conf").joinpath("method")
    return sorted(
        entry.name.removesuffix(".yaml")
        for entry in folder.iterdir()
        if entry.name.endswith(".yaml") and f"/{group}@" in entry.read_text(encoding="utf-8")
    )


def unused_group_message(error: ConfigCompositionException, overrides: Sequence[str]) -> str | None:
    """For ``loss=cpl`` (or ``head=...``) with a method that takes no such group: which methods
    do, and where this method's own part is set; None for other errors."""
    match = _NO_GROUP_MATCH.match(str(error))
    if match is None or match.group(1) not in METHOD_PART_GROUPS:
        return None
    group = match.group(1)
    given = next((o for o in overrides if o.split("=")[0].lstrip("~+") == group), group + "=...")
    taking = methods_taking(group)
    return (
        f"{given}: this run's method takes no {group} group; "
        f"{', '.join('method=' + name for name in taking)} "
        f"{'do' if len(taking) > 1 else 'does'}. Other methods build their parts in their own "
        "config (conf/method/<name>.yaml): change them as method.<part>.<setting>=VALUE, e.g. "
        "method.loss.temperature=0.1 with method=simclr."
    )
