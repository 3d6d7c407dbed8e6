"""Compiled (numba) loops over int8 genotype matrices, used by the local QC engine.

Genotype matrices are ``(n_samples, n_variants)`` int8 arrays of counted-allele (A1)
counts in Fortran order (one variant's calls contiguous); any value outside 0..2 is a
missing call (bed-reader writes -127, pgenlib -9).
"""

from __future__ import annotations

import numba
import numpy as np

from igs.bits import popcount as _popcount


@numba.njit(cache=True, nogil=True)
def variant_genotype_counts(g: np.ndarray, sample_group: np.ndarray, n_groups: int) -> np.ndarray:
    """Per variant and sample group, counts of A1 count 0, 1, 2 and missing: (k, n_groups, 4).

    ``sample_group[i]`` is sample i's group (0..n_groups-1) or -1 to leave it out.
    """
    n, k = g.shape
    out = np.zeros((k, n_groups, 4), dtype=np.int64)
    for j in range(k):
        for i in range(n):
            grp = sample_group[i]
            if grp >= 0:
                v = g[i, j]
                code = v if (v >= 0 and v <= 2) else 3
                out[j, grp, code] += 1
    return out


@numba.njit(cache=True, nogil=True)
def accumulate_sample_missing(g: np.ndarray, variant_mask: np.ndarray, missing: np.ndarray) -> None:
    """Add, per sample, the number of missing calls among the selected variants."""
    n, k = g.shape
    for j in range(k):
        if variant_mask[j]:
            for i in range(n):
                v = g[i, j]
                if v < 0 or v > 2:
                    missing[i] += 1


@numba.njit(cache=True, nogil=True)
def accumulate_homozygosity_by_group(
    g: np.ndarray,
    group: np.ndarray,
    expected_het: np.ndarray,
    variant_mask: np.ndarray,
    obs_hom: np.ndarray,
    exp_hom: np.ndarray,
    n_called: np.ndarray,
) -> None:
    """Add, per sample, observed and expected homozygous calls and called variants, with
    each sample's own group's ``expected_het`` (``2p(1-p)``) and ``variant_mask`` (both
    (n_groups, k)); ``group[i]`` is sample i's group."""
    n, k = g.shape
    for j in range(k):
        for i in range(n):
            grp = group[i]
            if not variant_mask[grp, j]:
                continue
            v = g[i, j]
            if v < 0 or v > 2:
                continue
            n_called[i] += 1
            exp_hom[i] += 1.0 - expected_het[grp, j]
            if v != 1:
                obs_hom[i] += 1


_TIE = 1e-12  # terms within this relative distance of the observed one are ties (as plink2)
_NEGLIGIBLE = 1e-20  # a tail term this small relative to the p-value ends the sum
_HUGE = 1e290  # central mass this far above the observed term: p-value reported as 0


@numba.njit(cache=True, nogil=True)
def _hwe_one(het: int, hom1: int, hom2: int, midp: bool) -> float:
    """Exact Hardy-Weinberg test (Wigginton, Cutler & Abecasis 2005), as plink2 --hardy.

    As plink2's ``HweP``: the probability of each heterozygote count relative to the observed
    one, summed outwards from the observed count in both directions, each direction stopping
    once its terms (decreasing there) no longer change the p-value; no array of the whole
    distribution. A p-value below ~1e-290 is returned as 0.
    """
    n = het + hom1 + hom2
    if n == 0:
        return 1.0
    tail = 0.0  # terms below the observed one
    tie = 1.0  # terms within _TIE of it, the observed one included
    center = 0.0  # terms above it
    for step in (-2, 2):
        t = 1.0
        h = float(het)
        r = float(min(hom1, hom2))
        c = float(max(hom1, hom2))
        while True:
            if step < 0:
                if h < 2.0:
                    break
                t *= h * (h - 1.0) / (4.0 * (r + 1.0) * (c + 1.0))
                h -= 2.0
                r += 1.0
                c += 1.0
            else:
                if r < 1.0:
                    break
                t *= 4.0 * r * c / ((h + 2.0) * (h + 1.0))
                h += 2.0
                r -= 1.0
                c -= 1.0
            if t < 1.0 - _TIE:
                # beyond the mode on this side (the distribution is unimodal): only smaller
                # terms follow
                tail += t
                if t < _NEGLIGIBLE * (tail + tie):
                    break
            elif t <= 1.0 + _TIE:
                tie += t
            else:
                center += t
                if center > _HUGE:
                    return 0.0
    p = tail + (0.5 * tie if midp else tie)
    return min(1.0, p / (tail + tie + center))


