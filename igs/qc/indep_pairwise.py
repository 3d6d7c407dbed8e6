"""LD pruning as ``plink2 --indep-pairwise <window> <step> <r2>`` (window in variants).

Per chromosome, a window of ``window`` variants slides by ``step``. In each window every newly
entered variant (the *second*, last one first) is compared with each earlier variant of the
window still in (the *first*, nearest first); when their squared correlation exceeds ``r2``
the one with the lower minor allele frequency goes, the second on a tie (plink2's
``IndepPairwiseThread`` rule, including its 2^-44 relative tolerances). A variant that has
been removed still serves as a second for the pairs left in its row, as in plink2.
Monomorphic variants (all calls one homozygote, or all heterozygous) are removed on entry,
except on a chromosome with a single candidate, which plink2 never looks at.

r^2 is that of hard calls over the samples called in *both* variants (plink2's
``ComputeIndepPairwiseR2Components``): with n jointly called samples, ``cov = n sum(xy) -
sum(x) sum(y)``, ``var_x = n sum(x^2) - sum(x)^2``, all in exact integers; the pair is in LD
when ``cov^2 > r2 (1 + 2^-44) var_first var_second`` in float64. Frequencies are each
variant's own over its called samples, which is what plink2 uses when it computes them on the
same samples.

Genotypes are kept packed: three bit planes of 64 samples per uint64 word and variant
(``h``: A1 count >= 1, ``d``: A1 count 2, ``m``: called), built from int8
(:func:`pack_planes`) or from packed PLINK rows (:func:`igs.qc.packed.ld_planes`). A pair
costs 3 popcounts per 64 samples for the dot product, plus 5 for the sums over the jointly
called samples unless one of the two has no missing call (its own sums, counted once, are
used then, as plink2 does); only the variants of the current window are held.
"""

from __future__ import annotations

import numba
import numpy as np

from igs.bits import popcount

__all__ = ["IndepPairwise", "indep_pairwise", "pack_planes"]

_EPS = 2.0**-44  # plink2's kSmallEpsilon
_ONE = np.uint64(1)


