"""A trained run on audio files, from Python (no Hydra).

- :mod:`~audiofsl.inference.predictor`: :class:`Predictor` (embed, predict, enrol, classify,
  export embeddings) and :func:`load_model`, which loads one from a run directory;
- :mod:`~audiofsl.inference.enrolment`: new classes from a few examples each;
- :mod:`~audiofsl.inference.audio_files`: the audio files of folders, and class folders;
- :mod:`~audiofsl.inference.outputs`: the tables and files ``predict`` and ``enrol`` write.
"""

from audiofsl.inference.enrolment import Enrolment, QueryAssignment
from audiofsl.inference.predictor import (
    FilePrediction,
    Predictor,
    cut_windows,
    load_model,
    loop_windows,
)

__all__ = [
    "Enrolment",
    "FilePrediction",
    "Predictor",
    "QueryAssignment",
    "cut_windows",
    "load_model",
    "loop_windows",
]
