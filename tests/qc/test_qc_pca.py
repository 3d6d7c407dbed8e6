"""fit_pca against an exact SVD (numpy) of the standardized matrix of a structured cohort."""

from __future__ import annotations

import numpy as np
import pytest

from igs.qc import packed
from igs.qc.pca import PCAOptions, fit_pca, hwe_normalize

N_POPS = 4  # so 3 components carry ancestry; the others are noise with tiny eigengaps


@pytest.fixture(scope="module")
def cohort() -> np.ndarray:
    """int8 (samples, variants) A1 counts: Balding-Nichols populations (Fst 0.1), 2% missing."""
    rng = np.random.default_rng(5)
    n_per, m = 90, 2500
    anc = rng.uniform(0.05, 0.95, m)
    fst = 0.1
    pops = rng.beta(anc * (1 - fst) / fst, (1 - anc) * (1 - fst) / fst, (N_POPS, m))
    g = np.concatenate([rng.binomial(2, pops[k], (n_per, m)) for k in range(N_POPS)])
    g = g.astype(np.int8)
    g[rng.random(g.shape) < 0.02] = -9
    return np.asfortranarray(g)


def exact_pca(g: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Eigenvalues, scores (U S) and loadings (V) of the standardized matrix, by numpy SVD."""
    called = (g >= 0) & (g <= 2)
    p = np.where(called, g, 0).sum(axis=0) / (2.0 * called.sum(axis=0))
    x = hwe_normalize(g, p).astype(np.float64)
    u, s, vt = np.linalg.svd(x, full_matrices=False)
    return s[:k] ** 2, u[:, :k] * s[:k], vt[:k].T


def aligned(ours: np.ndarray, theirs: np.ndarray) -> np.ndarray:
    """``theirs`` with each column's sign matched to ``ours``."""
    return theirs * np.sign((ours * theirs).sum(axis=0))


@pytest.mark.parametrize("as_packed", [False, True])
def test_fit_equals_exact_svd_on_ancestry_components(cohort, as_packed):
    k = 8
    lam, scores, loadings = exact_pca(cohort, k)
    rows = np.arange(cohort.shape[0])
    g = packed.pack_codes(cohort) if as_packed else cohort
    fit = fit_pca(g, k, rows=rows)
    a = N_POPS - 1
    # the ancestry components (eigengap > 10x the noise eigenvalues) to float32 precision
    assert lam[a - 1] > 5 * lam[a]
    np.testing.assert_allclose(fit.eigenvalues[:a], lam[:a], rtol=1e-5)
    scale = np.abs(scores[:, :a]).max()
    np.testing.assert_allclose(fit.scores[:, :a], aligned(fit.scores[:, :a], scores[:, :a]),
                               atol=1e-4 * scale)  # fmt: skip
    np.testing.assert_allclose(fit.loadings[:, :a], aligned(fit.loadings[:, :a], loadings[:, :a]),
                               atol=1e-5)  # fmt: skip
    # noise components: Ritz values from below (never above an exact eigenvalue), within 5%
    assert (fit.eigenvalues[a:] <= lam[a:] * (1 + 1e-5)).all()
    assert (fit.eigenvalues[a:] >= 0.95 * lam[a:]).all()
    # the scores are the samples' projections onto the loadings (what project_pca gives)
    x = hwe_normalize(cohort, fit.a1_freq)
    np.testing.assert_allclose(fit.scores, x @ fit.loadings, atol=1e-5 * scale)


def test_subset_and_warm_start_equal_the_fit_of_the_copied_subset(cohort):
    k = 6
    rows = np.flatnonzero(np.arange(cohort.shape[0]) % 7 != 3)
    cols = np.flatnonzero(np.arange(cohort.shape[1]) % 5 != 0)
    lam, scores, _ = exact_pca(np.asfortranarray(cohort[rows][:, cols]), k)
    first = fit_pca(packed.pack_codes(cohort), k, rows=np.arange(cohort.shape[0]))
    opts = PCAOptions(tol=1e-4)
    cold = fit_pca(packed.pack_codes(cohort), k, rows=rows, cols=cols, options=opts)
    warm = fit_pca(
        packed.pack_codes(cohort), k, rows=rows, cols=cols, start=first.scores[rows], options=opts
    )
    a = N_POPS - 1
    for fit in (cold, warm):
        np.testing.assert_allclose(fit.eigenvalues[:a], lam[:a], rtol=1e-5)
        np.testing.assert_allclose(fit.scores[:, :a], aligned(fit.scores[:, :a], scores[:, :a]),
                                   atol=1e-4 * np.abs(scores[:, :a]).max())  # fmt: skip
        assert (fit.eigenvalues <= lam * (1 + 1e-5)).all()


def test_fit_stops_at_the_tolerance_or_the_pass_limit(cohort, caplog):
    rows = np.arange(cohort.shape[0])
    with caplog.at_level("DEBUG", logger="igs.qc.pca"):
        fit_pca(cohort, 3, rows=rows, options=PCAOptions(tol=1e-3, max_iter=50))
    converged = len([r for r in caplog.records if "PCA pass" in r.getMessage()])
    caplog.clear()
    with caplog.at_level("DEBUG", logger="igs.qc.pca"):
        fit_pca(cohort, 3, rows=rows, options=PCAOptions(tol=0.0, max_iter=7))
    assert 1 < converged < 50
    assert len([r for r in caplog.records if "PCA pass" in r.getMessage()]) == 7


def test_monomorphic_variants_give_zero_components_without_warnings(recwarn):
    g = np.zeros((20, 30), dtype=np.int8, order="F")
    g[:, ::2] = 2
    g[3, 4] = -9  # a missing call is 0 in the standardized matrix too
    fit = fit_pca(g, 5)
    assert fit.eigenvalues.tolist() == [0.0] * 5
    assert not fit.scores.any() and not fit.loadings.any()
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]
