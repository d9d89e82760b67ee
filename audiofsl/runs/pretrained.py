"""Pretrained encoders in runs: an experiment's settings fitted to them, and runs built from
one with no training (``python -m audiofsl.eval encoder=ast +experiment=esc50_protonet``).

An experiment overlay is written for the encoder it trains (e.g. MetaAudio's Conv4 with
``encoder.pool``, SpecAugment on log-mel features). With ``encoder=<pretrained>`` on the same
command, :func:`fit_to_pretrained_encoder` drops the settings the pretrained encoder does not
take and the spectrogram augmentations (the encoder computes its own features from the
waveform), and logs what it dropped.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Sequence
from pathlib import Path

from hydra.utils import get_class
from omegaconf import DictConfig, OmegaConf, open_dict

log = logging.getLogger(__name__)

#: The eval ``checkpoint`` of a model built from a pretrained encoder with no training.
PRETRAINED_CHECKPOINT = "pretrained"


def is_pretrained_encoder(node) -> bool:
    """True when the encoder config ``node`` builds a
    :class:`~audiofsl.encoders.pretrained.PretrainedEncoder`."""
    from audiofsl.encoders.pretrained import PretrainedEncoder

    target = node.get("_target_") if OmegaConf.is_dict(node) or isinstance(node, dict) else None
    if not target:
        return False
    try:
        cls = get_class(target)
    except Exception:
        return False
    return isinstance(cls, type) and issubclass(cls, PretrainedEncoder)


def fit_to_pretrained_encoder(cfg: DictConfig) -> DictConfig:
    """``cfg`` with a pretrained encoder's settings cleaned of other encoders' (see the module
    docstring); unchanged for other encoders. Works on ``cfg.method`` (the built parts)."""
    method = cfg.get("method")
    if method is None or not is_pretrained_encoder(method.get("encoder") or {}):
        return cfg
    encoder = method.encoder
    accepted = set(inspect.signature(get_class(encoder._target_)).parameters)
    foreign = [key for key in encoder if key != "_target_" and key not in accepted]
    augmentation = method.get("augmentation")
    spectrogram = list(augmentation.get("spectrogram") or []) if augmentation else []
    if not foreign and not spectrogram:
        return cfg
    cfg = cfg.copy()
    with open_dict(cfg):
        for key in foreign:
            del cfg.method.encoder[key]
        if spectrogram:
            cfg.method.augmentation.spectrogram = []
    if foreign:
        log.warning("encoder %s does not take %s (another encoder's settings); left out",
                    encoder._target_.rsplit(".", 1)[-1], ", ".join(foreign))  # fmt: skip
    if spectrogram:
        log.warning("spectrogram augmentations left out: the pretrained encoder computes its "
                    "own features from the waveform")  # fmt: skip
    return cfg


def pretrained_config(overrides: Sequence[str], output_dir: str | Path) -> DictConfig:
    """The training configuration ``overrides`` compose (``conf/train.yaml``), written to
    ``output_dir``, for a model measured with no training.

    Raises:
        ValueError: naming ``encoder=`` when the overrides choose no pretrained encoder.
    """
    from hydra import compose, initialize_config_module
    from hydra.core.global_hydra import GlobalHydra

    overrides = [*overrides, f"paths.output_dir={output_dir}"]
    if GlobalHydra.instance().is_initialized():
        cfg = compose("train", overrides=overrides)
    else:
        with initialize_config_module("audiofsl.conf", version_base="1.3"):
            cfg = compose("train", overrides=overrides)
    if not is_pretrained_encoder(cfg.method.encoder):
        raise ValueError(
            f"{list(overrides[:-1])} choose the encoder {cfg.method.encoder.get('_target_')}, "
            "which has no pretrained weights: a model with no training needs a pretrained "
            "encoder, e.g. encoder=cnn14, encoder=ast or encoder=wav2vec2."
        )
    with open_dict(cfg):
        cfg.test = False
    return cfg


#: Hydra's command-line flags followed by a value (``--cfg job``).
HYDRA_FLAGS_WITH_VALUES = {
    "--cfg", "-c", "--package", "-p", "--config-path", "-cp", "--config-name", "-cn",
    "--config-dir", "-cd", "--info", "-i", "--experimental-rerun",
}  # fmt: skip


def split_arguments(argv: Sequence[str], own_keys: set[str], shared: set[str]) -> list[str]:
    """The command line of an entry point with its training settings gathered into one
    ``pretrained=[...]`` setting, when it has no ``run_dir=`` and names an ``encoder=``.

    ``python -m audiofsl.eval encoder=ast +experiment=esc50_protonet split=val`` becomes
    ``python -m audiofsl.eval 'pretrained=["encoder=ast","+experiment=esc50_protonet"]'
    split=val``: arguments whose first key is one of ``own_keys`` (or a Hydra flag) stay the
    entry point's, those under ``shared`` (e.g. ``paths``) go to both, the rest are training
    settings.
    """
    flag_values = {i + 1 for i, arg in enumerate(argv) if arg in HYDRA_FLAGS_WITH_VALUES}
    settings = [a for i, a in enumerate(argv) if not a.startswith("-") and i not in flag_values]
    keys = [arg.lstrip("+~").split("=", 1)[0].split(".", 1)[0] for arg in settings]
    if "run_dir" in keys or "pretrained" in keys or "encoder" not in keys:
        return list(argv)
    kept, training = [], []
    for i, arg in enumerate(argv):
        key = arg.lstrip("+~").split("=", 1)[0].split(".", 1)[0]
        if arg.startswith("-") or i in flag_values or key == "hydra" or key in own_keys:
            kept.append(arg)
            continue
        training.append(arg)
        if key in shared:
            kept.append(arg)
    quoted = ",".join('"' + arg.replace("\\", "\\\\").replace('"', '\\"') + '"' for arg in training)
    return [*kept, f"pretrained=[{quoted}]"]


def pretrained_run(overrides: Sequence[str], output_dir: str | Path):
    """A run directory for a model with a pretrained encoder and no training: the configuration
    of ``overrides`` is composed, the method built (the encoder loads its weights) and its
    resolved configuration written to ``output_dir/config.yaml``, so later commands take
    ``run_dir=output_dir checkpoint=pretrained``.

    Returns:
        ``(stored configuration, method, path of config.yaml)``, as
        :func:`~audiofsl.runs.composition.load_run` returns them.
    """
    import lightning as L

    from audiofsl.runs.composition import build_method, save_config
    from audiofsl.runs.stored import stored_config

    cfg = pretrained_config(overrides, output_dir)
    L.seed_everything(int(cfg.get("seed", 0)), workers=True)
    method = build_method(cfg)
    path = save_config(method.run_config, output_dir)
    log.info("pretrained encoder, no training: %s (run_dir=%s checkpoint=%s)",
             cfg.method.encoder._target_.rsplit(".", 1)[-1], output_dir,
             PRETRAINED_CHECKPOINT)  # fmt: skip
    return stored_config(method.run_config), method, path
