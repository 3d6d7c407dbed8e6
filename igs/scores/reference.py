"""Genetic ancestry against a shared reference panel (pgsc_calc's ``ancestry_analysis``).

Steps, as pgsc_calc takes them:

1. **Shared variants.** Autosomal variants of the reference genotypes that the biobank also
   has (chromosome, position and the two alleles in either order), strand-ambiguous (A/T, C/G)
   and duplicated positions left out.
2. **Reference PCA.** On the reference samples that have a population label: variants with
   MAF >= ``min_maf`` in the reference, LD-thinned (greedy, as ``plink --indep-pairwise``), then
   the PCA of :func:`igs.qc.pca.fit_pca` (HWE-normalised hard calls). The loadings are written
   in the layout of the QC's ``pca_loadings.tsv.gz``.
3. **Projection.** Biobank samples are put on the reference PCs with the plain loadings
   (``(dosage - 2p) / sqrt(2p(1-p) M)`` times the loadings, ``p`` the reference frequency,
   missing = 0; what ``plink2 --score ... variance-standardize`` with the loadings gives, and
   what pgsc_calc did before its fraposa option). Projected samples shrink slightly towards
   the origin compared with the reference's own scores; the OADP correction of fraposa is not
   applied.
4. **Reference scores** on the scoring-file rows matched in *both* the biobank and the
   reference (:func:`score_reference`). The workflow matches the biobank with the reference's
   variants as a filter (``igs scores match --reference``: the others become
   ``not_in_reference``, as pgsc_calc scores only variants in both), so the two scores sum
   the same rows; rows matched only in the biobank would be counted.
5. **Most similar population** (:func:`classify_populations`): a random forest trained on the
   reference's top PCs and labels, as pgsc_calc's ``RandomForest`` method, with the predicted
   class probability.

The scores are then adjusted by :func:`igs.scores.ancestry.adjust_scores` with the reference's
scores and PCs (``Z_norm1``, ``Z_norm2``, ``percentile`` fitted on the reference) and
:func:`reference_population_columns` (``Z`` and percentile within the most similar reference
population, pgsc_calc's ``empirical`` method).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from igs.errors import InputFormatError, MatchRateError
from igs.io.plink import GenotypeSet, iter_dosage_chunks, read_genotype_codes
from igs.qc.decisions import thin_evenly
from igs.qc.ld import LDPruner
from igs.qc.pca import fit_pca, match_loadings
from igs.scores.ancestry import empirical_percentile
from igs.scores.match import MatchOptions
from igs.scores.options import ReferenceOptions

log = logging.getLogger(__name__)
PathLike = str | os.PathLike[str]

POPULATION = "population"
SAMPLE_ID_COLUMNS = ("IID", "#IID", "sample", "Sample", "sample_id", "ID")
AUTOSOMES = tuple(str(c) for c in range(1, 23))
REFERENCE_COLUMNS = (
    "most_similar_population",
    "most_similar_population_probability",
    "Z_most_similar_population",
    "percentile_most_similar_population",
)


@dataclass(frozen=True)
class ReferencePCA:
    """The reference samples' PCs (IID, population, PC1..) and the variant loadings."""

    pcs: pd.DataFrame
    loadings: pd.DataFrame
    n_shared: int


def read_population_labels(path: PathLike, column: str) -> pd.Series:
    """``IID -> population`` from a whitespace-separated table with a header (the 1000 Genomes
    panel: ``sample pop super_pop gender``); the ID column is the first of SAMPLE_ID_COLUMNS."""
    if not Path(path).is_file():
        raise InputFormatError(f"{path}: the population table (population labels) does not exist.")
    table = pd.read_csv(path, sep=r"\s+", dtype=str)
    id_col = next((c for c in SAMPLE_ID_COLUMNS if c in table.columns), None)
    if id_col is None:
        raise InputFormatError(
            f"{path}: the population table has no sample ID column (one of "
            f"{', '.join(SAMPLE_ID_COLUMNS)}); columns: {', '.join(table.columns)}."
        )
    if column not in table.columns:
        raise InputFormatError(
            f"{path}: the population table has no column {column!r} "
            f"(scores.ancestry_reference.population_column); columns: {', '.join(table.columns)}."
        )
    table = table.dropna(subset=[id_col, column]).drop_duplicates(id_col)
    bad = sorted(
        set(table[column]) - set(table[column][table[column].str.fullmatch(r"[A-Za-z0-9_.%-]+")])
    )
    if bad:  # the labels become group names in the share bundle and meta-analysis
        raise InputFormatError(
            f"{path}: population label(s) {', '.join(map(repr, bad[:3]))} in column {column!r} "
            "hold characters other than letters, digits, '_', '.', '%' and '-'; rename them."
        )
    return pd.Series(table[column].to_numpy(), index=table[id_col].to_numpy(), name=POPULATION)


