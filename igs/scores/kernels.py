"""Compiled (numba) scoring loops on PLINK 1 packed genotypes.

A ``.bed`` row holds 4 samples per byte, 2 bits each, first sample in the low bits:
``00`` hom A1, ``01`` missing, ``10`` het, ``11`` hom A2. The kernels read rows as 64-bit
words (32 samples each; :func:`igs.io.plink.iter_bed_rows` pads rows with ``00`` to a whole
number of words) and never unpack them:

* :func:`code_counts` counts the codes of a row with popcounts;
* :func:`accumulate_packed_scores` visits only the samples whose code differs from the row's
  most common code (the *base*, which the caller adds once for everyone), using the CPU's
  trailing-zero count to jump from one such sample to the next, and adds that code's row of a
  small per-variant table (one entry per score).

Work is proportional to the number of non-base calls times the number of scores; memory to
one chunk of packed rows.
"""

from __future__ import annotations

import numba
import numpy as np

from igs.bits import popcount, trailing_zeros

# A1 allele count for each 2-bit code (missing gets -1).
A1_COUNT_OF_CODE = np.array([2, -1, 1, 0], dtype=np.int8)

_LOW_BITS = np.uint64(0x5555555555555555)
# Words (of 32 samples) per parallel work unit; its accumulators stay in the L2 cache.
_BLOCK_WORDS = 16


def low_bit_mask(selected: np.ndarray, n_words: int) -> np.ndarray:
    """uint64 words with the low bit of each selected sample's 2-bit field set."""
    bits = np.zeros(n_words * 32, dtype=np.uint64)
    bits[: len(selected)] = selected.astype(np.uint64)
    shifts = (2 * np.arange(32, dtype=np.uint64))[None, :]
    return (bits.reshape(n_words, 32) << shifts).sum(axis=1, dtype=np.uint64)


@numba.njit(cache=True, parallel=True)
def code_counts(
    words: np.ndarray, n_samples: int, male_mask: np.ndarray, split_by_sex: np.ndarray
) -> np.ndarray:
    """Counts of each code per row: (n_rows, 2, 4), padding not
    counted (it reads as 00). On rows where ``split_by_sex`` is set
    (chrX), group 1 holds the males of ``male_mask``; group 0 holds everyone else."""
    n_rows, n_words = words.shape
    out = np.zeros((n_rows, 2, 4), dtype=np.int64)
    for v in numba.prange(n_rows):
        c1 = 0
        c2 = 0
        c3 = 0
        m1 = 0
        m2 = 0
        m3 = 0
        split = split_by_sex[v]
        for k in range(n_words):
            w = words[v, k]
            lo = w & _LOW_BITS
            hi = (w >> np.uint64(1)) & _LOW_BITS
            both = lo & hi
            only_lo = lo & ~hi
            only_hi = hi & ~lo
            c3 += popcount(both)
            c1 += popcount(only_lo)
            c2 += popcount(only_hi)
            if split:
                m = male_mask[k]
                m3 += popcount(both & m)
                m1 += popcount(only_lo & m)
                m2 += popcount(only_hi & m)
        n_male = 0
        if split:
            for k in range(n_words):
                n_male += popcount(male_mask[k])
        out[v, 1, 1] = m1
        out[v, 1, 2] = m2
        out[v, 1, 3] = m3
        out[v, 1, 0] = n_male - m1 - m2 - m3
        out[v, 0, 1] = c1 - m1
        out[v, 0, 2] = c2 - m2
        out[v, 0, 3] = c3 - m3
        out[v, 0, 0] = n_samples - c1 - c2 - c3 - out[v, 1, 0]
    return out


