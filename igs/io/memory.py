"""Keep a long command's resident memory near what it uses.

glibc keeps freed heap memory for reuse (and after a large array is freed it serves arrays
of that size from the heap instead of fresh pages), Arrow's pool keeps freed blocks, and so
the memory of one pass's arrays stays in the process while the next pass allocates others.
:func:`release_freed_memory` between passes (milliseconds) hands it back: a QC of 5,000 x 1M
peaked at 0.70 GB instead of 0.75 GB. :func:`keep_resident_memory_low` changes how the process
allocates, for commands whose peak matters.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools

_M_ARENA_MAX = -8  # glibc's malloc.h


@functools.cache
def _libc_function(name: str):  # -> ctypes function or None
    """A glibc function, or None where the C library has none (musl, macOS)."""
    lib = ctypes.util.find_library("c")
    try:
        return getattr(ctypes.CDLL(lib), name) if lib else None
    except (OSError, AttributeError):
        return None


def release_freed_memory() -> None:
    """Return free heap memory (glibc ``malloc_trim``) and Arrow's unused pool memory."""
    trim = _libc_function("malloc_trim")
    if trim is not None:
        trim(0)
    import pyarrow as pa

    pa.default_memory_pool().release_unused()


def keep_resident_memory_low() -> None:
    """For the rest of the process, allocate so that freed memory can go back to the system:
    Arrow on the C library's malloc instead of its own pool (mimalloc), and one malloc arena
    for all threads (glibc only).

    Arrow's pool kept 100-130 MB of a QC of 1M variants resident after the tables it held
    were gone; glibc gives every thread that allocates (numba's workers, pass 3's threads) an
    arena of its own and kept ~100 MB more there. With both, ``igs qc run`` at 5,000 x 1M
    peaks at ~0.49 GB instead of ~0.59 GB. For commands whose memory peak matters; call it
    before any thread starts.
    """
    import pyarrow as pa

    pa.set_memory_pool(pa.system_memory_pool())
    mallopt = _libc_function("mallopt")
    if mallopt is not None:
        mallopt(_M_ARENA_MAX, 1)
