"""Build the library's objects from a composed configuration (used by the entry points).

A method's config owns its parts: every entry of ``cfg.method`` that is an object config
(``_target_``) is built, in the order the method config lists them, and handed to the method's
constructor under its key. Dimensions follow the objects: a part's config may read a property of
a part built before it with the ``${part:NAME.ATTRIBUTE}`` resolver, e.g. an encoder's
``n_features: ${part:frontend.n_features}`` or a head's ``in_dim: ${part:encoder.out_dim}``.
Values known only after data setup (:class:`~audiofsl.data.DataFacts`) reach the stored config
through :func:`record_data_facts`.

Every run stores its resolved configuration (those dimensions written out as numbers) as
``config.yaml`` in the run directory and inside each checkpoint, so :func:`load_run` can rebuild
the exact model and data from either.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import lightning as L
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf, open_dict

from audiofsl.data import DataFacts, EpisodeNeed
from audiofsl.evaluation import EpisodeSettings, EvaluationProtocol
from audiofsl.losses import BCEWithLogitsLoss
from audiofsl.methods import FewShotMethod
from audiofsl.runs.pretrained import PRETRAINED_CHECKPOINT, fit_to_pretrained_encoder
from audiofsl.runs.stored import load_stored_config, stored_config

log = logging.getLogger(__name__)

CONFIG_FILE = "config.yaml"
CHECKPOINT_CONFIG_KEY = "audiofsl_config"

_BUILT_PARTS: ContextVar[dict[str, Any] | None] = ContextVar("audiofsl_built_parts", default=None)


def resolve_part(path: str) -> Any:
    """``${part:encoder.out_dim}``: an attribute of a part already built for the method.

    Outside :func:`build_method` it raises, so that no config resolved then holds a wrong value;
    a config printed with ``--cfg job --resolve`` shows a placeholder instead
    (:mod:`audiofsl.runs.cli`).
    """
    parts = _BUILT_PARTS.get()
    name, _, attributes = path.partition(".")
    if parts is None:
        raise ValueError(
            f"${{part:{path}}} is only known while audiofsl.runs.composition.build_method builds "
            "the method's parts; build the method (or give the value explicitly) instead."
        )
    if name not in parts:
        raise ValueError(
            f"${{part:{path}}}: the part '{name}' is not built yet (built so far: "
            f"{list(parts)}); in the method config, list '{name}' before the parts that use it."
        )
    value = parts[name]
    for attribute in filter(None, attributes.split(".")):
        value = getattr(value, attribute)
    return value


if not OmegaConf.has_resolver("part"):
    OmegaConf.register_new_resolver("part", resolve_part)


def partial_of(node: DictConfig) -> Any:
    """``node`` instantiated as a partial, to be called with ready-made objects.

    Objects passed to ``instantiate`` as keyword arguments would be merged into the config,
    which turns dataclasses such as ``EpisodeSpec`` into dictionaries.
    """
    return instantiate(node, _partial_=True, _convert_="all")


def build_evaluation(cfg: DictConfig) -> EvaluationProtocol:
    """The evaluation protocol of ``cfg.evaluation``."""
    return instantiate(cfg.evaluation, _convert_="all")


def evaluation_needs(evaluation: EvaluationProtocol) -> dict[str, list[EpisodeNeed]]:
    """The episode settings the protocol draws from the val and test splits, each named by its
    command-line key (``evaluation.val``, ``evaluation.test.0``, ...)."""

    def need(setting: EpisodeSettings, name: str) -> EpisodeNeed:
        return EpisodeNeed.of(setting, name)

    tests = evaluation.test_settings()
    names = ["evaluation.test"] if isinstance(evaluation.test, EpisodeSettings) else [
        f"evaluation.test.{i}" for i in range(len(tests))
    ]  # fmt: skip
    return {
        "val": [need(evaluation.val, "evaluation.val")],
        "test": [need(s, name) for s, name in zip(tests, names, strict=True)],
    }


#: The settings of ``data/split=auto`` that only the classes split has; any of them given
#: chooses it for a classifier too.
_CLASS_SPLIT_CHOICES = ("train_classes", "val_classes", "test_classes", "sizes", "file")
_CLASS_SPLIT_KEYS = ("ratios", "missing", "seed", *_CLASS_SPLIT_CHOICES)


def resolve_split(cfg: DictConfig) -> None:
    """Choose the split of ``data/split=auto`` by the method, in place (stored with the run).

    A method with a classifier (``method.n_classes``) learns every class: each class's clips
    are split (:class:`~audiofsl.data.ClipSplit`), unless class lists, sizes or a split file
    are given; any other method splits the classes (:class:`~audiofsl.data.ClassSplit`).
    A classifier method on the clips split, whose classes are shared between train and test,
    is tested by its classifier (``method.test_by=classifier``), as a fine-tuned one is.
    """
    split = cfg.data.get("split")
    if split is None or not OmegaConf.is_dict(split):
        return
    if split.get("by") is not None:
        if split.by != "auto":
            raise ValueError(f"data.split.by={split.by!r}: only auto is known; choose "
                             "data/split=classes or data/split=clips instead.")  # fmt: skip
        classifier = "n_classes" in cfg.method
        if classifier and not any(split.get(key) is not None for key in _CLASS_SPLIT_CHOICES):
            chosen = {"_target_": "audiofsl.data.ClipSplit", "fractions": split.fractions,
                      "seed": split.seed}  # fmt: skip
        else:
            chosen = {"_target_": "audiofsl.data.ClassSplit",
                      **{key: split[key] for key in _CLASS_SPLIT_KEYS}}  # fmt: skip
        cfg.data.split = chosen
        log.info("data.split: %s for this method", chosen["_target_"].rsplit(".", 1)[-1])
    by_clips = cfg.data.split.get("_target_") == "audiofsl.data.ClipSplit"
    if by_clips and "n_classes" in cfg.method and cfg.method.get("test_by") == "episodes":
        log.info("the clips split shares its classes: testing by the classifier, "
                 "method.test_by=classifier")  # fmt: skip
        cfg.method.test_by = "classifier"


def build_datamodule(
    cfg: DictConfig, evaluation: EvaluationProtocol | None = None, episodes: bool = True
) -> Any:
    """Instantiate ``cfg.data`` with the training sampler and the evaluation episode needs.

    ``data/split=auto`` is resolved first (:func:`resolve_split`, in ``cfg``). A method tested
    by its classifier (``method.test_by: classifier``) draws no episodes, so its val/test
    splits need none; nor do measurements without episodes (``episodes=False``, e.g. a linear
    probe).
    """
    resolve_split(cfg)
    evaluation = evaluation if evaluation is not None else build_evaluation(cfg)
    sampler = instantiate(cfg.sampler)
    by_classifier = cfg.method.get("test_by") == "classifier" or not episodes
    needs = {"val": [], "test": []} if by_classifier else evaluation_needs(evaluation)
    return partial_of(cfg.data)(train_sampler=sampler, eval_needs=needs)


def record_data_facts(cfg: DictConfig, facts: DataFacts) -> None:
    """Write what the run learned from its data into ``cfg``, the configuration it is stored
    with (and so rebuilt from by ``eval``, ``predict`` and ``enrol``):

    - ``method.n_classes``, when the method has it and it is null: the training classes;
    - ``method.positive_weights``, when ``"auto"``: BCE's per-class positive weights from the
      training clips' label counts;
    - the settings the data module lowered to fit its splits (``adjusted_settings``, see
      :mod:`audiofsl.data.feasibility`): ``evaluation.val.n_query``,
      ``evaluation.test.<i>.n_query``, and for a folder (``data.fit_to_data``) their ``n_way``,
      ``sampler.n_way`` and ``sampler.batch_size``;
    - ``data.split_classes``: the classes of each split as set up, so that every later
      measurement of the run rebuilds exactly these splits.
    """
    if "n_classes" in cfg.method and cfg.method.n_classes is None:
        cfg.method.n_classes = facts.n_classes
    if cfg.method.get("positive_weights") == "auto":
        counts = torch.tensor(facts.label_counts)
        weights = BCEWithLogitsLoss.weights_from_counts(counts, facts.n_train_clips)
        cfg.method.positive_weights = weights.tolist()
    for key, value in facts.adjusted_settings.items():
        if key.startswith(("sampler.", "evaluation.")):
            OmegaConf.update(cfg, key, value, merge=False)
    with open_dict(cfg.data):
        cfg.data.split_classes = dict(facts.split_classes)


def adjusted_evaluation(
    evaluation: EvaluationProtocol, adjusted: Mapping[str, int]
) -> EvaluationProtocol:
    """``evaluation`` with the settings a data module lowered to fit its splits (its
    ``adjusted_settings``, e.g. ``{"evaluation.val.n_query": 9, "evaluation.test.0.n_query":
    11}``); a new protocol, ``evaluation`` is left as it is."""
    val = evaluation.val
    for key, value in adjusted.items():
        setting, _, name = key.rpartition(".")
        if setting == "evaluation.val":
            val = dataclasses.replace(val, **{name: value})
    test = adjusted_test_settings(evaluation.test_settings(), adjusted)
    if isinstance(evaluation.test, EpisodeSettings):
        test = test[0]
    return dataclasses.replace(evaluation, val=val, test=test)


#: Data settings that only say where the run's data now lies: changing them keeps its split.
DATA_PLACE_KEYS = ("root", "manifest")


def with_data_changes(run_cfg: DictConfig, changes: DictConfig | dict | None) -> DictConfig:
    """A run's configuration with a measurement's changes to its data settings.

    Moving the data (``data.root``, ``data.manifest``) keeps the run's split (its stored
    ``data.split_classes``); any other change reads other data (e.g. FMA's genre labels after
    pre-training without them), whose split is made afresh unless the changes give
    ``split_classes`` themselves.
    """
    if not changes:
        return run_cfg
    merged = OmegaConf.merge(run_cfg, {"data": changes})
    other_data = any(key not in DATA_PLACE_KEYS for key in changes)
    if other_data and "split_classes" not in changes and "split_classes" in merged.data:
        merged.data.split_classes = None
    return merged


def adjusted_test_settings(
    settings: list[EpisodeSettings], adjusted: dict[str, int]
) -> list[EpisodeSettings]:
    """The test settings (``evaluation.test.<i>``) with the values a data module lowered to fit
    its splits (its ``adjusted_settings``, e.g. ``{"evaluation.test.0.n_query": 11}``)."""
    result = list(settings)
    for key, value in adjusted.items():
        setting, _, name = key.rpartition(".")
        if setting == "evaluation.test":  # a single test setting
            result[0] = dataclasses.replace(result[0], **{name: value})
        elif setting.startswith("evaluation.test."):
            index = int(setting.removeprefix("evaluation.test."))
            result[index] = dataclasses.replace(result[index], **{name: value})
    return result


def build_method(cfg: DictConfig, evaluation: EvaluationProtocol | None = None) -> FewShotMethod:
    """Build the method's parts in the order its config lists them, then the method.

    Also stores the resolved configuration (dimensions as numbers) in ``method.run_config``.
    """
    cfg = fit_to_pretrained_encoder(cfg)
    evaluation = evaluation if evaluation is not None else build_evaluation(cfg)
    parts: dict[str, Any] = {}
    token = _BUILT_PARTS.set(parts)
    try:
        settings = {}
        for key in cfg.method:
            node = cfg.method[key]
            if OmegaConf.is_dict(node) and "_target_" in node:
                parts[key] = instantiate(node, _convert_="all")
            else:
                settings[key] = node
        method = partial_of(OmegaConf.create(settings))(**parts, evaluation=evaluation)
        method.run_config = OmegaConf.to_container(cfg, resolve=True)
    finally:
        _BUILT_PARTS.reset(token)
    return method


def save_config(cfg: DictConfig | dict, run_dir: str | Path) -> Path:
    """Write the resolved configuration (e.g. ``method.run_config``) into ``run_dir``."""
    path = Path(run_dir) / CONFIG_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    container = OmegaConf.to_container(cfg, resolve=True) if OmegaConf.is_config(cfg) else cfg
    OmegaConf.save(OmegaConf.create(container), path)
    return path


def find_checkpoint(run_dir: Path, which: str = "best") -> Path:
    """``run_dir/checkpoints/{best,last}.ckpt``, with a clear error when it is missing."""
    path = run_dir / "checkpoints" / f"{which}.ckpt"
    if not path.is_file():
        found = sorted(p.name for p in (run_dir / "checkpoints").glob("*.ckpt"))
        raise FileNotFoundError(
            f"no {which}.ckpt in {run_dir / 'checkpoints'} (found: {found or 'nothing'}); "
            "pass the run directory of a finished training run or a .ckpt file"
        )
    return path


def build_loader(cfg: DictConfig) -> Any:
    """The run's loader settings (``data.loader``: sample rate, windows, batch sizes), built."""
    return instantiate(cfg.data.loader)