@numba.njit(cache=True, parallel=True)
def accumulate_packed_scores(
    words: np.ndarray,
    n_samples: int,
    base_code: np.ndarray,
    delta: np.ndarray,
    missing_delta: np.ndarray,
    present: np.ndarray,
    acc: np.ndarray,
    missing_ct: np.ndarray,
) -> None:
    """Add every sample's contributions from one chunk of packed rows.

    ``delta[v, c, :]`` is the contribution of code ``c`` minus that of ``base_code[v]``.
    ``missing_delta[v, c]`` (-1, 0 or 1) is how code ``c`` changes a sample's count of missing
    calls relative to the base code; where it is not zero,
    ``missing_ct[i, :] += missing_delta * present[v, :]``.
    """
    n_rows, n_words = words.shape
    width = delta.shape[2]
    n_scores = present.shape[1]
    n_blocks = (n_words + _BLOCK_WORDS - 1) // _BLOCK_WORDS
    for blk in numba.prange(n_blocks):
        k0 = blk * _BLOCK_WORDS
        k1 = min(n_words, k0 + _BLOCK_WORDS)
        for v in range(n_rows):
            base = np.uint64(base_code[v])
            base_word = base * _LOW_BITS  # the base code in every field
            for k in range(k0, k1):
                w = words[v, k]
                diff = w ^ base_word
                todo = (diff | (diff >> np.uint64(1))) & _LOW_BITS
                while todo:
                    t = trailing_zeros(todo)
                    todo &= todo - np.uint64(1)
                    i = 32 * k + np.int64(t >> np.uint64(1))
                    if i >= n_samples:
                        break
                    code = np.int64((w >> t) & np.uint64(3))
                    for j in range(width):
                        acc[i, j] += delta[v, code, j]
                    md = missing_delta[v, code]
                    if md != 0:
                        for j in range(n_scores):
                            missing_ct[i, j] += md * present[v, j]


@numba.njit(cache=True, nogil=True, fastmath=True)
def fill_missing_dosages(
    d: np.ndarray,
    is_x: np.ndarray,
    is_male: np.ndarray,
    mean_impute: bool,
    weight: np.ndarray,
    sign: np.ndarray,
    const: np.ndarray,
    sums: np.ndarray,
    dosages: np.ndarray,
    missing_ct: np.ndarray,
) -> None:
    """Prepare one chunk of float dosages (variants x samples) for a matrix product, in place.

    A missing call is a negative value (pgenlib's -9); ``d`` must hold no NaN (the loops are
    compiled with fast math). It becomes the row's mean A1 dosage with ``mean_impute`` (twice
    the A1 frequency; on chrX (``is_x``) a male is one allele, half his dosage), else 0.
    Effect dosage is ``sign * a1 + const`` per variant and score (``sign``, ``const`` are 0
    where the score lacks the variant), so after the product only these corrections remain,
    made per missing call: ``missing_ct[i, j]`` counts it, ``sums`` loses ``const * weight``
    when it adds nothing (no imputation), and ``dosages`` (the called-dosage sums) loses what
    the product added for it. Releases the GIL: threads may run it on their own chunks.
    """
    k, n = d.shape
    n_scores = weight.shape[1]
    for v in range(k):
        row = d[v]
        total = 0.0
        called = 0.0
        for i in range(n):  # branch-free, so that it vectorises
            ok = 1.0 if row[i] >= 0.0 else 0.0
            total += row[i] * ok
            called += ok
        if called == n:
            continue
        a1 = total
        alleles = 2.0 * called
        if is_x[v]:
            for i in range(n):
                if is_male[i] and row[i] >= 0.0:
                    a1 -= row[i] / 2.0
                    alleles -= 1.0
        fill = 2.0 * a1 / alleles if (mean_impute and alleles > 0) else 0.0
        for i in range(n):
            if row[i] < 0.0:
                row[i] = fill
                for j in range(n_scores):
                    if sign[v, j] != 0.0:
                        missing_ct[i, j] += 1
                        if not mean_impute:
                            sums[i, j] -= const[v, j] * weight[v, j]
                        dosages[i, j] -= sign[v, j] * fill + const[v, j]
