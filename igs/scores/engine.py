"""Score every sample for many scores in one streaming pass over the genotypes.

Semantics follow ``plink2 --score ... cols=+scoresums``: for each score,
``SUM = sum(weight * effect-allele dosage)`` over matched variants; missing calls are
mean-imputed from the observed effect-allele frequency (``mean_impute=False`` gives
plink2's ``no-mean-imputation``: missing calls add nothing). As in plink2,
``ALLELE_CT`` is twice the number of called matched variants and
``NAMED_ALLELE_DOSAGE_SUM`` counts called genotypes only; ``AVG`` divides ``SUM`` by
``ALLELE_CT`` without imputation and by twice the number of matched variants with it. Dominant and
recessive rows use 1[dosage >= 1] and 1[dosage == 2] (hard calls).

The per-chunk work is one matrix product ``[G, 1 - missing] @ B``, so memory is
bounded by ``n_samples x chunk_variants`` whatever the number of variants.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from igs.io.plink import GenotypeSet, iter_genotype_chunks

log = logging.getLogger(__name__)

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
    used = np.unique(
        np.concatenate([m["target_index"].to_numpy(dtype=np.int64) for m in matched] or [[]])
    )
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
) -> pd.DataFrame:
    """Scores for every sample in long format (``SCORE_COLUMNS``)."""
    n, s = gset.n_samples, len(weights.pgs_ids)
    sums = np.zeros((n, s))
    dosage_sums = np.zeros((n, s))
    allele_ct = np.zeros((n, s))
    needed = np.zeros(gset.n_variants, dtype=bool)
    needed[weights.variant_index] = True
    row_of = np.full(gset.n_variants, -1)
    row_of[weights.variant_index] = np.arange(len(weights.variant_index))
    for start, stop, g in iter_genotype_chunks(
        gset, chunk_variants=chunk_variants, dtype=np.float64
    ):
        cols = np.flatnonzero(needed[start:stop])
        if not len(cols):
            continue
        rows = row_of[start + cols]
        _accumulate(g[:, cols], weights, rows, mean_impute, sums, dosage_sums, allele_ct)
        log.info("scored variants %d-%d of %d", start + 1, stop, gset.n_variants)
    n_variants = weights.present.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        avg = sums / (2.0 * n_variants) if mean_impute else sums / allele_ct
    return pd.DataFrame(
        {
            "IID": np.repeat(gset.samples["IID"].to_numpy(), s),
            "pgs_id": np.tile(np.array(weights.pgs_ids, dtype=object), n),
            "SUM": sums.ravel(),
            "n_variants": np.tile(n_variants, n),
            "ALLELE_CT": allele_ct.ravel().astype(np.int64),
            "NAMED_ALLELE_DOSAGE_SUM": dosage_sums.ravel(),
            "AVG": avg.ravel(),
        }
    )


def _accumulate(
    g: np.ndarray,
    w: ScoreWeights,
    rows: np.ndarray,
    mean_impute: bool,
    sums: np.ndarray,
    dosage_sums: np.ndarray,
    allele_ct: np.ndarray,
) -> None:
    observed = ~np.isnan(g)
    a1_mean = np.nanmean(np.where(observed.any(axis=0), g, 0.0), axis=0) if g.size else g
    g0 = np.where(observed, g, a1_mean if mean_impute else 0.0)
    called = observed.astype(np.float64)
    weight, swapped, present, model = (
        w.weight[rows],
        w.swapped[rows],
        w.present[rows],
        w.model[rows],
    )
    additive = model == 0
    if additive.all():
        # effect dosage = g (exact) or 2 - g (swapped): linear in g with a constant per called variant
        sign = np.where(swapped, -1.0, 1.0) * present
        const = np.where(swapped, 2.0, 0.0) * present
        base = called if not mean_impute else np.ones_like(called)
        sums += g0 @ (sign * weight) + base @ (const * weight)
        dosage_sums += np.where(observed, g, 0.0) @ sign + called @ const
    else:
        for j in range(weight.shape[1]):
            d = np.where(swapped[:, j], 2.0 - g0, g0)
            d = np.where(
                model[:, j] == 1,
                (d >= 1).astype(float),
                np.where(model[:, j] == 2, (d >= 2).astype(float), d),
            )
            if not mean_impute:
                d = d * called
            sums[:, j] += d @ (weight[:, j] * present[:, j])
            dosage_sums[:, j] += (d * called) @ present[:, j]
    allele_ct += 2.0 * (called @ present.astype(np.float64))
