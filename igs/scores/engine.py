"""Score every sample for many scores in one streaming pass over the genotypes.

Semantics follow ``plink2 --score ... cols=+scoresums``: for each score,
``SUM = sum(weight * effect-allele dosage)`` over matched variants; missing calls are
mean-imputed with twice the effect-allele frequency (``mean_impute=False`` gives plink2's
``no-mean-imputation``: missing calls add nothing). As in plink2, the frequency on chrX counts
a male as one allele (half his stored count, as ``plink2 --freq`` does), while the dosages
themselves are the stored 0/1/2 counts. ``ALLELE_CT`` is twice the number of called matched variants and
``NAMED_ALLELE_DOSAGE_SUM`` counts called genotypes only; ``AVG`` divides ``SUM`` by
``ALLELE_CT`` without imputation and by twice the number of matched variants with it. Dominant and
recessive rows use 1[dosage >= 1] and 1[dosage == 2] (hard calls).

Two readers, one result:

* ``.bed`` input is scored on the packed 2-bit rows by compiled kernels
  (:mod:`igs.scores.kernels`): per variant a table of each code's contribution to every score,
  with the variant's most common code added once for everyone. Nothing is unpacked.
* ``.pgen`` input (dosages) is read in chunks of floats and scored by a matrix product.

Either way memory is bounded by one chunk of variants, whatever the number of variants.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from igs.io.plink import X_CHROMS, GenotypeSet, iter_bed_rows, iter_dosage_rows
from igs.parallel import available_cpus, compute_threads

log = logging.getLogger(__name__)

# The match-report columns that scoring needs.
REPORT_COLUMNS_FOR_SCORING = (
    "pgs_id",
    "target_index",
    "effect_weight",
    "is_dominant",
    "is_recessive",
    "match_type",
    "match_status",
)

SCORE_COLUMNS = (
    "IID",
    "pgs_id",
    "SUM",
    "n_variants",
    "ALLELE_CT",
    "NAMED_ALLELE_DOSAGE_SUM",
    "AVG",
)


@dataclass(frozen=True)
class ScoreWeights:
    """Per target variant and score: the weight on the a1 count, and whether it is counted swapped.

    ``weight[t, j]`` is score j's weight for target variant t (0 if not in the score),
    ``swapped[t, j]`` is True when the effect allele is the target's a2 (dosage = 2 - a1 count),
    ``model[t, j]`` is 0 additive, 1 dominant, 2 recessive.
    """

    pgs_ids: tuple[str, ...]
    variant_index: np.ndarray  # target variants used by any score, sorted
    weight: np.ndarray  # (len(variant_index), n_scores)
    swapped: np.ndarray
    present: np.ndarray
    model: np.ndarray


def score_weights(reports: list[pd.DataFrame], n_target_variants: int) -> ScoreWeights:
    """Build the weight matrices from match reports (one per score)."""
    pgs_ids = tuple(r["pgs_id"].iloc[0] for r in reports)
    matched = [r[r["match_status"] == "matched"] for r in reports]
    is_used = np.zeros(n_target_variants, dtype=bool)  # a mask, not np.unique: no sort
    for m in matched:
        is_used[m["target_index"].to_numpy(dtype=np.int64)] = True
    used = np.flatnonzero(is_used)
    pos = np.full(n_target_variants, -1)
    pos[used] = np.arange(len(used))
    shape = (len(used), len(pgs_ids))
    weight, swapped = np.zeros(shape), np.zeros(shape, dtype=bool)
    present, model = np.zeros(shape, dtype=bool), np.zeros(shape, dtype=np.int8)
    for j, m in enumerate(matched):
        t = pos[m["target_index"].to_numpy(dtype=np.int64)]
        weight[t, j] = m["effect_weight"].to_numpy()
        swapped[t, j] = m["match_type"].isin(["swapped", "flipped_swapped"]).to_numpy()
        present[t, j] = True
        model[t, j] = np.where(m["is_dominant"], 1, np.where(m["is_recessive"], 2, 0))
    return ScoreWeights(pgs_ids, used, weight, swapped, present, model)


def compute_scores(
    gset: GenotypeSet,
    weights: ScoreWeights,
    *,
    mean_impute: bool = True,
    chunk_variants: int = 8192,
    reader: Literal["auto", "packed", "dosage"] = "auto",
    dosage_sums: bool = False,
    threads: int | None = None,
) -> pd.DataFrame:
    """Scores for every sample in long format (``SCORE_COLUMNS``).

    ``NAMED_ALLELE_DOSAGE_SUM`` (each score's summed effect-allele dosage) is added when
    ``dosage_sums`` is set; on ``.bed`` input it doubles the work of the scoring kernel.

    ``reader`` picks how genotypes are read: ``auto`` uses the packed kernels for ``.bed`` and
    dosages for ``.pgen``; ``dosage`` on a ``.bed`` reads floats (slower, same result).
    """
    if reader == "auto":
        reader = "packed" if gset.format == "bed" else "dosage"
    n, s = gset.n_samples, len(weights.pgs_ids)
    totals = Totals(np.zeros((n, s)), np.zeros((n, s)), np.zeros((n, s), dtype=np.int64))
    chrom = gset.variants["chrom"].to_numpy(dtype=str)
    is_x = np.isin(chrom[weights.variant_index], X_CHROMS)
    is_male = gset.samples["sex"].to_numpy() == 1
    args = (gset, weights, is_x, is_male, mean_impute, chunk_variants, totals, dosage_sums)
    if reader == "packed":
        import numba

        with compute_threads(threads or numba.get_num_threads()):
            _score_packed(*args)
    else:
        _score_dosages(*args, threads=threads or available_cpus())
    return score_table(
        gset.samples["IID"].to_numpy(),
        weights,
        totals,
        mean_impute=mean_impute,
        dosage_sums=dosage_sums,
    )


def score_table(
    iids: np.ndarray, weights: ScoreWeights, totals: Totals, *, mean_impute: bool, dosage_sums: bool
) -> pd.DataFrame:
    """The long output table (``SCORE_COLUMNS``) from per-sample totals; shared by both engines."""
    n, s = totals.sums.shape
    n_variants = weights.present.sum(axis=0)
    allele_ct = 2 * (n_variants[None, :] - totals.missing)
    with np.errstate(invalid="ignore", divide="ignore"):
        avg = totals.sums / (2.0 * n_variants) if mean_impute else totals.sums / allele_ct
    columns = {
        "IID": np.repeat(np.asarray(iids), s),
        "pgs_id": np.tile(np.array(weights.pgs_ids, dtype=object), n),
        "SUM": totals.sums.ravel(),
        "n_variants": np.tile(n_variants, n),
        "ALLELE_CT": allele_ct.ravel().astype(np.int64),
        "NAMED_ALLELE_DOSAGE_SUM": totals.dosages.ravel(),
        "AVG": avg.ravel(),
    }
    if not dosage_sums:
        del columns["NAMED_ALLELE_DOSAGE_SUM"]
    return pd.DataFrame(columns)


@dataclass
class Totals:
    """Running per-sample, per-score totals: weighted sums, effect-allele dosages, missing calls."""

    sums: np.ndarray
    dosages: np.ndarray
    missing: np.ndarray


def imputation_dosage(a1_alleles: np.ndarray, observed_alleles: np.ndarray) -> np.ndarray:
    """Mean A1 dosage used for a missing call: twice the A1 frequency (0 where nothing is called)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        freq = a1_alleles / observed_alleles
    return np.where(observed_alleles > 0, 2.0 * freq, 0.0)


def _score_packed(
    gset, weights, is_x, is_male, mean_impute, chunk_variants, totals, dosage_sums
) -> None:
    from igs.scores import kernels  # numba: imported only when a .bed is scored

    n, s = totals.sums.shape
    acc = np.zeros((n, 2 * s if dosage_sums else s))
    present = weights.present.astype(np.int64)
    done = 0
    male_mask = kernels.low_bit_mask(is_male, (n + 31) // 32)
    for idx, words in iter_bed_rows(gset, weights.variant_index, chunk_variants=chunk_variants):
        r = np.arange(done, done + len(idx))
        done += len(idx)
        counts = kernels.code_counts(words, n, male_mask, is_x[r])
        # A1 alleles and called alleles: diploid group, then males on chrX (haploid: half a count)
        a1 = 2 * counts[:, 0, 0] + counts[:, 0, 2] + counts[:, 1, 0] + 0.5 * counts[:, 1, 2]
        observed = 2 * counts[:, 0, [0, 2, 3]].sum(axis=1) + counts[:, 1, [0, 2, 3]].sum(axis=1)
        table = _code_table(imputation_dosage(a1, observed), weights, r, mean_impute, dosage_sums)
        base = counts.sum(axis=1).argmax(axis=1)
        base_row = table[np.arange(len(r)), base]  # (V, 2S): what every sample gets first
        acc += base_row.sum(axis=0)
        # change in a sample's missing-call count for each code, relative to the base code
        is_missing = (np.arange(4) == 1).astype(np.int64)
        missing_delta = is_missing[None, :] - is_missing[base][:, None]
        chunk_present = present[r]
        totals.missing += chunk_present[base == 1].sum(axis=0)
        kernels.accumulate_packed_scores(
            words,
            n,
            base.astype(np.int64),
            np.ascontiguousarray(table - base_row[:, None, :]),
            missing_delta,
            chunk_present,
            acc,
            totals.missing,
        )
        log.info("scored %d of %d variants", done, len(weights.variant_index))
    totals.sums += acc[:, :s]
    if dosage_sums:
        totals.dosages += acc[:, s:]


def _code_table(
    a1_mean: np.ndarray, w: ScoreWeights, r: np.ndarray, mean_impute: bool, dosage_sums: bool
) -> np.ndarray:
    """Per variant and 2-bit code: each score's weighted dosage (V, 4, S), followed by its
    called dosage when ``dosage_sums`` (V, 4, 2S)."""
    from igs.scores.kernels import A1_COUNT_OF_CODE

    a1 = np.broadcast_to(A1_COUNT_OF_CODE.astype(np.float64), (len(r), 4)).copy()
    a1[:, 1] = a1_mean if mean_impute else 0.0
    swapped, model = w.swapped[r][:, None, :], w.model[r][:, None, :]
    d = np.where(swapped, 2.0 - a1[:, :, None], a1[:, :, None])
    d = np.where(model == 1, d >= 1, np.where(model == 2, d >= 2, d)).astype(np.float64)
    called = (A1_COUNT_OF_CODE >= 0)[None, :, None]
    if not mean_impute:
        d = d * called
    present = w.present[r][:, None, :]
    weighted = d * (w.weight[r][:, None, :] * present)
    return np.concatenate([weighted, d * called * present], axis=2) if dosage_sums else weighted


def _score_dosages(
    gset, weights, is_x, is_male, mean_impute, chunk_variants, totals, dosage_sums, threads=1
) -> None:
    # chunks of about 2 MB of floats stay in the CPU cache between the read and the products
    chunk = max(32, min(chunk_variants, (2 << 20) // (8 * max(gset.n_samples, 1))))
    workers = max(1, min(threads, 1 + len(weights.variant_index) // chunk))
    if gset.format != "pgen":
        workers = 1  # VCF and BGEN are one stream
    progress = _Progress(len(weights.variant_index))

    def work(k: int, part: Totals) -> None:
        for start, d in iter_dosage_rows(
            gset, weights.variant_index, chunk_variants=chunk, worker=k, n_workers=workers,
            threads=threads,
        ):  # fmt: skip
            r = np.arange(start, start + len(d))
            if (weights.model[r] == 0).all():
                _accumulate_additive(
                    d, is_x[r], is_male, weights, r, mean_impute, part, dosage_sums
                )
            else:
                g = d.T.copy()
                g[g < 0] = np.nan  # a pgen's missing calls
                a1_mean = _dosage_imputation(g, is_x[r], is_male)
                _accumulate(g, a1_mean, weights, r, mean_impute, part, dosage_sums)
            progress.add(len(d))

    from concurrent.futures import ThreadPoolExecutor

    from threadpoolctl import threadpool_limits

    # one BLAS thread per worker (the products are small; the workers are the parallelism)
    with threadpool_limits(1, user_api="blas"):
        if workers == 1:
            work(0, totals)
            return
        parts = [Totals(*(np.zeros_like(a) for a in vars(totals).values())) for _ in range(workers)]
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(work, range(workers), parts))
    for part in parts:  # in worker order: the same sums whatever the threads' timing
        totals.sums += part.sums
        totals.dosages += part.dosages
        totals.missing += part.missing


class _Progress:
    """Logs how many of ``total`` variants are scored, every 10%; safe to share between threads
    (a lost update only delays a log line)."""

    def __init__(self, total: int) -> None:
        self.total, self.done, self.next = total, 0, total / 10

    def add(self, k: int) -> None:
        self.done += k
        if self.done >= self.next or self.done == self.total:
            self.next = self.done + self.total / 10
            log.info("scored %d of %d variants", self.done, self.total)


def _accumulate_additive(
    d: np.ndarray,
    is_x: np.ndarray,
    is_male: np.ndarray,
    w: ScoreWeights,
    rows: np.ndarray,
    mean_impute: bool,
    totals: Totals,
    dosage_sums: bool,
) -> None:
    """Add one chunk of float dosages (variants x samples, C order; a missing call is -9 and is
    overwritten) for additive scores: :func:`igs.scores.kernels.fill_missing_dosages` fills
    the missing calls and makes their corrections in one pass, then one matrix product per
    total scores everything.

    Effect dosage = ``sign * a1 + const`` per variant and score (``2 - a1`` when swapped).
    """
    from igs.scores import kernels

    present = w.present[rows]
    swapped = w.swapped[rows]
    sign = np.where(swapped, -1.0, 1.0) * present
    const = np.where(swapped, 2.0, 0.0) * present
    weight = w.weight[rows]
    kernels.fill_missing_dosages(
        d, is_x, is_male, mean_impute, weight, sign, const,
        totals.sums, totals.dosages, totals.missing,
    )  # fmt: skip
    # (scores x samples) products: the faster orientation for BLAS on a variant-major chunk
    totals.sums += ((sign * weight).T @ d).T
    totals.sums += (const * weight).sum(axis=0)
    if dosage_sums:
        totals.dosages += (sign.T @ d).T
        totals.dosages += const.sum(axis=0)


def _dosage_imputation(g: np.ndarray, is_x: np.ndarray, is_male: np.ndarray) -> np.ndarray:
    """Mean A1 dosage per column of ``g``; on chrX a male is one allele, half his dosage."""
    a1 = np.nansum(g, axis=0)
    alleles = 2.0 * (g.shape[0] - np.isnan(g).sum(axis=0))
    if is_x.any():
        male_x = g[is_male][:, is_x]
        a1[is_x] -= np.nansum(male_x, axis=0) / 2
        alleles[is_x] -= (~np.isnan(male_x)).sum(axis=0)
    return imputation_dosage(a1, alleles)


def _accumulate(
    g: np.ndarray,
    a1_mean: np.ndarray,
    w: ScoreWeights,
    rows: np.ndarray,
    mean_impute: bool,
    totals: Totals,
    dosage_sums: bool,
) -> None:
    """Add one chunk of float dosages (samples x variants, NaN missing; overwritten in place)."""
    missing = np.isnan(g)
    has_missing = bool(missing.any())
    weight, swapped, present, model = (
        w.weight[rows],
        w.swapped[rows],
        w.present[rows],
        w.model[rows],
    )
    presence = present.astype(np.float64)
    if has_missing:
        totals.missing += (missing.astype(np.float64) @ presence).astype(np.int64)
        g[missing] = np.broadcast_to(a1_mean if mean_impute else 0.0, g.shape)[missing]
    if (model == 0).all():
        # effect dosage = g (exact) or 2 - g (swapped): linear in g plus a constant per variant
        sign = np.where(swapped, -1.0, 1.0) * presence
        const = np.where(swapped, 2.0, 0.0) * presence
        totals.sums += g @ (sign * weight) + (const * weight).sum(axis=0)
        if has_missing and not mean_impute:
            totals.sums -= missing.astype(np.float64) @ (const * weight)  # nothing for them
        if dosage_sums:
            if has_missing and mean_impute:
                g[missing] = 0.0  # called genotypes only
            totals.dosages += g @ sign + const.sum(axis=0)
            if has_missing:
                totals.dosages -= missing.astype(np.float64) @ const
        return
    called = ~missing
    for j in range(weight.shape[1]):
        d = np.where(swapped[:, j], 2.0 - g, g)
        d = np.where(
            model[:, j] == 1,
            (d >= 1).astype(float),
            np.where(model[:, j] == 2, (d >= 2).astype(float), d),
        )
        if not mean_impute:
            d = d * called
        totals.sums[:, j] += d @ (weight[:, j] * presence[:, j])
        totals.dosages[:, j] += (d * called) @ presence[:, j]