def shared_variants(reference: pd.DataFrame, targets: list[pd.DataFrame]) -> np.ndarray:
    """Sorted rows of ``reference`` (variants: chrom, pos, a1, a2) on autosomes that the target
    variant tables hold (chromosome with or without "chr", position, alleles in either order);
    strand-ambiguous SNPs and positions seen twice in the reference are left out."""
    ref = reference.reset_index(drop=True)
    chrom = ref["chrom"].astype(str).str.removeprefix("chr")
    ambiguous = (ref["a1"] + ref["a2"]).isin(["AT", "TA", "CG", "GC"])
    usable = chrom.isin(AUTOSOMES) & ~ambiguous & ~ref.duplicated(["chrom", "pos"], keep=False)
    tgt = pd.concat([t[["chrom", "pos", "a1", "a2"]] for t in targets], ignore_index=True)
    return np.flatnonzero(usable.to_numpy() & variants_in(ref, tgt))


def variants_in(target: pd.DataFrame, reference: pd.DataFrame) -> np.ndarray:
    """Bool per row of ``target``: the reference has the variant (chromosome with or without
    "chr", position, the two alleles in either order)."""
    key = ["chrom", "pos"]
    strip = lambda t: t.assign(chrom=t["chrom"].astype(str).str.removeprefix("chr"))  # noqa: E731
    tgt = strip(target.reset_index(drop=True)[[*key, "a1", "a2"]]).assign(
        row=np.arange(len(target))
    )
    cand = tgt.merge(strip(reference[[*key, "a1", "a2"]]), on=key, suffixes=("", "_r"))
    same = (cand["a1"] == cand["a1_r"]) & (cand["a2"] == cand["a2_r"])
    swapped = (cand["a1"] == cand["a2_r"]) & (cand["a2"] == cand["a1_r"])
    found = np.zeros(len(target), dtype=bool)
    found[cand.loc[same | swapped, "row"].to_numpy(np.int64)] = True
    return found


def _frequencies(g: np.ndarray) -> np.ndarray:
    """a1 frequency of each column of int8 codes among called genotypes (0 if none called)."""
    called = (g >= 0) & (g <= 2)
    return np.where(called, g, 0).sum(axis=0) / (2.0 * np.maximum(called.sum(axis=0), 1))


def hard_calls(
    gset: GenotypeSet, variant_index: np.ndarray, sample_index: np.ndarray
) -> np.ndarray:
    """int8 a1 counts (missing negative) of the selected samples and variants, any format:
    bed/pgen hard calls, VCF/BGEN dosages rounded."""
    if gset.format in ("bed", "pgen"):
        return read_genotype_codes(gset, variant_index, sample_index)
    parts = []
    for _, g in iter_dosage_chunks(gset, variant_index, chunk_variants=2048):
        sel = g[sample_index]
        parts.append(np.where(np.isnan(sel), -9, np.rint(np.nan_to_num(sel))).astype(np.int8))
    return np.asfortranarray(np.concatenate(parts, axis=1))


