"""From configuration to runs: what the command-line entry points share.

- :mod:`audiofsl.runs.composition`: objects from a composed config (method, data module,
  evaluation), run directories rebuilt (``load_run``);
- :mod:`audiofsl.runs.stored`: configurations stored with runs, read back (moved import paths
  rewritten);
- :mod:`audiofsl.runs.resume`: continuing a stopped run where it was;
- :mod:`audiofsl.runs.measurements`: a run's later measurements (``eval_metrics.json``);
- :mod:`audiofsl.runs.results`: tables of finished runs over seeds;
- :mod:`audiofsl.runs.model_summary`: the model summary printed when training starts;
- :mod:`audiofsl.runs.cli`: :func:`~audiofsl.runs.cli.run_command`, the ``__main__`` of every
  entry point (quiet start, readable errors, config inspection);
- :mod:`audiofsl.runs.errors`: which errors are the user's to fix, and their one-line messages;
- :mod:`audiofsl.runs.suggestions`: "did you mean ...?" for a mistyped setting;
- :mod:`audiofsl.runs.quiet`: library warnings that say nothing a user can act on, silenced;
- :mod:`audiofsl.runs.compilation`: training steps through a compiled encoder
  (``callbacks.compile``).

With the entry points (the modules at the package root), this package is the only code that
imports Hydra or OmegaConf.
"""
