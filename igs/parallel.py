"""How many CPU threads a command computes on: numba's kernels and BLAS, set together."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator


def available_cpus() -> int:
    """CPUs this process may run on (its affinity mask, which SLURM and taskset set)."""
    return len(os.sched_getaffinity(0))


@contextlib.contextmanager
def compute_threads(threads: int | None) -> Iterator[int]:
    """Run the block with ``threads`` numba threads and BLAS threads (default: every available
    CPU, at most numba's configured maximum); yields the number used and restores both after."""
    import numba
    from threadpoolctl import threadpool_limits

    n = max(1, min(threads or available_cpus(), numba.config.NUMBA_NUM_THREADS))
    before = numba.get_num_threads()
    numba.set_num_threads(n)
    try:
        with threadpool_limits(limits=n, user_api="blas"):
            yield n
    finally:
        numba.set_num_threads(before)
