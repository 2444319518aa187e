"""Keep the C heap's freed memory for the next training step instead of giving it back.

A training step allocates and frees the same few megabytes of tensors every time. glibc's
malloc returns such blocks to the system (a block over its mmap threshold is unmapped when
freed, and the top of the heap is trimmed), so the next step touches fresh pages and pays a
page fault for every 4 KiB: 900-1,300 faults a step in the speedrun's loop. With blocks
of up to 32 MiB taken from the heap and the heap kept, the step reuses its own pages: the
speedrun trained in 0.86x the time (median of 6 paired runs, AMD EPYC; docs/speed.md),
with the same weights bit for bit (where memory lies changes no result).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import platform

M_TRIM_THRESHOLD = -1   # glibc's mallopt parameters (malloc.h)
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 * 2**20   # glibc's largest allowed value (HEAP_MAX_SIZE / 2 on 64-bit)
TRIM_THRESHOLD = 2**30        # the heap's free top is given back only beyond 1 GiB

_done = False


def reuse_freed_memory() -> bool:
    """Tell glibc's malloc to keep freed blocks for reuse; True when it took the settings.
    Elsewhere (macOS, musl) nothing is changed and the answer is False. Once per process:
    the settings hold for every later allocation, in every thread."""
    global _done
    if _done:
        return True
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    _done = bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) & bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
    return _done
