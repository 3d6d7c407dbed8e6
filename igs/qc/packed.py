"""Compiled QC counts on packed PLINK 1 rows (2 bits per sample, never unpacked).

Rows are uint64 words of 32 samples as :func:`igs.io.plink.iter_bed_rows` yields them
(``00`` hom A1, ``01`` missing, ``10`` het, ``11`` hom A2, first sample in the low bits).
Sample groups are word masks with the low bit of each member's 2-bit field set
(:func:`igs.scores.kernels.low_bit_mask`), so one variant's genotype counts in a group are
three popcounts per word, and per-sample missing calls are found by jumping from one
missing code to the next. pgen chunks are packed into the same words first
(:func:`pack_codes`), so both formats share one code path.

For LD and heterozygosity (QC pass 3) rows are turned into bit planes of 64 samples per word
(:func:`ld_planes`) with word-wide bit tricks, and per-sample heterozygous calls are counted
in byte-wide counters, 8 samples per word (:func:`add_homozygosity`), never one sample at a
time.
"""

from __future__ import annotations

from collections.abc import Iterator

import numba
import numpy as np

from igs.bits import popcount, trailing_zeros
from igs.io.plink import GenotypeSet, iter_bed_rows, read_genotype_codes
from igs.scores.kernels import low_bit_mask

_LOW = np.uint64(0x5555555555555555)
_ONE = np.uint64(1)
_S2, _S4, _S6 = np.uint64(2), np.uint64(4), np.uint64(6)
_BYTE_LOW = np.uint64(0x0101010101010101)  # the low bit of each byte
_BYTE = np.uint64(0xFF)


def genotype_rows(g: np.ndarray, rows: np.ndarray | None, caller: str) -> tuple[bool, np.ndarray]:
    """Whether ``g`` is packed PLINK rows (uint64 (n_variants, words)) rather than int8
    (n_samples, n_variants), and the sample rows to use as sorted int64 indices (default all
    of an int8 ``g``; packed rows hold no sample count, so ``rows`` is then required)."""
    packed = g.dtype == np.uint64
    if rows is None:
        if packed:
            raise ValueError(f"{caller} of packed rows needs the sample rows")
        rows = np.arange(g.shape[0])
    return packed, np.asarray(rows, dtype=np.int64)


def group_masks(sample_group: np.ndarray, n_groups: int) -> np.ndarray:
    """(n_groups, words) masks from each sample's group (0..n_groups-1, or -1 for none)."""
    n_words = (len(sample_group) + 31) // 32
    return np.stack([low_bit_mask(sample_group == k, n_words) for k in range(n_groups)])