def load_run(path: str | Path, which: str = "best") -> tuple[DictConfig, FewShotMethod, Path]:
    """Rebuild a trained method from a run directory or a checkpoint file.

    Args:
        path: a run directory (holding ``config.yaml`` and ``checkpoints/``) or a ``.ckpt``.
        which: in a run directory, the checkpoint to load: ``"best"`` or ``"last"``; or
            ``"untrained"``: the run's method as initialised by its seed, no weights loaded (the
            baseline a learned representation is compared with); or ``"pretrained"``: the same
            for a model built from a pretrained encoder with no training (the encoder loads
            its published weights).

    Returns:
        The stored configuration, the method with its trained weights, and the checkpoint path.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"run_dir {path} does not exist")
    if which in ("untrained", PRETRAINED_CHECKPOINT):
        return _untrained(path)
    ckpt_path = path if path.is_file() else find_checkpoint(path, which)
    checkpoint = torch.load(ckpt_path, map_location="cpu", weights_only=False)
    stored = checkpoint.get(CHECKPOINT_CONFIG_KEY)
    if stored is None:
        raise ValueError(
            f"{ckpt_path} holds no audiofsl configuration; it was not written by audiofsl.train"
        )
    cfg = stored_config(stored)
    method = build_method(cfg)
    method.load_state_dict(checkpoint["state_dict"])
    method.on_load_checkpoint(checkpoint)
    log.info("loaded %s", ckpt_path)
    return cfg, method, ckpt_path


def _untrained(path: Path) -> tuple[DictConfig, FewShotMethod, Path]:
    """A run's method rebuilt from its ``config.yaml`` with the run's seed, untrained."""
    config = (path.parent.parent if path.is_file() else path) / "config.yaml"
    if not config.is_file():
        raise FileNotFoundError(f"checkpoint=untrained needs the run's config.yaml: {config}")
    cfg = load_stored_config(config)
    L.seed_everything(int(cfg.get("seed", 0)), workers=True)
    return cfg, build_method(cfg), config


#: The parts a new method can take over from a trained run (fine-tuning, transfer).
BACKBONE_PARTS = ("frontend", "encoder")


def load_backbone(method: FewShotMethod, source: str | Path, which: str = "best") -> Path:
    """Start ``method``'s frontend and encoder from a trained run's weights (``init_from``).

    Args:
        method: the freshly built method; its frontend and encoder must have the run's
            architecture.
        source: a run directory (its ``which`` checkpoint) or a ``.ckpt`` file.
        which: ``"best"`` or ``"last"`` in a run directory.

    Returns:
        The checkpoint read.

    Raises:
        ValueError: naming ``init_from`` when the architectures differ.
    """
    source = Path(source)
    if not source.exists():
        raise FileNotFoundError(f"init_from={source} does not exist")
    ckpt_path = source if source.is_file() else find_checkpoint(source, which)
    state = torch.load(ckpt_path, map_location="cpu", weights_only=False)["state_dict"]
    for part in BACKBONE_PARTS:
        prefix = f"{part}."
        weights = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
        try:
            getattr(method, part).load_state_dict(weights)
        except RuntimeError as error:
            raise ValueError(
                f"init_from={source}: the run's {part} differs from this configuration's "
                f"({str(error).splitlines()[0]}); use the run's {part} settings."
            ) from error
    log.info("frontend and encoder initialised from %s", ckpt_path)
    return ckpt_path
