"""A trained run on audio files, from Python (no Hydra).

- :mod:`~audiofsl.inference.predictor`: :class:`Predictor` (embed, predict, enrol, classify,
  export embeddings) and :func:`load_model`, which loads one from a run directory;
- :mod:`~audiofsl.inference.files`: files decoded, cut into a run's windows and embedded;
- :mod:`~audiofsl.inference.file_classifier`: a run's classifier over its classes, on files;
- :mod:`~audiofsl.inference.enrolment`: new classes from a few examples each;
- :mod:`~audiofsl.inference.audio_files`: the audio files of folders, and class folders;
- :mod:`~audiofsl.inference.outputs`: the tables and files ``predict`` and ``enrol`` write.
"""

from audiofsl.data.windows import cut_windows, loop_windows
from audiofsl.inference.enrolment import Enrolment, QueryAssignment
from audiofsl.inference.outputs import FilePrediction
from audiofsl.inference.predictor import Predictor, load_model

__all__ = [
    "Enrolment",
    "FilePrediction",
    "Predictor",
    "QueryAssignment",
    "cut_windows",
    "load_model",
    "loop_windows",
]
