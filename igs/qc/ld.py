"""Greedy LD pruning within a sliding window of variants (as ``plink --indep-pairwise``).

Each candidate is kept unless its squared correlation with a kept candidate among the
``window`` previous ones (same chromosome, within ``window_kb``) exceeds ``r2``. The
correlation is that of mean-imputed genotypes (a missing call standardized to 0), divided by
the sample count. Only the needed pairs are computed: one dot product of the two variants'
uint8 genotype rows (missing calls 0; a compiled integer loop, 3x the float32 throughput
and no BLAS threads) plus small corrections over each variant's few missing calls, so the
cost is ``n_samples x window`` per kept variant.
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["LDPruner", "encode_rows"]


@numba.njit(cache=True, nogil=True)
def encode_rows(g: np.ndarray):
    """Rows for the pruner from int8 A1 counts (n_samples, k), anything outside 0..2 missing.

    Returns uint8 rows (k, n_samples) with missing calls 0, each row's sum and sum of squares
    over called samples, its called count, and its missing samples as CSR (``ptr``, ``idx``).
    """
    n, k = g.shape
    rows = np.zeros((k, n), dtype=np.uint8)
    total = np.zeros(k, dtype=np.int64)
    squares = np.zeros(k, dtype=np.int64)
    called = np.zeros(k, dtype=np.int64)
    ptr = np.zeros(k + 1, dtype=np.int64)
    n_missing = 0
    for j in range(k):
        for i in range(n):
            v = g[i, j]
            if v >= 0 and v <= 2:
                rows[j, i] = v
                total[j] += v
                squares[j] += v * v
                called[j] += 1
            else:
                n_missing += 1
        ptr[j + 1] = n_missing
    idx = np.empty(n_missing, dtype=np.int64)
    q = 0
    for j in range(k):
        for i in range(n):
            v = g[i, j]
            if v < 0 or v > 2:
                idx[q] = i
                q += 1
    return rows, total, squares, called, ptr, idx


@numba.njit(cache=True, nogil=True)
def _dot(rows: np.ndarray, a: int, b: int) -> np.int64:
    s = np.int32(0)
    for t in range(rows.shape[1]):
        s += np.int32(rows[a, t]) * np.int32(rows[b, t])
    return np.int64(s)


@numba.njit(cache=True, nogil=True)
def _sum_at(rows: np.ndarray, row: int, idx: np.ndarray, lo: int, hi: int) -> np.int64:
    s = np.int64(0)
    for q in range(lo, hi):
        s += rows[row, idx[q]]
    return s


@numba.njit(cache=True, nogil=True)
def _common(idx: np.ndarray, a0: int, a1: int, b0: int, b1: int) -> np.int64:
    """Size of the intersection of two sorted index runs."""
    c = 0
    while a0 < a1 and b0 < b1:
        if idx[a0] < idx[b0]:
            a0 += 1
        elif idx[a0] > idx[b0]:
            b0 += 1
        else:
            c += 1
            a0 += 1
            b0 += 1
    return c


@numba.njit(cache=True, nogil=True)
def _greedy_prune(
    rows: np.ndarray,
    total: np.ndarray,
    squares: np.ndarray,
    called: np.ndarray,
    ptr: np.ndarray,
    idx: np.ndarray,
    t: int,
    kept: np.ndarray,
    positions: np.ndarray,
    chroms: np.ndarray,
    offset: int,
    window: int,
    window_bp: int,
    r2: float,
) -> None:
    """Decide candidates offset..offset+b-1 from ``rows`` (t + b, n_samples) (see encode_rows).

    The first ``t`` rows are the candidates just before ``offset`` (decided already), the
    others the block's. ``kept`` holds the decisions of every candidate so far.
    """
    m, n = rows.shape
    mean = np.zeros(m)
    inv_sd = np.zeros(m)
    for a in range(m):
        if called[a] > 0:
            mu = total[a] / called[a]
            var = squares[a] / called[a] - mu * mu
            mean[a] = mu
            inv_sd[a] = 1.0 / np.sqrt(var) if var > 0 else 1.0
    for row in range(t, m):
        i = offset + row - t
        keep = True
        for back in range(1, window + 1):
            col = row - back
            if col < 0:
                break
            j = i - back
            if chroms[j] != chroms[i] or positions[i] - positions[j] > window_bp:
                break
            if not kept[j] or called[row] == 0 or called[col] == 0:
                continue
            # sum over samples called in both of (g_row - mean_row)(g_col - mean_col)
            both = n - (ptr[row + 1] - ptr[row]) - (ptr[col + 1] - ptr[col])
            both += _common(idx, ptr[row], ptr[row + 1], ptr[col], ptr[col + 1])
            s_row = total[row] - _sum_at(rows, row, idx, ptr[col], ptr[col + 1])
            s_col = total[col] - _sum_at(rows, col, idx, ptr[row], ptr[row + 1])
            cross = (
                _dot(rows, row, col)
                - mean[col] * s_row
                - mean[row] * s_col
                + mean[row] * mean[col] * both
            )
            r = cross * inv_sd[row] * inv_sd[col] / n
            if r * r > r2:
                keep = False
                break
        kept[i] = keep


class LDPruner:
    """Feed candidate variants' genotypes in order; read :attr:`kept` at the end."""

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
        self._tail: tuple | None = None
        self._done = 0

    def add(self, g: np.ndarray) -> None:
        """Add the next candidates' int8 A1 counts (n_samples, k); outside 0..2 is missing."""
        rows, total, squares, called, ptr, idx = encode_rows(g)
        t = 0
        if self._tail is not None:
            t_rows, t_total, t_squares, t_called, t_ptr, t_idx = self._tail
            t = len(t_rows)
            rows = np.concatenate([t_rows, rows])
            total = np.concatenate([t_total, total])
            squares = np.concatenate([t_squares, squares])
            called = np.concatenate([t_called, called])
            ptr = np.concatenate([t_ptr[:-1], ptr + t_ptr[-1]])
            idx = np.concatenate([t_idx, idx])
        _greedy_prune(
            rows, total, squares, called, ptr, idx, t, self.kept, self.positions, self.chroms,
            self._done, self.window, self.window_bp, self.r2,
        )  # fmt: skip
        self._done += g.shape[1]
        first = max(0, len(rows) - self.window)
        self._tail = (
            rows[first:].copy(),
            total[first:],
            squares[first:],
            called[first:],
            ptr[first:] - ptr[first],
            idx[ptr[first] : ptr[-1]],
        )
