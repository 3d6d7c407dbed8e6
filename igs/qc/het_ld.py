"""QC pass 3: each sample's autosomal heterozygosity (``plink2 --het``) and LD pruning of the
candidate variants (``plink2 --indep-pairwise``), in one streaming pass over packed rows.

The genome is split into two fixed parts, whole runs of a chromosome (in file order) balanced
by variant count, read and pruned by up to two threads at once: an LD window never crosses a
chromosome, and the parts' sums are added in one fixed order, so the result is the same on one
thread or two and whatever the chunk size. A thread holds one chunk of packed rows, a block
of their bit planes and one LD window (:class:`igs.qc.indep_pairwise.IndepPairwise`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from igs.io.plink import GenotypeSet
from igs.qc import packed
from igs.qc.indep_pairwise import IndepPairwise

log = logging.getLogger(__name__)

N_PARTS = 2
# bit planes built at once: this many bytes (the LD window is held besides)
PLANE_BYTES = 4 << 20


@dataclass(frozen=True)
class PruneOptions:
    """``--indep-pairwise <window> <step> <r2>`` (window and step in variants)."""

    window: int = 50
    step: int = 5
    r2: float = 0.2


@dataclass(frozen=True)
class HetAndPruning:
    """Per sample of ``samples``: observed and expected homozygous calls and called variants
    (``plink2 --het`` O(HOM), E(HOM), OBS_CT); per candidate: kept by LD pruning."""

    obs_hom: np.ndarray
    exp_hom: np.ndarray
    n_called: np.ndarray
    kept: np.ndarray

    @property
    def f(self) -> np.ndarray:
        """Inbreeding coefficient F = (O - E) / (N - E) (NaN without called variants)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return (self.obs_hom - self.exp_hom) / (self.n_called - self.exp_hom)


@dataclass(frozen=True)
class _Part:
    """One part's sums over all samples and its candidates' kept flags."""

    het_calls: np.ndarray
    missing: np.ndarray
    missing_exp: np.ndarray
    totals: np.ndarray  # variants, sum of expected homozygosity
    kept: np.ndarray


def split_runs(chrom: np.ndarray, n_parts: int = N_PARTS) -> np.ndarray:
    """Part (0..n_parts-1) of each variant: runs of equal ``chrom`` stay whole, the largest run
    goes first to the part with the fewest variants so far (the lower part on a tie)."""
    chrom = np.asarray(chrom)
    if len(chrom) == 0:
        return np.zeros(0, dtype=np.int64)
    starts = np.flatnonzero(np.r_[True, chrom[1:] != chrom[:-1]])
    sizes = np.diff(np.r_[starts, len(chrom)])
    load = np.zeros(n_parts, dtype=np.int64)
    part_of_run = np.empty(len(starts), dtype=np.int64)
    for r in np.argsort(-sizes, kind="stable"):
        part_of_run[r] = int(np.argmin(load))
        load[part_of_run[r]] += sizes[r]
    return np.repeat(part_of_run, sizes)


