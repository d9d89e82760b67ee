"""What a source knows about each clip, and what indexing learns from the file itself."""

from __future__ import annotations

from dataclasses import dataclass, field

from audiofsl.data.audio_io import resampled_length


@dataclass(frozen=True)
class ClipRecord:
    """One audio file of a source and its metadata.

    Attributes:
        path: the file.
        class_name: its class (single-label sources; for a multi-label clip, the first label).
        fold: the dataset's cross-validation fold, where it has folds (ESC-50, UrbanSound8K).
        split: the dataset's own split name, where it has one (FMA, IRMAS, NSynth).
        group: clips that must stay together (a recording, song or speaker).
        labels: every label of a multi-label clip (empty: just ``class_name``).
    """

    path: str
    class_name: str
    fold: int | None = None
    split: str | None = None
    group: str | None = None
    labels: tuple[str, ...] = field(default=())

    @property
    def all_labels(self) -> tuple[str, ...]:
        """Every label of the clip (``(class_name,)`` for a single-label clip)."""
        return self.labels or (self.class_name,)


@dataclass(frozen=True)
class IndexedClip:
    """A record with the facts read from its file when the source was indexed.

    Attributes:
        record: the source's record.
        frames: frames in the file (at ``sample_rate``).
        sample_rate: the file's sample rate in Hz.
        channels: the file's channel count.
        problem: why the file cannot be used ("" when it can).
    """

    record: ClipRecord
    frames: int = 0
    sample_rate: int = 0
    channels: int = 0
    problem: str = ""

    @property
    def usable(self) -> bool:
        return not self.problem

    @property
    def seconds(self) -> float:
        return self.frames / self.sample_rate if self.sample_rate else 0.0

    def num_samples(self, sample_rate: int) -> int:
        """Samples of the clip once decoded and resampled to ``sample_rate``."""
        return resampled_length(self.frames, self.sample_rate, sample_rate)