@numba.njit(cache=True, nogil=True)
def pack_planes(g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bit planes (k, 3, words) of int8 A1 counts (n_samples, k), anything outside 0..2
    missing, and per variant the counts of A1 count 0, 1, 2 and missing (k, 4)."""
    n, k = g.shape
    words = (n + 63) // 64
    planes = np.empty((k, 3, words), dtype=np.uint64)
    counts = np.zeros((k, 4), dtype=np.int64)
    for j in range(k):
        c0 = 0
        c1 = 0
        c2 = 0
        for w in range(words):
            h = np.uint64(0)
            d = np.uint64(0)
            m = np.uint64(0)
            for b in range(min(64, n - 64 * w)):
                v = g[64 * w + b, j]
                bit = _ONE << np.uint64(b)
                if v == 0:
                    m |= bit
                    c0 += 1
                elif v == 1:
                    m |= bit
                    h |= bit
                    c1 += 1
                elif v == 2:
                    m |= bit
                    h |= bit
                    d |= bit
                    c2 += 1
            planes[j, 0, w] = h
            planes[j, 1, w] = d
            planes[j, 2, w] = m
        counts[j, 0] = c0
        counts[j, 1] = c1
        counts[j, 2] = c2
        counts[j, 3] = n - c0 - c1 - c2
    return planes, counts


@numba.njit(cache=True, nogil=True, inline="always")
def _dot(p: np.ndarray, a: int, b: int) -> int:
    """Sum over samples of x_a x_b (missing calls 0): with d a subset of h,
    ``h1 h2 + h1 d2 + d1 h2 + d1 d2 = h1 h2 + (h1 d2 | d1 h2) + 2 d1 d2``, 3 popcounts."""
    s = 0
    for w in range(p.shape[2]):
        h1 = p[a, 0, w]
        d1 = p[a, 1, w]
        h2 = p[b, 0, w]
        d2 = p[b, 1, w]
        s += popcount(h1 & h2) + popcount((h1 & d2) | (d1 & h2)) + 2 * popcount(d1 & d2)
    return s


@numba.njit(cache=True, nogil=True, inline="always")
def _sums_where_called(p: np.ndarray, a: int, b: int) -> tuple[int, int]:
    """Sum of x_a and of x_a^2 over the samples called in variant ``b``."""
    s = 0
    q = 0
    for w in range(p.shape[2]):
        m = p[b, 2, w]
        x = popcount(p[a, 0, w] & m)
        y = popcount(p[a, 1, w] & m)
        s += x + y
        q += x + 3 * y
    return s, q


@numba.njit(cache=True, nogil=True)
def _in_ld(p: np.ndarray, st: np.ndarray, a: int, b: int, thresh: float) -> bool:
    """plink2's test of rows ``a`` (first) and ``b`` (second) of ``p`` (see the module
    docstring). ``st`` holds each row's called count, sum, sum of squares and missing count:
    a variant without missing calls needs no sums over the other's calls (plink2 does the
    same), so a pair of complete variants costs only the dot product."""
    if st[a, 3] and st[b, 3]:  # both have missing calls: everything in one pass
        dot = 0
        n = 0
        s1 = 0
        q1 = 0
        s2 = 0
        q2 = 0
        for w in range(p.shape[2]):
            h1 = p[a, 0, w]
            d1 = p[a, 1, w]
            m1 = p[a, 2, w]
            h2 = p[b, 0, w]
            d2 = p[b, 1, w]
            m2 = p[b, 2, w]
            dot += popcount(h1 & h2) + popcount((h1 & d2) | (d1 & h2)) + 2 * popcount(d1 & d2)
            n += popcount(m1 & m2)
            x = popcount(h1 & m2)
            y = popcount(d1 & m2)
            s1 += x + y
            q1 += x + 3 * y
            x = popcount(h2 & m1)
            y = popcount(d2 & m1)
            s2 += x + y
            q2 += x + 3 * y
    elif st[b, 3] == 0:  # the jointly called samples are those of a
        dot = _dot(p, a, b)
        n = st[a, 0]
        s1 = st[a, 1]
        q1 = st[a, 2]
        if st[a, 3] == 0:
            s2 = st[b, 1]
            q2 = st[b, 2]
        else:
            s2, q2 = _sums_where_called(p, b, a)
    else:  # those of b
        dot = _dot(p, a, b)
        n = st[b, 0]
        s2 = st[b, 1]
        q2 = st[b, 2]
        s1, q1 = _sums_where_called(p, a, b)
    nn = np.int64(n)
    cov = np.float64(np.int64(dot) * nn - np.int64(s1) * np.int64(s2))
    var1 = np.float64(np.int64(q1) * nn - np.int64(s1) * np.int64(s1))
    var2 = np.float64(np.int64(q2) * nn - np.int64(s2) * np.int64(s2))
    return cov * cov > thresh * var1 * var2


@numba.njit(cache=True, nogil=True)
def _next_in(removed: np.ndarray, i: int, end: int) -> int:
    """First index >= i below ``end`` not removed, or ``end``."""
    while i < end and removed[i]:
        i += 1
    return i


@numba.njit(cache=True, nogil=True)
def _prune_windows(
    planes: np.ndarray,
    stats: np.ndarray,
    base: int,
    loaded: int,
    chrom_end: np.ndarray,
    major_freq: np.ndarray,
    removed: np.ndarray,
    unchecked: np.ndarray,
    state: np.ndarray,
    window: int,
    step: int,
    r2: float,
) -> None:
    """Process every window whose variants are loaded: ``planes[i - base]`` and
    ``stats[i - base]`` (:func:`_in_ld`) are candidate i's for ``base <= i < loaded``.
    ``state`` is (window start, window end), ``unchecked[i]`` the first candidate that i has
    not been compared with; both are updated in place."""
    thresh = r2 * (1.0 + _EPS)
    total = len(removed)
    ws, we = state[0], state[1]
    while ws < total and we <= loaded:
        while True:  # passes over the window until one removes nothing
            n_removed = 0
            for first in range(ws, we):
                if removed[first]:
                    continue
                second = _next_in(removed, max(first + 1, unchecked[first]), we)
                while second < we:
                    if _in_ld(planes, stats, first - base, second - base, thresh):
                        n_removed += 1
                        if major_freq[first] > major_freq[second] * (1.0 + _EPS):
                            removed[first] = True
                        else:
                            removed[second] = True
                            unchecked[first] = _next_in(removed, second + 1, we)
                        break
                    second = _next_in(removed, second + 1, we)
                    if second == we:
                        unchecked[first] = we
            if n_removed == 0:
                break
        ce = chrom_end[ws]
        if we == ce:  # next chromosome
            ws = ce
            if ce < total:
                we = ce + min(window, chrom_end[ce] - ce)
        else:
            ws += step
            we = min(ws + window, ce)
    state[0], state[1] = ws, we


def _chrom_runs(chroms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per candidate, the first index and one past the last of its run of equal chroms."""
    k = len(chroms)
    bounds = np.concatenate([[0], np.flatnonzero(chroms[1:] != chroms[:-1]) + 1, [k]])
    lengths = np.diff(bounds)
    start = np.repeat(bounds[:-1], lengths).astype(np.int64)
    return start, start + np.repeat(lengths, lengths)


