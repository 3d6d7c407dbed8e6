"""PCA of HWE-normalized genotypes (as ``hl.hwe_normalized_pca``), fitted and projected.

Genotypes are standardized as ``(g - 2p) / sqrt(2p(1-p) M)`` with ``M`` the number of
variants and missing calls set to 0; scores are ``U S`` and loadings ``V`` of that
matrix, so a new sample's scores are its standardized genotypes times the loadings.
A randomized subspace iteration (one pass over the variants per iteration, until the top
components' residuals are small) gives them without forming the sample-by-sample matrix or
a float copy of the genotypes.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numba
import numpy as np
import pandas as pd
from threadpoolctl import ThreadpoolController

from igs.errors import MatchRateError
from igs.io.plink import GenotypeSet, read_genotype_codes
from igs.qc.packed import genotype_rows

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PCAFit:
    """Top principal components: sample scores, variant loadings and the frequencies used."""

    scores: np.ndarray  # (n_samples, k) = X V
    loadings: np.ndarray  # (n_variants, k) = V
    eigenvalues: np.ndarray  # (k,) = S ** 2
    a1_freq: np.ndarray  # (n_variants,) allele frequency used for standardization


@dataclass(frozen=True)
class PCAOptions:
    """Subspace iteration of :func:`fit_pca`: basis columns beyond ``k``, most passes, and
    the residual (relative to the top eigenvalue) at which a component has converged."""

    oversample: int = 20
    max_iter: int = 10
    tol: float = 1e-3


def hwe_normalize(g: np.ndarray, a1_freq: np.ndarray) -> np.ndarray:
    """float32 HWE-normalized matrix; missing (outside 0..2) and monomorphic columns are 0.

    The only n x M float array made (no boolean masks of the same size), in ``g``'s order.
    """
    p = np.asarray(a1_freq, dtype=np.float64)
    m = len(p)
    sd = np.sqrt(2.0 * p * (1.0 - p) * m).astype(np.float32)
    ok = sd > 0
    x = np.empty(g.shape, dtype=np.float32, order="F" if g.flags.f_contiguous else "C")
    _normalize_into(g, (2.0 * p).astype(np.float32), np.where(ok, sd, np.float32(1.0)), ok, x)
    return x


@numba.njit(cache=True, nogil=True, parallel=True)
def _normalize_into(g, two_p, sd, ok, out) -> None:
    n, m = g.shape
    for j in numba.prange(m):
        for i in range(n):
            v = g[i, j]
            if ok[j] and v >= 0 and v <= 2:
                out[i, j] = (np.float32(v) - two_p[j]) / sd[j]
            else:
                out[i, j] = 0.0


# A1 count of each 2-bit PLINK code (00 hom A1, 01 missing, 10 het, 11 hom A2); -1 missing
_CODE_COUNT = np.array([2, -1, 1, 0], dtype=np.int8)


@numba.njit(cache=True, nogil=True, inline="always")
def _call(g: np.ndarray, packed: bool, s: int, j: int) -> int:
    """Sample s's A1 count at variant j of int8 (n, m) or packed PLINK rows (m, words)."""
    if packed:
        word = np.uint64(g[j, s >> 5])
        return np.int64(_CODE_COUNT[(word >> np.uint64(2 * (s & 31))) & np.uint64(3)])
    return np.int64(g[s, j])


