"""A fast VCF text reader: BGZF blocks inflated on threads, lines parsed by compiled kernels.

Only the common, well-formed case is handled here; everything else is reported back so that
:mod:`igs.io.dosage` can hand the file (or the rest of it) to cyvcf2/htslib, which stays the
reference. Numbers are read as htslib reads them (``hts_str2dbl``: a decimal of at most 14
digits is ``n / 10**k``, correctly rounded, i.e. what ``strtod`` gives) and stored as float32,
as htslib stores VCF Float fields, so the values equal cyvcf2's bit for bit; longer numbers,
exponents and anything unusual go to htslib instead.
"""

from __future__ import annotations

import gzip
import struct
import zlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numba
import numpy as np

from igs.parallel import available_cpus

try:  # ISA-L inflates about 2x faster than zlib and releases the GIL
    from isal import isal_zlib as _inflater
except ImportError:  # pragma: no cover - isal comes with the environment
    _inflater = zlib

# kernel status codes
OK = 0
FALLBACK = 1  # a line the kernel does not handle: htslib reads it
NO_FIELD = 2  # the record's FORMAT lacks the dosage field
MULTI_ALT = 3  # more than one ALT allele

MODES = {"DS": 0, "GP": 1}  # GT-only files are read by cyvcf2

_BGZF_MAGIC = b"\x1f\x8b\x08\x04"
_READ_BYTES = 1 << 20  # compressed bytes read (and inflated as one task) at a time


# --------------------------------------------------------------------------- text


def _inflate_blocks(data: bytes) -> bytes:
    """Inflate a run of whole BGZF blocks (raw deflate between an 18-byte header and the
    8-byte CRC32/ISIZE trailer); the uncompressed sizes are checked."""
    out, pos = [], 0
    while pos < len(data):
        bsize = struct.unpack_from("<H", data, pos + 16)[0] + 1
        block = data[pos : pos + bsize]
        text = _inflater.decompress(block[18:-8], -15)
        if len(text) != struct.unpack_from("<I", block, bsize - 4)[0]:
            raise ValueError("BGZF block size mismatch")
        out.append(text)
        pos += bsize
    return b"".join(out)


def _split_blocks(buf: bytes) -> int:
    """Length of the longest prefix of ``buf`` made of whole BGZF blocks."""
    pos = 0
    while pos + 18 <= len(buf):
        if buf[pos : pos + 4] != _BGZF_MAGIC or buf[pos + 12 : pos + 14] != b"BC":
            raise ValueError("not a BGZF block")
        bsize = struct.unpack_from("<H", buf, pos + 16)[0] + 1
        if pos + bsize > len(buf):
            break
        pos += bsize
    return pos


def is_bgzf(path: Path) -> bool:
    """The file starts with a BGZF block (gzip member with the ``BC`` extra field)."""
    with open(path, "rb") as fh:
        head = fh.read(18)
    return len(head) == 18 and head[:4] == _BGZF_MAGIC and head[12:14] == b"BC"


def iter_text(path: Path, threads: int = 2) -> Iterator[bytes]:
    """The file's text in pieces (arbitrary boundaries): BGZF blocks inflated on ``threads``
    threads (zlib/ISA-L release the GIL), other gzip files in one stream, plain text as is."""
    if is_bgzf(path):
        yield from _iter_bgzf(path, max(1, threads))
        return
    with open(path, "rb") as fh:
        gzipped = fh.read(2) == b"\x1f\x8b"
    with gzip.open(path, "rb") if gzipped else open(path, "rb") as fh:
        while piece := fh.read(_READ_BYTES):
            yield piece


def _iter_bgzf(path: Path, threads: int) -> Iterator[bytes]:
    pending, rest = [], b""
    with open(path, "rb") as fh, ThreadPoolExecutor(threads) as pool:
        while True:
            raw = fh.read(_READ_BYTES)
            buf = rest + raw
            cut = _split_blocks(buf)
            if not raw and cut < len(buf):
                raise ValueError("truncated BGZF block at the end of the file")
            if cut:
                pending.append(pool.submit(_inflate_blocks, buf[:cut]))
            rest = buf[cut:]
            while pending and (len(pending) > threads or not raw):
                yield pending.pop(0).result()
            if not raw:
                return


