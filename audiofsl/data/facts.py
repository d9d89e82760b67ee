"""What a run learns from its data once every split is set up."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class DataFacts:
    """The values only known after data setup, handed once to what is built from them.

    A run builds its method and evaluation with these and stores them in its configuration, so
    that every later measurement (``eval``, ``predict``, ``enrol``) rebuilds the same run.

    Attributes:
        class_names: the training classes in label order (a classifier's outputs).
        split_classes: the classes of each split as set up (widened to fit the episodes,
            classes too small for them dropped; None for a split that shares every class).
        adjusted_settings: the settings the data module lowered to fit its splits, by their
            command-line key (e.g. ``{"evaluation.test.0.n_query": 11}``, see
            :mod:`audiofsl.data.feasibility`).
        label_counts: the training clips of each class ``[C]`` (a multi-label clip counts for
            each of its classes), from which BCE's positive weights are derived.
        n_train_clips: the training clips.
    """

    class_names: tuple[str, ...]
    label_counts: tuple[int, ...]
    n_train_clips: int
    split_classes: Mapping[str, list[str] | None] = field(default_factory=dict)
    adjusted_settings: Mapping[str, int] = field(default_factory=dict)

    @property
    def n_classes(self) -> int:
        """The number of training classes."""
        return len(self.class_names)
