"""Process-group helpers for multi-process (DDP) runs: who am I, and gathers across ranks.

Everything here is a no-op in a single process, so code calls it unconditionally.
"""

from audiofsl.distributed.gather import gather_rows, gather_with_grad
from audiofsl.distributed.world import World, current_world

__all__ = ["World", "current_world", "gather_rows", "gather_with_grad"]