def iter_line_chunks(path: Path, threads: int = 2) -> Iterator[np.ndarray]:
    """The file's text as uint8 arrays that each end with a newline (header lines included).

    A piece of text is not copied: only the line that spans two pieces is put together.
    Raises ValueError unless the text starts as VCF text does (a BCF is BGZF too)."""
    tail, first_piece = b"", True
    for piece in iter_text(path, threads):
        if first_piece and not (piece[:16] == b"##fileformat=VCF"[: len(piece)] and piece):
            raise ValueError("not VCF text (no ##fileformat=VCF line first)")
        first_piece = False
        first, last = piece.find(b"\n"), piece.rfind(b"\n")
        if first < 0:
            tail += piece
            continue
        yield np.frombuffer(tail + piece[: first + 1], dtype=np.uint8)
        if last > first:
            yield np.frombuffer(memoryview(piece)[first + 1 : last + 1], dtype=np.uint8)
        tail = piece[last + 1 :]
    if tail:
        yield np.frombuffer(tail + b"\n", dtype=np.uint8)


# --------------------------------------------------------------------------- kernels

TAB, COLON, COMMA, NL, DOT, HASH = 9, 58, 44, 10, 46, 35

_ONES = np.uint64(0x0101010101010101)
_HIGHS = np.uint64(0x8080808080808080)
_NLS = np.uint64(0x0A0A0A0A0A0A0A0A)
_POW10 = np.array([10.0**k for k in range(15)])


@numba.njit(nogil=True, cache=True, inline="always")
def _is_digit(c):
    return 48 <= c <= 57


@numba.njit(nogil=True, cache=True, inline="always")
def _is_end(c):
    return (c == COLON) | (c == TAB) | (c == COMMA) | (c == NL)


@numba.njit(nogil=True, cache=True, inline="always")
def _number(a, p, pow10):
    """Parse the float at ``a[p]`` as htslib stores it (float32, widened): returns
    (value, next position, ok). ``.`` is missing (NaN); not ok: leave it to htslib."""
    c0 = np.int64(a[p]) - 48
    if 0 <= c0 <= 9:  # the usual forms first: "d" and "d.ddd"
        if _is_end(a[p + 1]):
            return np.float64(c0), p + 1, True
        if a[p + 1] == DOT:
            n, q = c0, p + 2
            d = np.int64(a[q]) - 48
            while 0 <= d <= 9:
                n = n * 10 + d
                q += 1
                d = np.int64(a[q]) - 48
            if q - p - 2 <= 13 and _is_end(a[q]):
                return np.float64(np.float32(n / pow10[q - p - 2])), q, True
    if a[p] == DOT and not _is_digit(a[p + 1]):
        return np.nan, p + 1, _is_end(a[p + 1])
    neg = False
    if a[p] == 45 or a[p] == 43:  # - +
        neg = a[p] == 45
        p += 1
    q, dot, n = p, -1, 0
    while True:  # digits with at most one point; leading zeros count as digits here
        d = np.int64(a[q]) - 48
        if 0 <= d <= 9:
            n = n * 10 + d
        elif d == DOT - 48 and dot < 0:
            dot = q
        else:
            break
        q += 1
    digits = q - p - (dot >= 0)
    if digits == 0 or digits > 14 or not _is_end(a[q]):
        return np.nan, q, False
    frac = q - dot - 1 if dot >= 0 else 0
    p = q
    value = n / pow10[frac]
    if neg:
        value = -value
    return np.float64(np.float32(value)), p, True


@numba.njit(nogil=True, cache=True)
def _is_autosome(a, s, e):
    """CHROM is 1..22 or chr1..chr22."""
    if e - s > 3 and a[s] == 99 and a[s + 1] == 104 and a[s + 2] == 114:  # chr
        s += 3
    if e - s < 1 or e - s > 2 or a[s] == 48:
        return False
    v = 0
    for p in range(s, e):
        if not _is_digit(a[p]):
            return False
        v = v * 10 + (a[p] - 48)
    return 1 <= v <= 22


@numba.njit(nogil=True, cache=True)
def _key_is(a, s, e, c0, c1):
    return e - s == 2 and a[s] == c0 and a[s + 1] == c1


