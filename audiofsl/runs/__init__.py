"""From configuration to runs: what the command-line entry points share.

- :mod:`audiofsl.runs.cli`: :func:`~audiofsl.runs.cli.run_command`, the ``__main__`` of every
  entry point (quiet start, readable errors, config inspection);
- :mod:`audiofsl.runs.errors`: which errors are the user's to fix, and their one-line messages;
- :mod:`audiofsl.runs.suggestions`: "did you mean ...?" for a mistyped setting;
- :mod:`audiofsl.runs.quiet`: library warnings that say nothing a user can act on, silenced.

With the entry points and :mod:`audiofsl.composition`, this package is the only code that
imports Hydra or OmegaConf.
"""