@numba.njit(cache=True, nogil=True)
def group_counts(rows: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """Counts of A1 count 0, 1, 2 and missing per variant and group: (k, n_groups, 4).

    Words where a group has no member are skipped, so a small group costs little.
    """
    k, n_words = rows.shape
    n_groups = masks.shape[0]
    out = np.zeros((k, n_groups, 4), dtype=np.int64)
    size = np.zeros(n_groups, dtype=np.int64)
    for g in range(n_groups):
        for w in range(n_words):
            size[g] += popcount(masks[g, w])
    for j in range(k):
        for g in range(n_groups):
            hom_a2 = 0
            het = 0
            miss = 0
            for w in range(n_words):
                m = masks[g, w]
                if m == 0:
                    continue
                x = rows[j, w]
                lo = x & _LOW
                hi = (x >> _ONE) & _LOW
                hom_a2 += popcount(lo & hi & m)
                het += popcount(hi & ~lo & m)
                miss += popcount(lo & ~hi & m)
            out[j, g, 0] = hom_a2
            out[j, g, 1] = het
            out[j, g, 2] = size[g] - hom_a2 - het - miss
            out[j, g, 3] = miss
    return out


@numba.njit(cache=True, nogil=True)
def add_sample_missing(rows: np.ndarray, missing: np.ndarray) -> None:
    """Add each sample's missing calls in ``rows`` to ``missing`` (padding is never missing)."""
    k, n_words = rows.shape
    for j in range(k):
        for w in range(n_words):
            x = rows[j, w]
            todo = x & ~(x >> _ONE) & _LOW
            while todo:
                missing[32 * w + np.int64(trailing_zeros(todo) >> _ONE)] += 1
                todo &= todo - _ONE


@numba.njit(cache=True, nogil=True, inline="always")
def _code_word(g: np.ndarray, j: int, start: int, size: int) -> np.uint64:
    """Packed word of calls ``g[start : start + size, j]`` (size <= 32), branch-free: A1 count
    0, 1, 2 -> codes 11, 10, 00, anything else (missing) 01."""
    word = np.uint64(0)
    for b in range(size):
        u = np.uint8(g[start + b, j])  # a missing call (negative) reads as > 2
        lo = np.uint64((u == 0) | (u > 2))
        hi = np.uint64(u < 2)
        word |= (lo | (hi << _ONE)) << np.uint64(2 * b)
    return word


@numba.njit(cache=True, nogil=True)
def pack_codes(g: np.ndarray) -> np.ndarray:
    """int8 A1 counts (n_samples, k), anything outside 0..2 missing, as packed rows (k, words);
    each word of 32 samples is built in a register (full words with a fixed count, so that
    the loop vectorizes)."""
    n, k = g.shape
    full = n // 32
    out = np.zeros((k, (n + 31) // 32), dtype=np.uint64)
    for j in range(k):
        for w in range(full):
            out[j, w] = _code_word(g, j, 32 * w, 32)
        if n > 32 * full:
            out[j, full] = _code_word(g, j, 32 * full, n - 32 * full)
    return out


def subset_samples(rows: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """PLINK 1 bytes (k, ceil(len(keep) / 4)) of the ``keep`` samples (sorted) of packed rows.

    The kept samples form runs of consecutive samples; within a run every output code sits at
    one constant offset from its input code, so each piece of a run inside an output word is
    one funnel shift of two input words and a mask (a word holds one piece, or a few where
    samples were removed), never a loop over calls.
    """
    keep = np.asarray(keep, dtype=np.int64)
    n_bytes = (len(keep) + 3) // 4
    starts, pieces = _word_pieces(keep)
    return _subset_words(rows, len(keep), starts, pieces).view(np.uint8)[:, :n_bytes]


@numba.njit(cache=True, nogil=True)
def _word_pieces(keep: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The runs of consecutive ``keep`` cut at output words: pieces (first output bit in the
    word, number of bits, input offset ``keep[o] - o``), those of word w at
    ``pieces[starts[w]:starts[w + 1]]``."""
    n_out = len(keep)
    n_words = (n_out + 31) // 32
    pieces = np.empty((n_out, 3), dtype=np.int64)
    starts = np.zeros(n_words + 1, dtype=np.int64)
    n = 0
    for w in range(n_words):
        o = 32 * w
        end = min(n_out, o + 32)
        while o < end:
            d = keep[o] - o
            first = o
            while o + 1 < end and keep[o + 1] - (o + 1) == d:
                o += 1
            o += 1
            pieces[n, 0] = 2 * (first - 32 * w)
            pieces[n, 1] = 2 * (o - first)
            pieces[n, 2] = d
            n += 1
        starts[w + 1] = n
    return starts, pieces[:n]


@numba.njit(cache=True, nogil=True, parallel=True)
def _subset_words(
    rows: np.ndarray, n_out: int, starts: np.ndarray, pieces: np.ndarray
) -> np.ndarray:
    k, n_in = rows.shape
    n_words = len(starts) - 1
    out = np.empty((k, n_words), dtype=np.uint64)
    for j in numba.prange(k):
        for w in range(n_words):
            v = np.uint64(0)
            for p in range(starts[w], starts[w + 1]):
                lo, width, d = pieces[p, 0], pieces[p, 1], pieces[p, 2]
                bit = 64 * w + 2 * d  # the input bit that lands on the word's bit 0
                iw = bit >> 6
                off = np.uint64(bit & 63)
                x = rows[j, iw] >> off
                if off != 0 and iw + 1 < n_in:
                    x |= rows[j, iw + 1] << (np.uint64(64) - off)
                if width == 64:
                    v |= x
                else:
                    v |= x & (((_ONE << np.uint64(width)) - _ONE) << np.uint64(lo))
            out[j, w] = v
    return out


def plane_sample_bits(selected: np.ndarray) -> np.ndarray:
    """uint64 words of 64 samples in the order of :func:`ld_planes` (word t, bit 2s: sample
    64t + s; bit 2s + 1: sample 64t + 32 + s), a bit set per ``selected`` sample."""
    selected = np.asarray(selected, dtype=bool)
    n64 = (len(selected) + 63) // 64
    bits = np.zeros(64 * n64, dtype=np.uint8)
    bits[: len(selected)] = selected
    interleaved = bits.reshape(n64, 2, 32).transpose(0, 2, 1).reshape(-1)
    return np.packbits(interleaved, bitorder="little").view("<u8").astype(np.uint64)


@numba.njit(cache=True, nogil=True)
def ld_planes(
    rows: np.ndarray, selected: np.ndarray, keep: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """LD bit planes (k, 3, len(keep)) of the ``selected`` packed rows (k indices into
    ``rows``): per 64 samples ``h`` (A1 count >= 1), ``d`` (A1 count 2) and ``m`` (called),
    only the samples set in ``keep`` (:func:`plane_sample_bits`), and per variant the counts
    of A1 count 0, 1, 2 and missing among them (k, 4), as
    :func:`igs.qc.indep_pairwise.pack_planes` gives them from int8.

    A plane word holds two row words, the first's samples in the even bits and the second's
    in the odd ones, so that no bit moves further than one place (LD sums do not depend on
    the order of the samples, only on it being the same in every variant)."""
    n32 = rows.shape[1]
    k = len(selected)
    n64 = len(keep)
    planes = np.empty((k, 3, n64), dtype=np.uint64)
    counts = np.empty((k, 4), dtype=np.int64)
    n_keep = 0
    for t in range(n64):
        n_keep += popcount(keep[t])
    for j in range(k):
        row = selected[j]
        n_h = 0
        n_d = 0
        n_m = 0
        for t in range(n64):
            x = rows[row, 2 * t]
            y = rows[row, 2 * t + 1] if 2 * t + 1 < n32 else np.uint64(0)
            a = (x & _LOW) | ((y & _LOW) << _ONE)  # low bits of the codes
            b = ((x >> _ONE) & _LOW) | (y & ~_LOW)  # high bits
            # 00 hom A1, 01 missing, 10 het, 11 hom A2: called unless (low, high) = (1, 0)
            m = (b | ~a) & keep[t]
            h = ~a & keep[t]
            d = h & ~b
            planes[j, 0, t] = h
            planes[j, 1, t] = d
            planes[j, 2, t] = m
            n_h += popcount(h)
            n_d += popcount(d)
            n_m += popcount(m)
        counts[j, 0] = n_m - n_h
        counts[j, 1] = n_h - n_d
        counts[j, 2] = n_d
        counts[j, 3] = n_keep - n_m
    return planes, counts


@numba.njit(cache=True, nogil=True)
def _flush_bytes(acc: np.ndarray, out: np.ndarray) -> None:
    """Add byte counters ``acc`` (4, words) to per-sample ``out`` and clear them: byte b of
    ``acc[r, w]`` counts sample ``32 w + 4 b + r``."""
    n = len(out)
    for r in range(4):
        for w in range(acc.shape[1]):
            v = acc[r, w]
            for b in range(8):
                i = 32 * w + 4 * b + r
                if i < n:
                    out[i] += np.int64((v >> np.uint64(8 * b)) & _BYTE)
            acc[r, w] = np.uint64(0)


@numba.njit(cache=True, nogil=True)
def add_homozygosity(
    rows: np.ndarray,
    expected_hom: np.ndarray,
    het_calls: np.ndarray,
    missing: np.ndarray,
    missing_exp: np.ndarray,
    totals: np.ndarray,
) -> None:
    """Add, per sample, heterozygous calls (``het_calls``), missing calls (``missing``) and
    the expected homozygosity of the missing calls (``missing_exp``) over packed ``rows``
    (k, words), ``expected_hom`` (k) being each variant's ``1 - 2p(1-p)``; ``totals`` gets the
    number of rows and the sum of their ``expected_hom``, added in row order (so no sum
    depends on how the rows are chunked).

    Over all rows added, a sample then has ``totals[0] - missing`` called,
    ``totals[1] - missing_exp`` expected and ``called - het_calls`` observed homozygous
    calls. Heterozygous calls are counted 8 samples a word in byte counters, flushed every
    255 rows; missing calls (few) one at a time.
    """
    k, n32 = rows.shape
    acc = np.zeros((4, n32), dtype=np.uint64)  # one row per sample of 4, vectorizes
    words = np.empty(n32, dtype=np.int64)
    filled = 0
    for j in range(k):
        e = expected_hom[j]
        totals[0] += 1.0
        totals[1] += e
        for w in range(n32):
            x = rows[j, w]
            het = (x >> _ONE) & ~x & _LOW  # code 10
            acc[0, w] += het & _BYTE_LOW
            acc[1, w] += (het >> _S2) & _BYTE_LOW
            acc[2, w] += (het >> _S4) & _BYTE_LOW
            acc[3, w] += (het >> _S6) & _BYTE_LOW
        n_words = 0  # the words with a missing call, listed without a branch per word
        for w in range(n32):
            x = rows[j, w]
            words[n_words] = w
            n_words += (x & ~(x >> _ONE) & _LOW) != 0
        for t in range(n_words):
            w = words[t]
            x = rows[j, w]
            todo = x & ~(x >> _ONE) & _LOW  # code 01
            while todo:
                i = 32 * w + np.int64(trailing_zeros(todo) >> _ONE)
                missing[i] += 1
                missing_exp[i] += e
                todo &= todo - _ONE
        filled += 1
        if filled == 255:
            _flush_bytes(acc, het_calls)
            filled = 0
    if filled:
        _flush_bytes(acc, het_calls)


def iter_packed_rows(
    gset: GenotypeSet, variant_mask: np.ndarray | None, chunk_variants: int
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield ``(variant_index, rows)`` of packed words for every sample; pgen is packed here."""
    selected = (
        np.arange(gset.n_variants)
        if variant_mask is None
        else np.flatnonzero(np.asarray(variant_mask, dtype=bool))
    )
    if gset.format == "bed":
        yield from iter_bed_rows(gset, selected, chunk_variants=chunk_variants)
        return
    for start in range(0, len(selected), chunk_variants):
        idx = selected[start : start + chunk_variants]
        yield idx, pack_codes(read_genotype_codes(gset, idx))


def read_packed_rows(
    gset: GenotypeSet, variant_index: np.ndarray, chunk_variants: int
) -> np.ndarray:
    """Packed rows (len(variant_index), words) of every sample for sorted ``variant_index``:
    2 bits per genotype, a quarter of the int8 matrix."""
    mask = np.zeros(gset.n_variants, dtype=bool)
    mask[variant_index] = True
    out = np.empty((len(variant_index), (gset.n_samples + 31) // 32), dtype=np.uint64)
    done = 0
    for idx, rows in iter_packed_rows(gset, mask, chunk_variants):
        out[done : done + len(idx)] = rows
        done += len(idx)
    return out