@numba.njit(nogil=True, cache=True)
def _ds_samples(a, p, e, row, n, fidx, nkeys, pow10):
    """The samples' DS (field ``fidx`` of ``nkeys``) from ``a[p]`` on, GT not looked at: the
    general loop of :func:`_parse_line` with the other fields skipped in one scan each."""
    for j in range(n):
        if p > e or (j > 0 and a[p - 1] != TAB):
            return FALLBACK  # fewer samples than the header
        k = 0
        while k < fidx:
            c = a[p]
            while c != COLON and c != TAB and c != NL:
                p += 1
                c = a[p]
            if c != COLON:
                break
            k += 1
            p += 1
        if k < fidx:  # the sample's fields end before DS: missing
            row[j] = np.nan
            p += 1
            continue
        val, p, ok = _number(a, p, pow10)
        if not ok or a[p] == COMMA:
            return FALLBACK
        row[j] = val
        c = a[p]
        while c == COLON:  # fields after DS
            k += 1
            if k >= nkeys:
                return FALLBACK
            p += 1
            c = a[p]
            while c != COLON and c != TAB and c != NL:
                p += 1
                c = a[p]
        p += 1
    if p != e + 1:
        return FALLBACK  # more samples than the header
    return OK


@numba.njit(nogil=True, cache=True)
def _parse_line(a, s, e, row, mode, n, v1, v2, cnt, pow10):
    """One record's dosages into ``row`` (length n); returns a status code."""
    chrom_end = s
    while chrom_end < e and a[chrom_end] != TAB:
        chrom_end += 1
    p, tabs = chrom_end, 1
    while p < e and tabs < 8:  # to FORMAT
        p += 1
        if a[p] == TAB:
            tabs += 1
    if tabs < 8:
        return FALLBACK
    p += 1
    fidx, gtidx, k, ks = -1, -1, 0, p
    while True:
        if p >= e:
            return FALLBACK  # no samples
        c = a[p]
        if c in (COLON, TAB):
            if _key_is(a, ks, p, 71, 84):  # GT
                gtidx = k
            elif _key_is(a, ks, p, 68, 83) if mode == 0 else _key_is(a, ks, p, 71, 80):  # DS, GP
                fidx = k
            k += 1
            ks = p + 1
            if c == TAB:
                break
        p += 1
    nkeys = k
    if fidx < 0:
        return NO_FIELD
    need_gt = mode == 0 and gtidx >= 0 and not _is_autosome(a, s, chrom_end)
    p += 1
    if mode == 0 and not need_gt:
        return _ds_samples(a, p, e, row, n, fidx, nkeys, pow10)
    maxc = 0
    for j in range(n):
        if p > e or (j > 0 and a[p - 1] != TAB):
            return FALLBACK  # fewer samples than the header
        k = 0
        x1, x2, x3, c, alleles = np.nan, np.nan, np.nan, 0, 0
        while True:
            if k >= nkeys:
                return FALLBACK
            if k == fidx:
                while True:
                    val, p, ok = _number(a, p, pow10)
                    if not ok:
                        return FALLBACK
                    if c == 0:
                        x1 = val
                    elif c == 1:
                        x2 = val
                    elif c == 2:
                        x3 = val
                    c += 1
                    if a[p] != COMMA:
                        break
                    p += 1
                if c > 3 or (mode == 0 and c > 1):
                    return FALLBACK
            elif k == gtidx and need_gt:
                q = p
                alleles = 1
                while a[p] != COLON and a[p] != TAB and a[p] != NL:
                    if a[p] == 47 or a[p] == 124:  # / |
                        alleles += 1
                    p += 1
                if p == q:
                    return FALLBACK
            else:
                while a[p] != COLON and a[p] != TAB and a[p] != NL:
                    p += 1
            if a[p] == COLON:
                k += 1
                p += 1
                continue
            p += 1  # past the tab or newline
            break
        if need_gt and alleles == 0:
            return FALLBACK  # GT absent: leave the fill-in to htslib
        if mode == 0:
            row[j] = 2.0 * x1 if alleles == 1 else x1
        else:
            v1[j], v2[j], cnt[j] = x2, x3, c
            maxc = max(maxc, c)
    if p != e + 1:
        return FALLBACK  # more samples than the header
    if mode == 1:
        if maxc == 2:
            for j in range(n):
                row[j] = 2.0 * v1[j]
        elif maxc == 3:
            for j in range(n):
                if np.isnan(v2[j]) and not np.isnan(v1[j]):
                    row[j] = 2.0 * v1[j]
                else:
                    row[j] = v1[j] + 2.0 * v2[j]
        else:
            return FALLBACK
    return OK


