"""What the MetaAudio sources share: the packaged class splits, root checks, CSV metadata.

MetaAudio (Heggan, Budgett, Hospedales & Nishida, ICANN 2022) fixes a class split for each of
its five datasets (ESC-50, NSynth, FSDKaggle2018, VoxCeleb1, BirdCLEF 2020), plus variants that
take sample length or meta-data into account. The lists ship with the package
(``audiofsl/data/sources/splits/``) and are the default split of each source; ``variant``
picks one of them, and ``data.split`` (a file of your own, class lists, sizes) overrides them.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Sequence
from importlib.resources import files
from pathlib import Path
from typing import ClassVar

from audiofsl.data.base import AudioDataModule, SplitStrategy
from audiofsl.data.splits import ClassSplit

log = logging.getLogger(__name__)

#: The split file of each dataset's default variant is ``<dataset>.json``.
BASELINE = "baseline"


def split_file(dataset: str, variant: str = BASELINE) -> str:
    """The packaged MetaAudio split file of ``dataset`` (e.g. ``"esc50"``) and ``variant``."""
    name = dataset if variant == BASELINE else f"{dataset}_{variant}"
    path = files("audiofsl.data.sources") / "splits" / f"{name}.json"
    if not path.is_file():
        raise FileNotFoundError(f"no MetaAudio split file {name}.json ships with audiofsl.")
    return str(path)


class MetaAudioDataModule(AudioDataModule):
    """A MetaAudio dataset in its official layout under ``root``, split by MetaAudio's classes.

    The split is ``split`` when it is given as anything but a plain :class:`ClassSplit`
    (folds, the dataset's own split) or as a ClassSplit with a ``file``, class lists or
    ``sizes``; otherwise it is the packaged split file of ``variant`` (a ClassSplit's other
    settings, such as ``missing``, are kept). ``variant=None`` uses ``split`` as given (a seeded
    ratio split by default).

    Subclasses set :attr:`dataset`, :attr:`variants` and :attr:`layout`, and implement
    :meth:`load_records` (they never decode audio: the shared index reads every file once).

    Args:
        root: the dataset's folder (see :attr:`layout`).
        variant: which MetaAudio split file (one of :attr:`variants`), or None for none.
        split: the split strategy (see above).
        **kwargs: loader, subset, sampler and seed settings of :class:`AudioDataModule`.
    """

    #: Stem of the packaged split files, e.g. ``"esc50"``.
    dataset: ClassVar[str]
    #: The split file variants that exist for the dataset.
    variants: ClassVar[tuple[str, ...]] = (BASELINE,)
    #: What ``root`` must be, completing "set it to ...".
    layout: ClassVar[str]
    #: ``missing`` of the default split when none is given (classes of the file not in the copy).
    missing: ClassVar[str] = "error"

    def __init__(
        self,
        root: str | os.PathLike | None = None,
        variant: str | None = BASELINE,
        split: SplitStrategy | None = None,
        **kwargs,
    ) -> None:
        name = type(self).__name__
        if root is None:
            raise ValueError(f"{name} needs data.root: set it to {self.layout}.")
        if variant is not None and variant not in self.variants:
            raise ValueError(
                f"data.variant={variant!r}: {name} has the MetaAudio split variants "
                f"{list(self.variants)} (or null for data.split as given)."
            )
        self.root = Path(root).expanduser()
        self.variant = variant
        super().__init__(split=self._default_split(split), **kwargs)

    def _default_split(self, split: SplitStrategy | None) -> SplitStrategy | None:
        if self.variant is None:
            return split
        if split is None:
            return ClassSplit(file=split_file(self.dataset, self.variant), missing=self.missing)
        plain = type(split) is ClassSplit and not split.explicit and split.sizes is None
        if plain and split.file is None:
            return dataclasses.replace(split, file=split_file(self.dataset, self.variant))
        return split

    def index_key(self) -> str:
        return str(self.root.resolve())

    def check_root(self) -> Path:
        """``root``, checked to be an existing folder."""
        if not self.root.is_dir():
            raise FileNotFoundError(
                f"data.root: folder '{self.root}' does not exist; set data.root to {self.layout}."
            )
        return self.root

    def require(self, relative: str, kind: str = "file") -> Path:
        """``root / relative``, checked to exist (a file, or a folder with ``kind="folder"``)."""
        path = self.root / relative
        if not (path.is_dir() if kind == "folder" else path.is_file()):
            raise FileNotFoundError(
                f"data.root={self.root} has no {relative} {kind}; set data.root to {self.layout}."
            )
        return path


def drop_incomplete(rows: list[dict[str, str]], required: Sequence[str], path: Path) -> list:
    """The rows whose ``required`` values are all given; the others are logged and left out."""
    complete = [row for row in rows if all(row.get(name) for name in required)]
    if len(complete) < len(rows):
        log.warning(
            "%s: left out %d rows without a value for %s",
            path,
            len(rows) - len(complete),
            list(required),
        )
    return complete