@numba.njit(cache=True, nogil=True)
def _normalize_block(g, packed, rows, cols, two_p, sd, ok, out) -> None:
    """``_normalize_into`` of ``g[rows][:, cols]`` without copying ``g``, on one thread (the
    caller runs blocks in parallel). Packed rows are decoded through a 4-entry table of each
    variant's normalized values (no division and no branch per genotype; the same float32
    values), a whole 64-bit word at a time where its 32 samples are all in ``rows``."""
    n = len(rows)
    lut = np.zeros(4, dtype=np.float32)
    for c in range(len(cols)):
        j = cols[c]
        if packed:
            for code in range(4):
                v = _CODE_COUNT[code]
                lut[code] = (np.float32(v) - two_p[c]) / sd[c] if ok[c] and v >= 0 else 0.0
            r = 0
            while r < n:
                s = rows[r]
                word = np.uint64(g[j, s >> 5])
                if (s & 31) == 0 and r + 31 < n and rows[r + 31] == s + 31:
                    for b in range(32):
                        out[r + b, c] = lut[(word >> np.uint64(2 * b)) & np.uint64(3)]
                    r += 32
                else:
                    out[r, c] = lut[(word >> np.uint64(2 * (s & 31))) & np.uint64(3)]
                    r += 1
        else:
            for r in range(n):
                v = np.int64(g[rows[r], j])
                if ok[c] and v >= 0 and v <= 2:
                    out[r, c] = (np.float32(v) - two_p[c]) / sd[c]
                else:
                    out[r, c] = 0.0


