"""PCA of HWE-normalized genotypes (as ``hl.hwe_normalized_pca``), fitted and projected.

Genotypes are standardized as ``(g - 2p) / sqrt(2p(1-p) M)`` with ``M`` the number of
variants and missing calls set to 0; scores are ``U S`` and loadings ``V`` of that
matrix, so a new sample's scores are its standardized genotypes times the loadings.
A randomized subspace iteration gives the top components without forming the
sample-by-sample matrix, so memory grows with ``n * (M + k)`` only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PCAFit:
    """Top principal components: sample scores, variant loadings and the frequencies used."""

    scores: np.ndarray  # (n_samples, k) = X V
    loadings: np.ndarray  # (n_variants, k) = V
    eigenvalues: np.ndarray  # (k,) = S ** 2
    a1_freq: np.ndarray  # (n_variants,) allele frequency used for standardization


def hwe_normalize(g: np.ndarray, a1_freq: np.ndarray) -> np.ndarray:
    """float32 HWE-normalized matrix; missing (outside 0..2) and monomorphic columns are 0."""
    p = np.asarray(a1_freq, dtype=np.float64)
    m = len(p)
    sd = np.sqrt(2.0 * p * (1.0 - p) * m).astype(np.float32)
    ok = sd > 0
    x = g.astype(np.float32)  # the only n x M float copy; the rest is in place
    x -= (2.0 * p).astype(np.float32)
    x[(g < 0) | (g > 2)] = 0.0
    x /= np.where(ok, sd, np.float32(1.0))
    x[:, ~ok] = 0.0
    return x


def fit_pca(g: np.ndarray, k: int = 10, *, seed: int = 42, n_iter: int = 8) -> PCAFit:
    """Fit the top ``k`` components of int8 genotypes ``g`` (n_samples, n_variants)."""
    called = (g >= 0) & (g <= 2)
    p = np.where(called, g, 0).sum(axis=0) / (2.0 * np.maximum(called.sum(axis=0), 1))
    x = hwe_normalize(g, p)
    n, m = x.shape
    k = min(k, n - 1, m)
    rng = np.random.default_rng(seed)
    q = rng.standard_normal((m, min(m, k + 20))).astype(np.float32)
    y = x @ q
    for _ in range(n_iter):
        y, _ = np.linalg.qr(y)
        z, _ = np.linalg.qr(x.T @ y)
        y = x @ z
    y, _ = np.linalg.qr(y)
    _, s, vt = np.linalg.svd(y.T @ x, full_matrices=False)
    # deterministic signs: the largest-magnitude loading of each component is positive
    v = vt[:k].T
    flip = np.sign(v[np.abs(v).argmax(axis=0), np.arange(k)])
    v *= flip
    # scores are the samples' projections onto the loadings, exactly what project_pca gives a
    # new sample (U S from the sketch equals X V only for fully converged components)
    return PCAFit(scores=x @ v, loadings=v, eigenvalues=s[:k] ** 2, a1_freq=p)


def project_pca(g: np.ndarray, fit: PCAFit) -> np.ndarray:
    """Scores of new samples (int8 genotypes on the fit's variants, same order)."""
    return hwe_normalize(g, fit.a1_freq) @ fit.loadings
