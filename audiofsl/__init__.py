"""audiofsl: few-shot, contrastive and supervised audio classification.

Parts live in one folder per role (``frontends``, ``augmentations``, ``encoders``, ``heads``,
``losses``, ``samplers``, ``data``, ``methods``, ``evaluation``, ``inference``); each is a plain
module usable without Hydra. The entry points at the root (``audiofsl.train``, ``eval``,
``prepare_data``, ``results``, ``predict``, ``enrol``, ``study``) compose them from the configs
in ``conf/`` through :mod:`audiofsl.runs`.
"""

__version__ = "0.1.0"
