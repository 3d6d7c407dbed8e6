"""PCA of HWE-normalized genotypes (as ``hl.hwe_normalized_pca``), fitted and projected.

Genotypes are standardized as ``(g - 2p) / sqrt(2p(1-p) M)`` with ``M`` the number of
variants and missing calls set to 0; scores are ``U S`` and loadings ``V`` of that
matrix, so a new sample's scores are its standardized genotypes times the loadings.
A randomized subspace iteration gives the top components without forming the
sample-by-sample matrix, so memory grows with ``n * (M + k)`` only.
"""

from __future__ import annotations

import logging
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


@numba.njit(cache=True, nogil=True, parallel=True)
def _normalize_subset(g, packed, rows, cols, two_p, sd, ok, out) -> None:
    """``_normalize_into`` of ``g[rows][:, cols]`` without copying ``g``. Packed rows are
    decoded through a 4-entry table of each variant's normalized values (no division and no
    branch per genotype; the same float32 values)."""
    for c in numba.prange(len(cols)):
        j = cols[c]
        if packed:
            lut = np.zeros(4, dtype=np.float32)
            if ok[c]:
                for code in range(4):
                    v = _CODE_COUNT[code]
                    if v >= 0:
                        lut[code] = (np.float32(v) - two_p[c]) / sd[c]
            for r in range(len(rows)):
                s = rows[r]
                word = np.uint64(g[j, s >> 5])
                out[r, c] = lut[(word >> np.uint64(2 * (s & 31))) & np.uint64(3)]
        else:
            for r in range(len(rows)):
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
    n_iter: int = 8,
    rows: np.ndarray | None = None,
    cols: np.ndarray | None = None,
) -> PCAFit:
    """Fit the top ``k`` components of int8 genotypes ``g`` (n_samples, n_variants), or of
    the samples ``rows`` and variants ``cols`` (sorted indices) without copying ``g``.

    ``g`` may also be packed PLINK rows (n_variants, words) of uint64
    (:mod:`igs.qc.packed`, 4x smaller than int8); ``rows`` is then required.
    """
    packed, rows = genotype_rows(g, rows, "fit_pca")
    n_var = g.shape[0] if packed else g.shape[1]
    cols = np.arange(n_var) if cols is None else np.asarray(cols, dtype=np.int64)
    p = _a1_freq(g, packed, rows, cols)
    x = _Standardized(g, p, rows, cols)
    n, m = len(rows), len(cols)
    k = min(k, n - 1, m)
    rng = np.random.default_rng(seed)
    q = rng.standard_normal((m, min(m, k + 20))).astype(np.float32)
    y = x @ q
    blas = ThreadpoolController()
    for _ in range(n_iter):
        y = _orthonormal(y, blas)
        z = _orthonormal(x.t_matmul(y), blas)
        y = x @ z
    y = _orthonormal(y, blas)
    b = x.t_matmul(y).T  # y.T @ x
    with blas.limit(limits=1, user_api="blas"):
        _, s, vt = np.linalg.svd(b, full_matrices=False)
    # deterministic signs: the largest-magnitude loading of each component is positive
    v = vt[:k].T
    flip = np.sign(v[np.abs(v).argmax(axis=0), np.arange(k)])
    v *= flip
    # scores are the samples' projections onto the loadings, exactly what project_pca gives a
    # new sample (U S from the sketch equals X V only for fully converged components)
    return PCAFit(scores=x @ v, loadings=v, eigenvalues=s[:k] ** 2, a1_freq=p)


class _Standardized:
    """The HWE-normalized matrix of int8 or packed genotypes (see :func:`fit_pca`), multiplied
    block by block of variants.

    Only one block of ``block_bytes`` float32 exists at a time (``hwe_normalize`` of the whole
    matrix was 4 bytes per genotype, the largest array of the QC); each block is normalized
    again for every product, which costs far less than the product itself.
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
        width = max(64, block_bytes // max(1, 4 * n))
        self.blocks = [(c, min(m, c + width)) for c in range(0, m, width)]
        self.buf = np.empty((n, min(m, width)), dtype=np.float32, order="F")

    def _block(self, c0: int, c1: int) -> np.ndarray:
        out = self.buf[:, : c1 - c0]
        _normalize_subset(
            self.g, self.packed, self.rows, self.cols[c0:c1], self.two_p[c0:c1], self.sd[c0:c1],
            self.ok[c0:c1], out,
        )  # fmt: skip
        return out

    def __matmul__(self, a: np.ndarray) -> np.ndarray:
        """X @ a, for a (m, k)."""
        out = np.zeros((len(self.rows), a.shape[1]), dtype=np.float32)
        for c0, c1 in self.blocks:
            out += self._block(c0, c1) @ a[c0:c1]
        return out

    def t_matmul(self, a: np.ndarray) -> np.ndarray:
        """X.T @ a, for a (n, k)."""
        out = np.empty((len(self.cols), a.shape[1]), dtype=np.float32)
        for c0, c1 in self.blocks:
            out[c0:c1] = self._block(c0, c1).T @ a
        return out


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
