"""Keep the memory a process freed for its next full-resolution image.

glibc gives every large array (over 32 MB: one 24 MP float image is 288 MB) its own ``mmap`` and
hands it back to the kernel when the array is freed, so each full-resolution job page-faults all
its buffers again. On a virtual machine that returns free guest pages to its host (free page
reporting, as on this project's machines) that refault cost 0.3-0.7 s per 288 MB buffer after a
few idle seconds, measured with two fresh 24 MP float buffers: 670 ms against 25 ms when the heap
keeps them. That is more than a whole render, and it made request-to-file times bimodal.

``keep_freed_memory`` serves large arrays from one heap and never trims it: a worker's resident
memory stays at its high-water mark (a few full-resolution images), the trade image servers
usually make. ``PORTRAIT_LAB_RETURN_FREED_MEMORY=1`` turns it off. It must run before the process
starts threads (thread arenas made earlier keep their own mmap behaviour), so the platform calls it
when ``webapp`` is first imported and the benchmarks when ``devtools.bench`` is.

The kept heap only helps if a job's arrays are freed when the job ends. A reference cycle that
reaches a full-size array (a nested function that calls itself, an exception stored with its
traceback) keeps it until Python's cyclic collector runs, which numeric code may not trigger for
several jobs: each job then needs fresh memory, the heap grows and the new pages fault. That is
what kept harmonize bimodal after this allocator change (docs/engines.md); ``test_harmonize`` checks
its arrays are freed with the collector off. The heap is also trimmed once more than
``M_TRIM_THRESHOLD`` (2 GB) lies free at its top, which such growth can reach.
"""

from __future__ import annotations

import ctypes
import os

# mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4
_M_ARENA_MAX = -8

_kept = False


def keep_freed_memory() -> bool:
    """Ask glibc to keep freed memory (one arena, no mmap per array, no trimming); True when on."""
    global _kept
    if _kept:
        return True
    if os.environ.get("PORTRAIT_LAB_RETURN_FREED_MEMORY") == "1":
        return False
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):  # not glibc (musl, macOS): its allocator's defaults stay
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    _kept = all(mallopt(param, value) == 1 for param, value in (
        (_M_ARENA_MAX, 1), (_M_MMAP_MAX, 0), (_M_TRIM_THRESHOLD, 2**31 - 1)))
    return _kept