def fit_reference_pca(
    gset: GenotypeSet,
    labels: pd.Series,
    targets: list[pd.DataFrame],
    options: ReferenceOptions | None = None,
) -> ReferencePCA:
    """PCA of the labelled reference samples on the variants shared with the biobank
    (``targets``: its variant tables, one per genotype part), MAF-filtered and LD-thinned."""
    options = options or ReferenceOptions()
    ids = gset.samples["IID"].astype(str).to_numpy()
    sample_index = np.flatnonzero(np.isin(ids, labels.index.astype(str)))
    if len(sample_index) == 0:
        raise InputFormatError(
            f"{gset.prefix}: none of its {len(ids)} samples (e.g. {ids[0]}) has a label in the "
            "population table; the sample IDs of the two must match."
        )
    shared = shared_variants(gset.variants, targets)
    if len(shared) == 0:
        raise MatchRateError(
            f"{gset.prefix}: no autosomal variant of the reference panel is in the biobank's "
            "genotypes (chromosome, position and alleles); are both on the same genome build?"
        )
    # pass 1: reference frequencies, chunk by chunk; pass 2: LD thinning of the common ones
    chunks = [
        shared[i : i + options.chunk_variants]
        for i in range(0, len(shared), options.chunk_variants)
    ]
    freq = np.concatenate([_frequencies(hard_calls(gset, c, sample_index)) for c in chunks])
    common = shared[np.minimum(freq, 1 - freq) >= max(options.min_maf, 1e-12)]
    variants = gset.variants.iloc[common]
    pruner = LDPruner(
        variants["pos"].to_numpy(),
        pd.factorize(variants["chrom"].astype(str))[0],
        window=options.prune_window,
        window_kb=options.prune_window_kb,
        r2=options.prune_r2,
    )
    for i in range(0, len(common), options.chunk_variants):
        pruner.add(hard_calls(gset, common[i : i + options.chunk_variants], sample_index))
    kept = thin_evenly(common[pruner.kept], options.max_variants)
    log.info(
        "reference PCA: %d shared variants, %d with MAF >= %g, %d after LD thinning, %d used",
        len(shared), len(common), options.min_maf, int(pruner.kept.sum()), len(kept),
    )  # fmt: skip
    if len(kept) < options.min_variants:
        raise MatchRateError(
            f"{gset.prefix}: only {len(kept)} variants shared with the biobank are left for the "
            f"reference PCA after the MAF filter and LD thinning (of {len(shared)} shared); "
            f"need at least {options.min_variants}."
        )
    g = hard_calls(gset, kept, sample_index)
    fit = fit_pca(g, options.n_pcs, seed=options.seed)
    pc_cols = [f"PC{i}" for i in range(1, fit.loadings.shape[1] + 1)]
    loadings = gset.variants.iloc[kept][["chrom", "id", "pos", "a1", "a2"]].copy()
    loadings["chrom"] = loadings["chrom"].astype(str).str.removeprefix("chr")
    loadings["a1_freq"] = fit.a1_freq
    loadings[pc_cols] = fit.loadings
    pcs = pd.DataFrame(fit.scores, columns=pc_cols)
    pcs.insert(0, POPULATION, labels.reindex(ids[sample_index]).to_numpy())
    pcs.insert(0, "IID", ids[sample_index])
    return ReferencePCA(pcs=pcs, loadings=loadings.reset_index(drop=True), n_shared=len(shared))


def project_parts(
    gsets: list[GenotypeSet], loadings: pd.DataFrame, *, min_overlap: float = 0.5
) -> pd.DataFrame:
    """IID, PC1..PCk of the samples of ``gsets`` (the parts of one biobank, e.g. one per
    chromosome, the same samples in each) on a PCA's loadings, from dosages of any format:
    ``(dosage - 2p) / sqrt(2p(1-p) M)`` times the loadings summed over every loadings variant
    found, missing dosages counting 0."""
    pc_cols = [c for c in loadings.columns if c.startswith("PC")]
    load = loadings.assign(chrom=loadings["chrom"].astype(str))
    first = gsets[0].samples["IID"].astype(str).to_numpy()
    scores = np.zeros((len(first), len(pc_cols)))
    found = 0
    for gset in gsets:
        if not np.array_equal(gset.samples["IID"].astype(str).to_numpy(), first):
            raise InputFormatError(
                f"{gset.prefix}: its samples differ from those of {gsets[0].prefix}; every "
                "genotype part must hold the same samples in the same order."
            )
        variants = gset.variants.assign(
            chrom=gset.variants["chrom"].astype(str).str.removeprefix("chr")
        )
        cand = match_loadings(variants, load)
        found += len(cand)
        idx = cand["target_index"].to_numpy(np.int64)
        p = cand["a1_freq"].to_numpy(float)
        sd = np.sqrt(2 * p * (1 - p) * len(loadings))
        weights = cand[pc_cols].to_numpy(float) / sd[:, None]
        flip = cand["swapped"].to_numpy()
        row = 0
        for chunk, g in iter_dosage_chunks(gset, idx, chunk_variants=2048):
            sl = slice(row, row + len(chunk))
            g = np.where(flip[sl], 2 - g, g) - 2 * p[sl]  # counted from the loadings' a1
            scores += np.nan_to_num(g) @ weights[sl]
            row += len(chunk)
    rate = found / max(len(loadings), 1)
    if rate < min_overlap:
        raise MatchRateError(
            f"only {found} of {len(loadings)} reference PCA variants ({rate:.0%}) are in the "
            f"biobank's genotypes ({gsets[0].prefix}...); need {min_overlap:.0%}."
        )
    out = pd.DataFrame(scores, columns=pc_cols)
    out.insert(0, "IID", first)
    return out


