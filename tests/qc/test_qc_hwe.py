"""Exact HWE p-values: the outward-summing kernel against the whole-distribution test."""

from __future__ import annotations

import numba
import numpy as np
import pytest

from igs.qc import kernels


@numba.njit(cache=True)
def reference_hwe(het: int, hom1: int, hom2: int, midp: bool) -> float:
    """The exact test as Wigginton et al. (2005) write it: every heterozygote count's
    probability relative to the most likely one, then the sum of those no more likely than
    the observed count (ties within a relative 1e-12, as plink2; half of them for mid-p)."""
    n = het + hom1 + hom2
    if n == 0:
        return 1.0
    n_rare = 2 * min(hom1, hom2) + het
    mid = n_rare * (2 * n - n_rare) // (2 * n)
    if (mid % 2) != (n_rare % 2):
        mid += 1
    probs = np.zeros(n_rare + 1)
    probs[mid] = 1.0
    h, r, c = mid, (n_rare - mid) // 2, n - mid - (n_rare - mid) // 2
    while h >= 2:
        probs[h - 2] = probs[h] * h * (h - 1.0) / (4.0 * (r + 1.0) * (c + 1.0))
        h, r, c = h - 2, r + 1, c + 1
    h, r, c = mid, (n_rare - mid) // 2, n - mid - (n_rare - mid) // 2
    while h <= n_rare - 2:
        probs[h + 2] = probs[h] * 4.0 * r * c / ((h + 2.0) * (h + 1.0))
        h, r, c = h + 2, r - 1, c - 1
    p_obs = probs[het]
    below, tie, total = 0.0, 0.0, 0.0
    for h in range(n_rare % 2, n_rare + 1, 2):
        total += probs[h]
        if probs[h] < p_obs * (1 - 1e-12):
            below += probs[h]
        elif probs[h] <= p_obs * (1 + 1e-12):
            tie += probs[h]
    return min(1.0, (below + (0.5 * tie if midp else tie)) / total)


def count_grid(rng: np.random.Generator) -> np.ndarray:
    """(hom A1, het, hom A2) rows: edge cases, every triple of small n, random large n
    (in and far out of equilibrium)."""
    edge = [
        [0, 0, 0], [5, 0, 0], [0, 5, 0], [0, 0, 5], [0, 7, 0], [1, 0, 0], [0, 1, 0],
        [3000, 0, 0], [0, 3000, 0], [2999, 1, 0], [1000, 0, 1000], [0, 2000, 1],
        [1500, 1, 1500], [2500, 10, 2], [49_000, 1000, 0], [20_000, 10_000, 20_000],
    ]  # fmt: skip
    small = np.array(np.meshgrid(*[np.arange(13)] * 3, indexing="ij")).reshape(3, -1).T
    n = rng.integers(1, 60_000, 4000)
    p = rng.uniform(0, 1, len(n))
    hom1 = rng.binomial(n, p**2)
    het = rng.binomial(n - hom1, np.clip(2 * p * (1 - p) / np.maximum(1 - p**2, 1e-12), 0, 1))
    # the same counts with heterozygotes moved to the homozygotes and back: far-out p-values
    shift = rng.integers(-200, 200, len(n))
    moved = np.stack([hom1 + shift, het - 2 * shift, n - hom1 - het + shift], axis=1)
    moved = moved[(moved >= 0).all(axis=1)]
    rand = np.stack([hom1, het, n - hom1 - het], axis=1)
    return np.concatenate([edge, small, rand, moved]).astype(np.int64)


@pytest.mark.parametrize("midp", [False, True])
def test_hwe_pvalues_equal_the_whole_distribution_test(midp):
    counts = count_grid(np.random.default_rng(17))
    ours = kernels.hwe_pvalues(np.ascontiguousarray(counts), midp)
    ref = np.array([reference_hwe(b, a, c, midp) for a, b, c in counts])
    # the reference underflows where the new test stops; below 1e-280 both are ~0
    tiny = ref < 1e-280
    assert tiny.sum() < len(ref) // 10
    assert (ours[tiny] < 1e-270).all()
    np.testing.assert_allclose(ours[~tiny], ref[~tiny], rtol=1e-12, atol=0)
    # p-values spread over the whole range, not only ~1
    assert (ref < 1e-10).sum() > 500 and ((ref > 0.01) & (ref < 0.99)).sum() > 500


def test_hwe_edge_cases_by_hand():
    # no genotypes, monomorphic, and 3 heterozygotes of 3 samples
    counts = np.array([[0, 0, 0], [10, 0, 0], [0, 0, 10], [0, 3, 0]], dtype=np.int64)
    ours = kernels.hwe_pvalues(counts, False)
    assert ours[:3].tolist() == [1.0, 1.0, 1.0]
    # 3 A and 3 a alleles in 3 samples: P(het) = n! / (AA! Aa! aa!) 2^het 3! 3! / 6!, so
    # P(3) = 1 * 8 * 36 / 720 = 0.4 and P(1) = 6 * 2 * 36 / 720 = 0.6; p = P(3), mid-p half
    assert ours[3] == pytest.approx(0.4, rel=1e-14)
    assert kernels.hwe_pvalues(counts[3:], True)[0] == pytest.approx(0.2, rel=1e-14)
