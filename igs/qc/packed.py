"""Compiled QC counts on packed PLINK 1 rows (2 bits per sample, never unpacked).

Rows are uint64 words of 32 samples as :func:`igs.io.plink.iter_bed_rows` yields them
(``00`` hom A1, ``01`` missing, ``10`` het, ``11`` hom A2, first sample in the low bits).
Sample groups are word masks with the low bit of each member's 2-bit field set
(:func:`igs.scores.kernels.low_bit_mask`), so one variant's genotype counts in a group are
three popcounts per word, and per-sample missing calls are found by jumping from one
missing code to the next. pgen chunks are packed into the same words first
(:func:`pack_codes`), so both formats share one code path.
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


@numba.njit(cache=True, nogil=True)
def pack_codes(g: np.ndarray) -> np.ndarray:
    """int8 A1 counts (n_samples, k), anything outside 0..2 missing, as packed rows (k, words)."""
    n, k = g.shape
    out = np.zeros((k, (n + 31) // 32), dtype=np.uint64)
    code = np.array([3, 2, 0], dtype=np.uint64)  # A1 count 0, 1, 2 -> 11, 10, 00
    for j in range(k):
        for i in range(n):
            v = g[i, j]
            c = code[v] if (v >= 0 and v <= 2) else np.uint64(1)
            out[j, i // 32] |= c << np.uint64(2 * (i % 32))
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
