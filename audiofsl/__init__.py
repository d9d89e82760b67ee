"""audiofsl: few-shot, contrastive and supervised audio classification.

Parts live in one folder per role (``frontends``, ``augmentations``, ``encoders``, ``heads``,
``losses``, ``samplers``, ``data``, ``methods``, ``evaluation``); each is a plain module usable
without Hydra. The entry points ``audiofsl.train``, ``audiofsl.eval`` and
``audiofsl.prepare_data`` compose them from the configs in ``conf/``.
"""

__version__ = "0.1.0"