def heterozygosity_and_pruning(
    gset: GenotypeSet,
    chrom: np.ndarray,
    variants: np.ndarray,
    candidates: np.ndarray,
    a1_freq: np.ndarray,
    samples: np.ndarray,
    prune: PruneOptions,
    *,
    chunk_variants: int,
    threads: int = N_PARTS,
    what: str = "heterozygosity, LD pruning",
) -> HetAndPruning:
    """Heterozygosity of ``samples`` (sorted indices) over ``variants`` (a mask of autosomal
    variants, expected heterozygosity ``2p(1-p)`` from ``a1_freq``) and LD pruning, on those
    samples, of ``candidates`` (a mask within ``variants``); ``chrom`` is every variant's
    chromosome, and ``kept`` follows the order of ``np.flatnonzero(candidates)``."""
    variants = np.asarray(variants, dtype=bool)
    candidates = np.asarray(candidates, dtype=bool)
    if (candidates & ~variants).any():
        raise ValueError("LD candidates must be among the heterozygosity variants")
    chrom = np.asarray(chrom)
    part = np.full(gset.n_variants, -1, dtype=np.int8)
    part[variants] = split_runs(chrom[variants])
    # each candidate's run of its chromosome in the file: windows stop at a new run
    runs = np.cumsum(np.r_[False, chrom[1:] != chrom[:-1]])[candidates]
    keep = np.zeros(gset.n_samples, dtype=bool)
    keep[samples] = True
    keep_bits = packed.plane_sample_bits(keep)
    a1_freq = np.asarray(a1_freq, dtype=np.float64)
    progress = _Progress(what, int(np.count_nonzero(variants)))

    def run(k: int) -> _Part:
        in_part = part == k
        pruner = IndepPairwise(
            runs[in_part[candidates]], window=prune.window, step=prune.step, r2=prune.r2
        )
        return _run_part(
            gset, in_part, candidates, a1_freq, keep_bits, pruner, chunk_variants, progress
        )

    parts = [k for k in range(N_PARTS) if (part == k).any()]
    if threads > 1 and len(parts) > 1:
        with ThreadPoolExecutor(max_workers=min(threads, len(parts))) as pool:
            results = list(pool.map(run, parts))
    else:
        results = [run(k) for k in parts]
    het_calls = np.zeros(gset.n_samples, dtype=np.int64)
    missing = np.zeros(gset.n_samples, dtype=np.int64)
    missing_exp = np.zeros(gset.n_samples)
    totals = np.zeros(2)
    for r in results:  # in part order: the same sums on any number of threads
        het_calls += r.het_calls
        missing += r.missing
        missing_exp += r.missing_exp
        totals += r.totals
    kept = np.zeros(gset.n_variants, dtype=bool)
    for k, r in zip(parts, results, strict=True):
        kept[np.flatnonzero(candidates & (part == k))] = r.kept
    n_called = totals[0] - missing[samples]
    return HetAndPruning(
        obs_hom=(n_called - het_calls[samples]).astype(np.float64),
        exp_hom=totals[1] - missing_exp[samples],
        n_called=n_called.astype(np.int64),
        kept=kept[candidates],
    )


def _run_part(
    gset: GenotypeSet,
    in_part: np.ndarray,
    candidates: np.ndarray,
    a1_freq: np.ndarray,
    keep_bits: np.ndarray,
    pruner: IndepPairwise,
    chunk_variants: int,
    progress: Callable[[int], None],
) -> _Part:
    """Sums and pruning of the variants ``in_part``, read in order on the calling thread."""
    n = gset.n_samples
    het_calls = np.zeros(n, dtype=np.int64)
    missing = np.zeros(n, dtype=np.int64)
    missing_exp = np.zeros(n)
    totals = np.zeros(2)
    cand = candidates & in_part
    block = max(64, PLANE_BYTES // (24 * len(keep_bits)))
    for idx, rows in packed.iter_packed_rows(gset, in_part, chunk_variants):
        p = a1_freq[idx]
        packed.add_homozygosity(
            rows, 1.0 - 2.0 * p * (1.0 - p), het_calls, missing, missing_exp, totals
        )
        selected = np.flatnonzero(cand[idx])
        for start in range(0, len(selected), block):
            pruner.add_planes(*packed.ld_planes(rows, selected[start : start + block], keep_bits))
        progress(len(idx))
    return _Part(het_calls, missing, missing_exp, totals, pruner.kept)


class _Progress:
    """Logs how many of ``total`` variants the threads have read, at each chunk."""

    def __init__(self, what: str, total: int) -> None:
        self.what, self.total, self.done = what, total, 0
        self._lock = threading.Lock()

    def __call__(self, k: int) -> None:
        with self._lock:
            self.done += k
            log.info("%s: %d of %d variants", self.what, self.done, self.total)