@numba.njit(cache=True, nogil=True, parallel=True)
def hwe_pvalues(counts: np.ndarray, midp: bool) -> np.ndarray:
    """Exact HWE p-values for rows of (hom A1, het, hom A2) counts (variants in parallel)."""
    k = counts.shape[0]
    out = np.empty(k)
    for j in numba.prange(k):
        out[j] = _hwe_one(counts[j, 1], counts[j, 0], counts[j, 2], midp)
    return out


_CODE_COUNT = np.array([2, -1, 1, 0], dtype=np.int8)  # A1 count of a 2-bit PLINK code


@numba.njit(cache=True, nogil=True)
def pack_genotype_bits(g: np.ndarray, packed: bool, rows: np.ndarray) -> np.ndarray:
    """Bit planes per sample of ``g[rows]`` (no copy of ``g``): (3, len(rows), words) uint64
    for het, hom A1, hom A2 (called is their union). ``g`` is int8 (n_samples, k) or, when ``packed``, PLINK
    rows (k, words) of uint64 (:mod:`igs.qc.packed`)."""
    k = g.shape[0] if packed else g.shape[1]
    n = len(rows)
    words = (k + 63) // 64
    out = np.zeros((3, n, words), dtype=np.uint64)
    for j in range(k):
        w = j // 64
        bit = np.uint64(1) << np.uint64(j % 64)
        for r in range(n):
            s = rows[r]
            if packed:
                word = np.uint64(g[j, s >> 5])
                v = np.int64(_CODE_COUNT[(word >> np.uint64(2 * (s & 31))) & np.uint64(3)])
            else:
                v = np.int64(g[s, j])
            if v == 1:
                out[0, r, w] |= bit
            elif v == 2:
                out[1, r, w] |= bit
            elif v == 0:
                out[2, r, w] |= bit
    return out


# Rows of one KING work unit: a column sample's words are read once for this many rows.
KING_TILE = 32


@numba.njit(cache=True, parallel=True)
def king_pair_counts(bits: np.ndarray, row_start: int, row_stop: int) -> np.ndarray:
    """Counts over jointly called variants for pairs (i, j), row_start <= i < row_stop, i < j.

    Returns (row_stop - row_start, n, 5) int32: hethet, ibs0, het_i, het_j, n_both
    (zeros where j <= i). Callers walk the rows in blocks to bound memory. Rows are taken in
    tiles of ``KING_TILE``, each column sample compared with the whole tile while its words
    are in the L1 cache (2x fewer memory reads than one row at a time).
    """
    n = bits.shape[1]
    words = bits.shape[2]
    n_rows = row_stop - row_start
    out = np.zeros((n_rows, n, 5), dtype=np.int32)
    n_tiles = (n_rows + KING_TILE - 1) // KING_TILE
    for tile in numba.prange(n_tiles):
        r0 = tile * KING_TILE
        r1 = min(n_rows, r0 + KING_TILE)
        for j in range(row_start + r0 + 1, n):
            for r in range(r0, r1):
                i = row_start + r
                if j <= i:
                    break
                hh = ib = hi = hj = nb = 0
                for w in range(words):
                    het_i, a_i, b_i = bits[0, i, w], bits[1, i, w], bits[2, i, w]
                    het_j, a_j, b_j = bits[0, j, w], bits[1, j, w], bits[2, j, w]
                    c_i = het_i | a_i | b_i
                    c_j = het_j | a_j | b_j
                    hh += _popcount(het_i & het_j)
                    ib += _popcount((a_i & b_j) | (b_i & a_j))
                    hi += _popcount(het_i & c_j)
                    hj += _popcount(het_j & c_i)
                    nb += _popcount(c_i & c_j)
                out[r, j, 0] = hh
                out[r, j, 1] = ib
                out[r, j, 2] = hi
                out[r, j, 3] = hj
                out[r, j, 4] = nb
    return out