def score_reference(
    gset: GenotypeSet,
    scoring_files: list[str],
    target_report: pd.DataFrame,
    genome_build: str,
    options: MatchOptions | None = None,
) -> tuple[pd.DataFrame, dict[str, dict[str, int]]]:
    """Scores of every reference sample on the scoring-file rows matched in both the biobank
    (``target_report``: its combined match report) and the reference, and per score the counts
    ``matched_both`` and ``matched_target_only`` (rows the reference lacks: the biobank's
    score has them, the reference's does not; 0 when the biobank was matched with the
    reference's variants as a filter, ``igs scores match --reference``, as the workflow does)."""
    from igs.scores.engine import compute_scores, score_weights
    from igs.scores.match import check_build, match_variants
    from igs.scores.scorefile import read_scoring_file

    in_target = target_report.loc[target_report["match_status"] == "matched", ["pgs_id", "row"]]
    reports, counts = [], {}
    for path in scoring_files:
        score = read_scoring_file(path)
        check_build(score, genome_build)
        rows = set(in_target.loc[in_target["pgs_id"] == score.pgs_id, "row"].astype(int))
        if not rows:
            continue  # not scored in the biobank (dropped below min_overlap)
        opts = replace(options or MatchOptions(), min_overlap=0.0)
        report = match_variants(score, gset.variants, opts)
        matched = report["match_status"] == "matched"
        both = matched & report["row"].isin(rows)
        report.loc[matched & ~both, "match_status"] = "not_matched_in_target"
        counts[score.pgs_id] = {
            "matched_both": int(both.sum()),
            "matched_target_only": len(rows) - int(both.sum()),
        }
        if counts[score.pgs_id]["matched_target_only"]:
            log.warning(
                "%s: %d variant(s) scored in the biobank are not in the reference panel; the "
                "reference scores leave them out.",
                score.pgs_id, counts[score.pgs_id]["matched_target_only"],
            )  # fmt: skip
        reports.append(report)
    if not reports:
        raise InputFormatError(
            "no score of the biobank's match report is in the scoring files given."
        )
    return compute_scores(gset, score_weights(reports, gset.n_variants)), counts


def classify_populations(
    reference_pcs: pd.DataFrame, target_pcs: pd.DataFrame, *, n_pcs: int = 5, seed: int = 42
) -> pd.DataFrame:
    """IID, ``most_similar_population`` and its probability: a random forest (scikit-learn's
    defaults, as pgsc_calc) trained on the reference's PC1..PC``n_pcs`` and ``population``."""
    from sklearn.ensemble import RandomForestClassifier

    cols = [f"PC{i}" for i in range(1, n_pcs + 1)]
    for name, table in (("reference", reference_pcs), ("biobank", target_pcs)):
        missing = [c for c in cols if c not in table.columns]
        if missing:
            raise InputFormatError(
                f"the {name} PC table has no column(s) {', '.join(missing)} "
                f"(scores.ancestry_reference.n_pcs_population = {n_pcs})."
            )
    clf = RandomForestClassifier(random_state=seed, n_jobs=1)
    clf.fit(reference_pcs[cols].to_numpy(float), reference_pcs[POPULATION].astype(str).to_numpy())
    prob = clf.predict_proba(target_pcs[cols].to_numpy(float))
    best = prob.argmax(axis=1)
    return pd.DataFrame(
        {
            "IID": target_pcs["IID"].astype(str).to_numpy(),
            "most_similar_population": clf.classes_[best],
            "most_similar_population_probability": prob[np.arange(len(best)), best],
        }
    )


def reference_population_columns(
    adjusted: pd.DataFrame,
    populations: pd.DataFrame,
    reference_scores: pd.DataFrame,
    reference_pcs: pd.DataFrame,
) -> pd.DataFrame:
    """``adjusted`` with REFERENCE_COLUMNS: the most similar population and its probability
    (``populations`` from :func:`classify_populations`), and the raw score's Z (population
    mean, SD with ddof 0) and percentile within that population's reference scores."""
    labels = reference_pcs.set_index(reference_pcs["IID"].astype(str))[POPULATION]
    by_id = populations.set_index(populations["IID"].astype(str))
    ids = adjusted["IID"].astype(str)
    out = adjusted.copy()
    for col in REFERENCE_COLUMNS[:2]:
        out[col] = by_id[col].reindex(ids).to_numpy()
    z = np.full(len(out), np.nan)
    pct = np.full(len(out), np.nan)
    ref = reference_scores.assign(
        population=labels.reindex(reference_scores["IID"].astype(str)).to_numpy()
    )
    for (pgs_id, pop), idx in out.groupby(["pgs_id", "most_similar_population"]).indices.items():
        values = ref.loc[(ref["pgs_id"] == pgs_id) & (ref[POPULATION] == pop), "SUM"].to_numpy(
            float
        )
        if len(values) < 2:
            continue
        own = out["SUM"].to_numpy(float)[idx]
        z[idx] = (own - values.mean()) / values.std()
        pct[idx] = empirical_percentile(values, own)
    out["Z_most_similar_population"] = z
    out["percentile_most_similar_population"] = pct
    return out
