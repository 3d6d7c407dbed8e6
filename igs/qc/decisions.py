"""The QC decision rules, shared by the local and Hail engines (each computes its own statistics)."""

from __future__ import annotations

import numpy as np

from igs.errors import InputFormatError
from igs.qc.options import QCOptions


def thin_evenly(index: np.ndarray, limit: int) -> np.ndarray:
    """At most ``limit`` evenly spaced entries of ``index`` (all of them if fewer)."""
    if len(index) <= limit:
        return index
    return index[np.linspace(0, len(index) - 1, limit).round().astype(np.int64)]


def require_enough_pruned(n_pruned: int, opts: QCOptions, source: str) -> None:
    """PCA and KING need a few variants; fail with a message that says so."""
    if n_pruned < 2 * opts.n_pcs:
        raise InputFormatError(
            f"{source}: only {n_pruned} common autosomal variants remain after LD pruning; "
            f"PCA and relatedness need at least {2 * opts.n_pcs}."
        )


def heterozygosity_bounds(
    het_f: np.ndarray, groups: np.ndarray, n_sd: float
) -> tuple[np.ndarray, np.ndarray]:
    """Per sample, its ancestry group's mean F -/+ ``n_sd`` standard deviations."""
    low, high = np.full(len(het_f), np.nan), np.full(len(het_f), np.nan)
    for k in np.unique(groups):
        in_k = groups == k
        mu = het_f[in_k].mean()
        sd = het_f[in_k].std(ddof=1) if in_k.sum() > 1 else 0.0
        low[in_k], high[in_k] = mu - n_sd * sd, mu + n_sd * sd
    return low, high


def sex_check_problem(genetic_sex: np.ndarray, reported_sex: np.ndarray) -> np.ndarray:
    """Ambiguous genetic sex (0), or a known reported sex (1/2) that differs from it."""
    known = np.isin(reported_sex, (1, 2))
    return (genetic_sex == 0) | (known & (genetic_sex != reported_sex))


def variant_failures(
    call_rate: np.ndarray, maf: np.ndarray, hwe_p: np.ndarray, opts: QCOptions
) -> np.ndarray:
    """First failed variant filter per variant ('' if none): call rate, then MAF, then HWE."""
    fail = np.full(len(call_rate), "", dtype=object)
    fail[call_rate < opts.variant_call_rate] = "call_rate"
    fail[(fail == "") & (maf < opts.maf)] = "maf"
    fail[(fail == "") & (hwe_p < opts.hwe_p)] = "hwe"
    return fail
