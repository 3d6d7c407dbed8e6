"""Genetic ancestry groups from PC scores, for per-group heterozygosity, sex and HWE checks."""

from __future__ import annotations

import numpy as np
from scipy.cluster.vq import kmeans2


def assign_ancestry_groups(
    scores: np.ndarray, n_groups: int, *, seed: int = 42, n_pcs: int = 4, restarts: int = 20
) -> np.ndarray:
    """Cluster samples on their top PC scores; 0 is the largest group, 1 the next, ...

    k-means (k-means++ starts, the best of ``restarts`` by within-cluster sum of
    squares) on the first ``n_pcs`` scores. ``n_groups == 1`` puts everyone in group 0.
    """
    n = scores.shape[0]
    if n_groups <= 1 or n < n_groups:
        return np.zeros(n, dtype=np.int64)
    x = np.asarray(scores[:, :n_pcs], dtype=np.float64)
    rng = np.random.default_rng(seed)
    best, best_ss = None, np.inf
    for _ in range(restarts):
        centroids, labels = kmeans2(x, n_groups, minit="++", seed=rng)
        ss = ((x - centroids[labels]) ** 2).sum()
        if ss < best_ss and len(np.unique(labels)) == n_groups:
            best, best_ss = labels, ss
    if best is None:
        return np.zeros(n, dtype=np.int64)
    sizes = np.bincount(best, minlength=n_groups)
    # order by size, ties by the smallest sample index in the group
    first = np.array([np.flatnonzero(best == g)[0] for g in range(n_groups)])
    order = np.lexsort((first, -sizes))
    rank = np.empty(n_groups, dtype=np.int64)
    rank[order] = np.arange(n_groups)
    return rank[best]