@numba.njit(nogil=True, cache=True)
def _next_newline(a, words, s):
    """The first newline at or after ``s`` (-1: none), eight bytes at a time: a word holds a
    newline when ``w ^ 0x0A..`` has a zero byte (the exact ``haszero`` bit trick)."""
    n = len(a)
    while s < n and s & 7:
        if a[s] == NL:
            return s
        s += 1
    w = s >> 3
    while w < len(words):
        y = words[w] ^ _NLS
        if (y - _ONES) & ~y & _HIGHS:
            break
        w += 1
    s = w << 3
    while s < n:
        if a[s] == NL:
            return s
        s += 1
    return -1


@numba.njit(nogil=True, cache=True)
def _index_lines(a, words):
    starts = np.empty(1024, dtype=np.int64)
    ends = np.empty(1024, dtype=np.int64)
    k, s, status = 0, 0, OK
    while s < len(a):
        e = _next_newline(a, words, s)
        if e < 0:
            break
        if e == s:
            status = FALLBACK
            break
        if a[s] != HASH:
            if k == len(starts):
                starts = np.concatenate((starts, np.empty(k, dtype=np.int64)))
                ends = np.concatenate((ends, np.empty(k, dtype=np.int64)))
            starts[k], ends[k] = s, e
            k += 1
        s = e + 1
    return starts[:k], ends[:k], status


def index_lines(a: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Start and end (the newline) of each record line of a chunk; header lines are skipped.
    Returns (starts, ends, status): an empty line stops the index with FALLBACK."""
    words = a[: len(a) // 8 * 8].view(np.uint64)
    return _index_lines(a, words)


@numba.njit(nogil=True, cache=True)
def parse_lines(a, starts, ends, rows, mode, pow10):
    """Dosages of the records ``a[starts[j]:ends[j]]`` into ``rows[j]``.

    Returns (records parsed, status of the first record not parsed)."""
    n = rows.shape[1]
    v1, v2 = np.empty(n), np.empty(n)
    cnt = np.empty(n, dtype=np.int64)
    for j in range(len(starts)):
        status = _parse_line(a, starts[j], ends[j], rows[j], mode, n, v1, v2, cnt, pow10)
        if status != OK:
            return j, status
    return len(starts), OK


@numba.njit(nogil=True, cache=True)
def scan_variants(a, starts, ends, key, out):
    """The variant columns of every record in a chunk, as compact text in ``out``:
    ``CHROM\\tPOS\\tID\\tREF\\tALT\\tINFO/<key>\\n`` (empty key: empty value).

    Returns (bytes written, records, status, record of a non-OK status)."""
    w, nrec = 0, 0
    for li in range(len(starts)):
        s, e = starts[li], ends[li]
        p, col, cs = s, 0, s
        info_s, info_e = -1, -1
        while p <= e and col < 8:
            if a[p] == TAB or p == e:
                if col == 1:  # POS: digits only
                    if p == cs:
                        return w, nrec, FALLBACK, li
                    for q in range(cs, p):
                        if not _is_digit(a[q]):
                            return w, nrec, FALLBACK, li
                if col == 4:
                    for q in range(cs, p):
                        if a[q] == COMMA:
                            return w, nrec, MULTI_ALT, li
                if col == 7:
                    info_s, info_e = cs, p
                if col <= 4:
                    if p == cs:
                        return w, nrec, FALLBACK, li
                    for q in range(cs, p):
                        out[w] = a[q]
                        w += 1
                    out[w] = TAB
                    w += 1
                col += 1
                cs = p + 1
            p += 1
        if col < 8:
            return w, nrec, FALLBACK, li
        if len(key) and not (info_e - info_s == 1 and a[info_s] == DOT):
            q = info_s
            while q < info_e:  # INFO entries key[=value];...
                ks = q
                while q < info_e and a[q] != 59 and a[q] != 61:  # ; =
                    q += 1
                match = q - ks == len(key)
                if match:
                    for t in range(len(key)):
                        if a[ks + t] != key[t]:
                            match = False
                            break
                if match:
                    if q >= info_e or a[q] != 61:
                        return w, nrec, FALLBACK, li  # a flag: htslib decides
                    q += 1
                    while q < info_e and a[q] != 59:
                        out[w] = a[q]
                        w += 1
                        q += 1
                    break
                while q < info_e and a[q] != 59:
                    q += 1
                q += 1
        out[w] = NL
        w += 1
        nrec += 1
    return w, nrec, OK, -1


def pow10() -> np.ndarray:
    return _POW10


def threads_default() -> int:
    """Reader threads when the caller gives none: the CPUs this process may use, at most 4."""
    return max(1, min(4, available_cpus()))
