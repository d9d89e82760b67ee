"""Keep freed CPU memory in the process, so that training steps do not page-fault it in again.

glibc's ``malloc`` serves every block above 32 MB (its largest mmap threshold) with a fresh
``mmap`` and gives it back with ``munmap`` when freed. A CPU training step on 5 s clips allocates
activations of hundreds of MB (50 clips x 64 channels x 128 x 157 floats is 257 MB), so each
step maps them anew and the kernel zero-fills every 4 KB page on first touch. On a 2-core machine
this was over a third of a step's CPU time, spent in the kernel (``+experiment=esc50_cpl``,
5-way 1-shot 5-query: 330,000 minor page faults a second).

:func:`keep_freed_memory` turns ``mmap`` off for ``malloc`` (``M_MMAP_MAX = 0``) and stops it
returning freed memory at the top of the heap to the system (``M_TRIM_THRESHOLD``), so a step
reuses the pages of the one before. The cost is a higher resident size: the process keeps its
peak. ``python -m audiofsl.train`` calls it unless ``keep_freed_memory=false``. The same can be
had for any process with the environment ``MALLOC_MMAP_MAX_=0
MALLOC_TRIM_THRESHOLD_=2147483647``.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import platform

log = logging.getLogger(__name__)

#: mallopt parameters of glibc's malloc.h.
M_TRIM_THRESHOLD = -1
M_MMAP_MAX = -4
#: Freed memory at the heap's top beyond this many bytes goes back to the system: the largest
#: value mallopt's int takes, 2 GiB - 1 (a step's activations stay far below it).
TRIM_THRESHOLD_BYTES = 2**31 - 1


def uses_glibc() -> bool:
    """Whether this process runs on glibc, whose ``mallopt`` :func:`keep_freed_memory` sets."""
    return platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"


def keep_freed_memory() -> bool:
    """Make glibc's ``malloc`` keep freed memory for reuse (see the module docstring).

    Returns:
        True when glibc took both settings; False elsewhere (macOS, Windows, musl), where
        nothing changes.
    """
    if not uses_glibc():
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    applied = mallopt(M_MMAP_MAX, 0) == 1 and mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES) == 1
    if not applied:
        log.debug("glibc's mallopt refused M_MMAP_MAX=0 or M_TRIM_THRESHOLD; left unchanged")
    return applied