class IndepPairwise:
    """Streaming ``--indep-pairwise``: feed the candidates' genotypes in order with :meth:`add`;
    read :attr:`kept` after the last. Holds the packed planes of about one window of variants
    plus the chunk being added."""

    def __init__(self, chroms: np.ndarray, *, window: int = 50, step: int = 5, r2: float = 0.2):
        if window < 2 or step < 1 or not 0 <= r2 <= 1:
            raise ValueError("indep-pairwise needs window >= 2, step >= 1, 0 <= r2 <= 1")
        chroms = np.asarray(chroms)
        start, self._chrom_end = _chrom_runs(chroms)
        # plink2 never looks at a chromosome with a single candidate (kept even if monomorphic)
        self._alone = (self._chrom_end - start) == 1
        self.window, self.step, self.r2 = window, step, r2
        k = len(chroms)
        self.removed = np.zeros(k, dtype=np.bool_)
        self.major_freq = np.zeros(k)
        first_end = int(self._chrom_end[0]) if k else 0
        self._state = np.array([0, min(window, first_end)], dtype=np.int64)
        self._unchecked = np.arange(1, k + 1, dtype=np.int64)
        self._planes: np.ndarray | None = None
        self._stats: np.ndarray | None = None
        self._base = 0
        self._loaded = 0

    @property
    def kept(self) -> np.ndarray:
        """Boolean per candidate: not pruned (meaningful once every candidate was added)."""
        return ~self.removed

    def add(self, g: np.ndarray) -> None:
        """Add the next candidates' int8 A1 counts (n_samples, k); outside 0..2 is missing."""
        self.add_planes(*pack_planes(g))

    def add_planes(self, planes: np.ndarray, counts: np.ndarray) -> None:
        """Add the next candidates' bit planes and genotype counts, as :func:`pack_planes` or
        :func:`igs.qc.packed.ld_planes` give them."""
        k = len(counts)
        part = slice(self._loaded, self._loaded + k)
        called = counts[:, :3].sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            a1 = (2 * counts[:, 2] + counts[:, 1]) / (2 * called)
        self.major_freq[part] = np.maximum(a1, 1 - a1)
        hom0, hom2 = counts[:, 0], counts[:, 2]
        mono = ((hom0 == 0) & (hom2 == 0)) | (hom0 == called) | (hom2 == called)
        self.removed[part] = mono & ~self._alone[part]
        stats = np.column_stack(
            [called, counts[:, 1] + 2 * counts[:, 2], counts[:, 1] + 4 * counts[:, 2], counts[:, 3]]
        )
        if self._planes is not None:
            planes = np.concatenate([self._planes, planes])
            stats = np.concatenate([self._stats, stats])
        self._loaded += k
        _prune_windows(
            planes, stats, self._base, self._loaded, self._chrom_end, self.major_freq, self.removed,
            self._unchecked, self._state, self.window, self.step, self.r2,
        )  # fmt: skip
        # keep the rows from the next window's start on
        start = int(min(self._state[0], self._loaded))
        self._planes = planes[start - self._base :].copy()
        self._stats = stats[start - self._base :].copy()
        self._base = start


def indep_pairwise(
    g: np.ndarray, chroms: np.ndarray, *, window: int = 50, step: int = 5, r2: float = 0.2
) -> np.ndarray:
    """Kept mask of ``plink2 --indep-pairwise window step r2`` on int8 A1 counts
    (n_samples, k) of candidates in genome order, ``chroms`` their chromosome codes."""
    pruner = IndepPairwise(chroms, window=window, step=step, r2=r2)
    pruner.add(g)
    return pruner.kept
