"""Greedy LD pruning within a sliding window of variants (as ``plink --indep-pairwise``).

Each candidate is kept unless its squared correlation with a kept candidate among the
``window`` previous ones (same chromosome, within ``window_kb``) exceeds ``r2``. Only those
pairs are computed: one float32 dot product of standardized rows each, in a compiled loop
over the band, so the cost is ``n_samples x window`` per kept variant and no BLAS threads are
started (on a loaded machine OpenBLAS's spinning threads made the old blockwise matrix
products 10x slower).
"""

from __future__ import annotations

import numba
import numpy as np

from igs.qc.kernels import standardize_codes

__all__ = ["LDPruner", "standardize_codes"]


@numba.njit(cache=True, nogil=True, fastmath=True)
def _dot(x: np.ndarray, a: int, b: int) -> np.float32:
    s = np.float32(0.0)
    for t in range(x.shape[1]):
        s += x[a, t] * x[b, t]
    return s


@numba.njit(cache=True, nogil=True)
def _greedy_prune(
    x: np.ndarray,
    t: int,
    kept: np.ndarray,
    positions: np.ndarray,
    chroms: np.ndarray,
    offset: int,
    window: int,
    window_bp: int,
    r2: float,
    n: int,
) -> None:
    """Decide candidates offset..offset+b-1 from standardized rows ``x`` (t + b, n_samples).

    The first ``t`` rows are the candidates just before ``offset`` (decided already), the
    others the block's. ``kept`` holds the decisions of every candidate so far.
    """
    b = x.shape[0] - t
    inv_n = np.float32(1.0) / np.float32(n)
    for row in range(b):
        i = offset + row
        keep = True
        for back in range(1, window + 1):
            if t + row - back < 0:
                break
            j = i - back
            if chroms[j] != chroms[i] or positions[i] - positions[j] > window_bp:
                break
            if kept[j]:
                r = _dot(x, t + row, t + row - back) * inv_n
                if r * r > r2:
                    keep = False
                    break
        kept[i] = keep


class LDPruner:
    """Feed standardized candidate variants in order; read :attr:`kept` at the end."""

    def __init__(
        self,
        positions: np.ndarray,
        chroms: np.ndarray,
        *,
        window: int = 50,
        window_kb: int = 1000,
        r2: float = 0.2,
    ) -> None:
        self.positions = np.asarray(positions, dtype=np.int64)
        self.chroms = np.asarray(chroms, dtype=np.int64)
        self.window, self.window_bp, self.r2 = window, window_kb * 1000, r2
        self.kept = np.zeros(len(self.positions), dtype=np.bool_)
        self._tail: np.ndarray | None = None
        self._done = 0

    def add(self, x: np.ndarray) -> None:
        """Add the next candidates' standardized genotypes (n_samples, k) float32."""
        rows = np.ascontiguousarray(x.T, dtype=np.float32)
        if self._tail is not None:
            rows = np.concatenate([self._tail, rows])
        t = 0 if self._tail is None else len(self._tail)
        _greedy_prune(
            rows,
            t,
            self.kept,
            self.positions,
            self.chroms,
            self._done,
            self.window,
            self.window_bp,
            self.r2,
            x.shape[0],
        )
        self._done += x.shape[1]
        self._tail = rows[-self.window :].copy()
