"""Greedy LD pruning within a sliding window of variants (as ``plink --indep-pairwise``)."""

from __future__ import annotations

import numba
import numpy as np

from igs.qc.kernels import standardize_codes

__all__ = ["LDPruner", "standardize_codes"]


@numba.njit(cache=True)
def _greedy_prune(
    r: np.ndarray,
    kept: np.ndarray,
    positions: np.ndarray,
    chroms: np.ndarray,
    offset: int,
    window: int,
    window_bp: int,
    r2: float,
) -> None:
    """Decide variants offset..offset+b-1 given correlations with the previous columns.

    ``r`` is (b, t + b): rows are the block's variants, columns the t preceding
    candidates then the block. ``kept`` holds decisions for all candidates so far.
    """
    b = r.shape[0]
    t = r.shape[1] - b
    for row in range(b):
        i = offset + row
        keep = True
        for back in range(1, window + 1):
            col = t + row - back
            if col < 0:
                break
            j = i - back
            if chroms[j] != chroms[i] or positions[i] - positions[j] > window_bp:
                break
            if kept[j] and r[row, col] * r[row, col] > r2:
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
        block: int = 128,
    ) -> None:
        self.positions = np.asarray(positions, dtype=np.int64)
        self.chroms = np.asarray(chroms, dtype=np.int64)
        self.window, self.window_bp, self.r2, self.block = window, window_kb * 1000, r2, block
        self.kept = np.zeros(len(self.positions), dtype=np.bool_)
        self._tail = None
        self._done = 0

    def add(self, x: np.ndarray) -> None:
        """Add the next candidates' standardized genotypes (n_samples, k) float32."""
        n = x.shape[0]
        for s in range(0, x.shape[1], self.block):
            cur = x[:, s : s + self.block]
            ref = cur if self._tail is None else np.concatenate([self._tail, cur], axis=1)
            r = (cur.T @ ref) / np.float32(n)
            _greedy_prune(
                r,
                self.kept,
                self.positions,
                self.chroms,
                self._done,
                self.window,
                self.window_bp,
                self.r2,
            )
            self._done += cur.shape[1]
            self._tail = ref[:, -self.window :].copy()