@numba.njit(cache=True, nogil=True)
def _a1_freq(g: np.ndarray, packed: bool, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """A1 frequency of each of ``cols`` over the called genotypes of ``rows`` (0 if none)."""
    out = np.zeros(len(cols))
    for c in range(len(cols)):
        j = cols[c]
        total = 0
        called = 0
        for r in range(len(rows)):
            v = _call(g, packed, rows[r], j)
            if v >= 0 and v <= 2:
                total += v
                called += 1
        out[c] = total / (2.0 * max(called, 1))
    return out


def fit_pca(
    g: np.ndarray,
    k: int = 10,
    *,
    seed: int = 42,
    rows: np.ndarray | None = None,
    cols: np.ndarray | None = None,
    start: np.ndarray | None = None,
    options: PCAOptions = PCAOptions(),
) -> PCAFit:
    """Fit the top ``k`` components of int8 genotypes ``g`` (n_samples, n_variants), or of
    the samples ``rows`` and variants ``cols`` (sorted indices) without copying ``g``.

    ``g`` may also be packed PLINK rows (n_variants, words) of uint64
    (:mod:`igs.qc.packed`, 4x smaller than int8); ``rows`` is then required. ``start``
    (len(rows) x up to k) are scores of an earlier fit on nearly the same samples (as the
    final QC fit after the first): they seed the subspace iteration, which then stops sooner.

    Subspace iteration on the sample side (``X X^T``), one pass over the variants per
    iteration: each block of variants is normalized once and multiplied by the basis and back.
    It stops when every top-``k`` component is an eigenpair of a matrix within ``options.tol``
    (relative, spectral norm) of ``X X^T`` (its residual ``|X X^T u - s^2 u| <= tol s_1^2``),
    or after ``options.max_iter`` passes.
    """
    packed, rows = genotype_rows(g, rows, "fit_pca")
    n_var = g.shape[0] if packed else g.shape[1]
    cols = np.arange(n_var) if cols is None else np.asarray(cols, dtype=np.int64)
    p = _a1_freq(g, packed, rows, cols)
    x = _Standardized(g, p, rows, cols)
    n, m = len(rows), len(cols)
    k = min(k, n - 1, m)
    rng = np.random.default_rng(seed)
    basis = rng.standard_normal((n, min(n, m, k + options.oversample)))
    if start is not None:
        basis[:, : min(k, start.shape[1])] = start[:, :k]
    blas = ThreadpoolController()
    q = _orthonormal(basis.astype(np.float32), blas)
    for it in range(options.max_iter):
        w, y = x.gram(q, blas)  # X^T q, X X^T q
        lam, u = _ritz(w, k)
        # residuals of the Ritz vectors q u: X X^T q u - lam q u = y u - lam q u
        resid = np.linalg.norm(y @ u - (q @ u) * lam.astype(np.float32), axis=0)
        top = max(lam[0], np.finfo(np.float64).tiny)
        log.debug("PCA pass %d: eigenvalues %s, residuals %s", it + 1, lam, resid / top)
        if resid.max() <= options.tol * top or it == options.max_iter - 1:
            break
        q = _orthonormal(y, blas)
    # loadings V = X^T q u / s and scores X V = X X^T q u / s, from the last pass
    sv = np.sqrt(lam)
    inv = np.where(sv > 0, 1.0 / np.where(sv > 0, sv, 1.0), 0.0).astype(np.float32)
    v = (w @ u) * inv
    scores = (y @ u) * inv
    # deterministic signs: the largest-magnitude loading of each component is positive
    flip = np.sign(v[np.abs(v).argmax(axis=0), np.arange(k)])
    flip[flip == 0] = 1
    return PCAFit(scores=scores * flip, loadings=v * flip, eigenvalues=lam, a1_freq=p)


def _ritz(w: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Top ``k`` eigenvalues (descending) and vectors of ``w^T w`` (float64), with ``w = X^T q``
    for an orthonormal ``q``: the Rayleigh-Ritz values of ``X X^T`` on span(q)."""
    w64 = w.astype(np.float64)
    lam, u = np.linalg.eigh(w64.T @ w64)
    lam, u = lam[::-1][:k], u[:, ::-1][:, :k]
    return np.maximum(lam, 0.0), u.astype(np.float32)


class _Standardized:
    """The HWE-normalized matrix of int8 or packed genotypes (see :func:`fit_pca`), multiplied
    block by block of variants.

    The threads' blocks of float32 together take ``block_bytes`` (or 64 variants each at
    least), not the whole matrix (``hwe_normalize`` of it was 4 bytes per genotype, the
    largest array of the QC); each block is
    normalized once per pass and used for both products of :meth:`gram`. Threads take blocks
    in turn, each with one BLAS thread (numba's and BLAS's thread pools taking turns spent
    more time waiting on each other than computing).
    """

    def __init__(
        self,
        g: np.ndarray,
        a1_freq: np.ndarray,
        rows: np.ndarray,
        cols: np.ndarray,
        block_bytes: int = 8 << 20,
    ) -> None:
        self.g, self.rows, self.cols = g, rows, cols
        self.packed = g.dtype == np.uint64
        n, m = len(rows), len(cols)
        p = np.asarray(a1_freq, dtype=np.float64)
        sd = np.sqrt(2.0 * p * (1.0 - p) * m).astype(np.float32)
        self.ok = sd > 0
        self.two_p = (2.0 * p).astype(np.float32)
        self.sd = np.where(self.ok, sd, np.float32(1.0))
        threads = numba.get_num_threads()
        width = max(64, block_bytes // max(1, 4 * n * threads))
        self.blocks = [(c, min(m, c + width)) for c in range(0, m, width)]
        self.workers = max(1, min(threads, len(self.blocks)))
        self.width = min(m, width)

    def block(self, c0: int, c1: int, buf: np.ndarray) -> np.ndarray:
        """Normalized columns c0..c1 (of ``cols``) in ``buf``'s first columns."""
        out = buf[:, : c1 - c0]
        _normalize_block(
            self.g, self.packed, self.rows, self.cols[c0:c1], self.two_p[c0:c1], self.sd[c0:c1],
            self.ok[c0:c1], out,
        )  # fmt: skip
        return out

    def gram(self, q: np.ndarray, blas: ThreadpoolController) -> tuple[np.ndarray, np.ndarray]:
        """``X^T q`` (m, l) and ``X X^T q`` (n, l) in one pass, for q (n, l) float32."""
        n, m = len(self.rows), len(self.cols)
        w = np.empty((m, q.shape[1]), dtype=np.float32)
        parts = [np.zeros((n, q.shape[1]), dtype=np.float32) for _ in range(self.workers)]

        def work(t: int) -> None:
            buf = np.empty((n, self.width), dtype=np.float32, order="F")
            for c0, c1 in self.blocks[t :: self.workers]:
                xb = self.block(c0, c1, buf)
                np.matmul(xb.T, q, out=w[c0:c1])
                parts[t] += xb @ w[c0:c1]

        with blas.limit(limits=1, user_api="blas"):
            if self.workers == 1:
                work(0)
            else:
                with ThreadPoolExecutor(self.workers) as pool:
                    list(pool.map(work, range(self.workers)))
        for part in parts[1:]:  # in worker order: the same sums whatever the threads' timing
            parts[0] += part
        return w, parts[0]


def _orthonormal(a: np.ndarray, blas: ThreadpoolController) -> np.ndarray:
    """Q of the QR decomposition of a tall, thin matrix, on one BLAS thread: a second one
    gains nothing at this width and, on a loaded machine, made each QR 3-10x slower."""
    with blas.limit(limits=1, user_api="blas"):
        return np.linalg.qr(a)[0]


def project_pca(g: np.ndarray, fit: PCAFit) -> np.ndarray:
    """Scores of new samples (int8 genotypes on the fit's variants, same order)."""
    return hwe_normalize(g, fit.a1_freq) @ fit.loadings


def match_loadings(variants: pd.DataFrame, loadings: pd.DataFrame) -> pd.DataFrame:
    """The loadings rows found in ``variants`` (chromosome, position and alleles in either
    order), with ``target_index`` (row of ``variants``) and ``swapped`` (alleles the other way
    round), in target order."""
    key = ["chrom", "pos"]
    target = variants.reset_index(drop=True)
    ld = loadings.assign(chrom=loadings["chrom"].astype(str), load_row=np.arange(len(loadings)))
    tv = target.assign(chrom=target["chrom"].astype(str), target_index=np.arange(len(target)))
    cand = ld.merge(tv[[*key, "a1", "a2", "target_index"]], on=key, suffixes=("", "_t"))
    same = (cand["a1"] == cand["a1_t"]) & (cand["a2"] == cand["a2_t"])
    swapped = (cand["a1"] == cand["a2_t"]) & (cand["a2"] == cand["a1_t"])
    cand = cand[same | swapped].assign(swapped=swapped[same | swapped])
    return cand.drop_duplicates("load_row").sort_values("target_index")


def project_samples(
    gset: GenotypeSet,
    loadings: pd.DataFrame,
    *,
    min_overlap: float = 0.5,
    chunk_variants: int = 4096,
) -> pd.DataFrame:
    """Project every sample of ``gset`` onto the PCs of a saved PCA (``pca_loadings.tsv.gz``).

    Variants are matched on chromosome, position and alleles (either order; a swapped variant
    is counted from the other allele). Missing calls contribute 0, as in the fit. Returns FID,
    IID, PC1..PCk. Raises MatchRateError when fewer than ``min_overlap`` of the PCA variants
    are found.
    """
    pc_cols = [c for c in loadings.columns if c.startswith("PC")]
    cand = match_loadings(gset.variants, loadings)
    rate = len(cand) / max(len(loadings), 1)
    if rate < min_overlap:
        raise MatchRateError(
            f"only {len(cand)} of {len(loadings)} PCA variants ({rate:.0%}) are in {gset.prefix}; "
            f"need {min_overlap:.0%}. Are both on the same genome build?"
        )
    log.info(
        "projecting onto %d PCs with %d of %d PCA variants", len(pc_cols), len(cand), len(loadings)
    )
    freq = cand["a1_freq"].to_numpy(float)
    load = cand[pc_cols].to_numpy(np.float32)
    flip = cand["swapped"].to_numpy()
    idx = cand["target_index"].to_numpy()
    scores = np.zeros((gset.n_samples, len(pc_cols)))
    for start in range(0, len(idx), chunk_variants):
        sl = slice(start, start + chunk_variants)
        g = read_genotype_codes(gset, idx[sl])
        swapped = g[:, flip[sl]]  # counted from the other allele: 2 - count, missing stays missing
        g[:, flip[sl]] = np.where((swapped >= 0) & (swapped <= 2), 2 - swapped, -9)
        # hwe_normalize divides by sqrt(2p(1-p) m) for the m columns it is given; the fit used
        # all M variants of the loadings file, so rescale to M
        scores += (hwe_normalize(g, freq) @ load[sl]) * np.sqrt(g.shape[1] / len(loadings))
    out = gset.samples[["FID", "IID"]].reset_index(drop=True).copy()
    out[pc_cols] = scores
    return out
