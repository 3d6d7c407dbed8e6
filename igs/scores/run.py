"""The scores stage on files: match scoring files, compute the scores, adjust them for ancestry."""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from igs.errors import ConfigError, InputFormatError
from igs.io.atomic import atomic_path
from igs.io.plink import GenotypeSet
from igs.io.tables import TsvWriter, read_tsv, write_tsv
from igs.scores.match import MatchOptions

log = logging.getLogger(__name__)
PathLike = str | os.PathLike[str]


def target_variants(
    prefix: str,
    fmt: str,
    hail_config: dict[str, Any] | None = None,
    *,
    engine: str = "local",
    sample: PathLike | None = None,
    genome_build: str | None = None,
) -> pd.DataFrame:
    """The variants of a genotype fileset (with the Hail engine, VCF/BGEN listed through Hail,
    whose variant order its scoring uses, on ``genome_build``)."""
    if engine == "hail" and fmt in ("vcf", "bgen"):
        from igs.scores.hail_engine import hail_target_variants

        return hail_target_variants(
            prefix, fmt, hail_config or {}, genome_build=genome_build, sample=sample
        )
    from igs.io.plink import open_genotypes

    return open_genotypes(prefix, fmt, sample=sample).variants  # type: ignore[arg-type]


@dataclass(frozen=True)
class ScoreFilters:
    """The scoring filters for imputed data (``scores.min_info``, ``scores.min_maf``) and where
    their values come from: the INFO of ``variants`` (or an info file), frequencies from ``gset``;
    and the variants of a reference panel, outside which nothing is scored."""

    min_info: float = 0.0
    min_maf: float = 0.0
    gset: GenotypeSet | None = None
    info_file: PathLike | None = None
    reference_variants: pd.DataFrame | None = None  # scores.ancestry_reference: score only these


def match_files(
    variants: pd.DataFrame,
    scoring_files: list[str],
    genome_build: str,
    options: MatchOptions,
    report: PathLike,
    summary: PathLike | None = None,
    filters: ScoreFilters = ScoreFilters(),
    liftover_chain: PathLike | None = None,
) -> None:
    """Match each scoring file to the target; one report row per scoring-file row, and a
    per-score summary. One scoring file is in memory at a time; pgs_ids must be unique.

    A scoring file that states a build other than ``genome_build`` is lifted over with
    ``liftover_chain`` (a UCSC chain file from its build to the target's) before matching;
    without a chain it is refused.

    Without ``summary`` (one chromosome file of several) every score is kept whatever its
    overlap: :func:`sum_parts` checks it on all chromosomes together.
    """
    from igs.scores.match import check_build, match_variants, prepare_target, summarise_matches
    from igs.scores.scorefile import read_scoring_file

    if summary is None:
        options = replace(options, min_overlap=0.0)
    seen: dict[str, str] = {}
    summaries = []
    prepared = prepare_target(variants, options)
    apply_filters = _filter_function(variants, filters)
    chain = None
    with atomic_path(Path(report)) as tmp, TsvWriter(tmp, gzipped=True) as out:
        for path in scoring_files:
            score = read_scoring_file(path)
            if score.pgs_id in seen:
                raise InputFormatError(
                    f"two scoring files share a pgs_id: {score.pgs_id!r} ({seen[score.pgs_id]} and {path})."
                )
            seen[score.pgs_id] = path
            if liftover_chain is not None and score.genome_build not in (None, genome_build):
                from igs.scores.liftover import lift_scoring_file, read_chain

                chain = chain or read_chain(liftover_chain)
                log.info("%s: lifting %s over to %s with %s", score.pgs_id, score.genome_build,
                         genome_build, liftover_chain)  # fmt: skip
                score = lift_scoring_file(score, chain, genome_build)
                log.info("%s: %s variant(s) unmapped by the chain", score.pgs_id,
                         score.header["liftover_unmapped"])  # fmt: skip
            check_build(score, genome_build)
            part = apply_filters(match_variants(score, variants, options, prepared))
            n_matched = int((part["match_status"] == "matched").sum())
            log.info("%s: %d of %d variants matched", score.pgs_id, n_matched, len(part))
            summaries.append(summarise_matches(part))
            out.write(part)
            del score, part  # before the next file is read
    if summary is not None:
        with atomic_path(Path(summary)) as tmp:
            pd.concat(summaries, ignore_index=True).to_csv(tmp, sep="\t", index=False)


def _filter_function(variants: pd.DataFrame, filters: ScoreFilters):  # type: ignore[no-untyped-def]
    """report -> report with min_info / min_maf applied (allele frequencies computed once per
    variant, in one streaming pass per score over the variants not yet seen)."""
    from igs.scores.filters import a1_frequencies, filter_matches, read_info_file

    if not filters.min_info and not filters.min_maf and filters.reference_variants is None:
        return lambda report: report
    in_reference = None
    if filters.reference_variants is not None:
        from igs.scores.reference import variants_in

        in_reference = variants_in(variants, filters.reference_variants)
    info = None
    if filters.min_info and filters.info_file is not None:
        by_id = read_info_file(filters.info_file)
        by_id = by_id[~by_id.index.duplicated()]
        info = pd.Series(by_id.reindex(variants["id"]).to_numpy(), index=np.arange(len(variants)))
    if filters.min_maf and filters.gset is None:
        raise ConfigError("scores.min_maf needs the genotypes read by the local engine.")
    freq = np.full(len(variants), np.nan)
    done = np.zeros(len(variants), dtype=bool)

    def apply(report: pd.DataFrame) -> pd.DataFrame:
        a1_freq = None
        if filters.min_maf:
            matched = report.loc[report["match_status"] == "matched", "target_index"]
            todo = np.unique(matched.to_numpy(dtype=np.int64))
            todo = todo[~done[todo]]
            if len(todo):
                freq[todo] = a1_frequencies(filters.gset, todo)
                done[todo] = True
            a1_freq = pd.Series(freq)
        return filter_matches(
            report, variants, min_info=filters.min_info or None, min_maf=filters.min_maf or None,
            a1_freq=a1_freq, info=info, in_reference=in_reference,
        )  # fmt: skip

    return apply


def sum_parts(
    parts: dict[str, tuple[PathLike, PathLike]],
    report: PathLike,
    summary: PathLike,
    out: PathLike,
    *,
    min_overlap: float,
    strict: bool = False,
    mean_impute: bool = True,
) -> None:
    """Combine the per-chromosome match reports and score tables (``{part: (report, scores)}``)
    into one report, one summary and one score table: equal to scoring one merged file.

    Each scoring-file row keeps its best status over the chromosomes; a score whose combined
    overlap is below ``min_overlap`` is dropped with its reason in the summary (``strict``:
    MatchRateError instead), and its per-chromosome sums are left out.
    """
    from igs.errors import MatchRateError
    from igs.scores.match import summarise_matches
    from igs.scores.perchrom import combine_match_report_files, sum_score_tables

    report_table = combine_match_report_files({p: r for p, (r, _) in parts.items()})
    dropped = {}
    matched = (report_table["match_status"] == "matched").groupby(
        report_table["pgs_id"], sort=False
    )
    for pgs_id, is_matched in matched:
        rate = float(is_matched.mean()) if len(is_matched) else 0.0
        if rate < min_overlap:
            counts = report_table.loc[is_matched.index, "match_status"].value_counts().to_dict()
            reason = (
                f"{pgs_id}: only {rate:.1%} of {len(is_matched)} variants matched the target over "
                f"{len(parts)} genotype file(s) (min_overlap {min_overlap:.0%}); statuses {counts}."
            )
            if strict:
                raise MatchRateError(reason + " scores.strict is true: the run stops.")
            log.warning("%s Dropped (scores.strict is false).", reason)
            dropped[pgs_id] = reason
    names = [str(s) for _, s in parts.values()]
    total = None
    for name in names:  # one part's table at a time
        table = read_tsv(name, dtypes={"IID": "string", "pgs_id": "string"})
        table = table[~table["pgs_id"].isin(list(dropped))]
        total = table if total is None else sum_score_tables(
            [total, table], mean_impute=mean_impute, names=[names[0], name]
        )  # fmt: skip
    total = sum_score_tables([total], mean_impute=mean_impute, names=names[:1])
    with atomic_path(Path(report)) as tmp:
        write_tsv(report_table, tmp, gzipped=True)
    with atomic_path(Path(summary)) as tmp:
        summarise_matches(report_table, dropped=dropped).to_csv(tmp, sep="\t", index=False)
    with atomic_path(Path(out)) as tmp:
        write_tsv(total, tmp, gzipped=True)


def compute_files(
    prefix: str,
    fmt: str,
    report: PathLike,
    out: PathLike,
    *,
    engine: str = "local",
    mean_impute: bool = True,
    dosage_sums: bool = False,
    chunk_variants: int = 8192,
    hail_config: dict[str, Any] | None = None,
    sample: PathLike | None = None,
    genome_build: str | None = None,
    threads: int | None = None,
) -> None:
    """Every matched score for every sample in one pass (plink2 --score semantics); ``sample``
    is a BGEN's .sample file, ``genome_build`` the build Hail reads VCF/BGEN loci on,
    ``threads`` the local engine's threads (default: every CPU this process may use)."""
    from igs.scores.engine import REPORT_COLUMNS_FOR_SCORING, compute_scores, score_weights

    full = read_tsv(
        report, columns=REPORT_COLUMNS_FOR_SCORING, dtypes={"pgs_id": "string"}, categorical=True
    )
    reports = [r for _, r in full.groupby("pgs_id", sort=False, observed=True)]
    if engine == "hail":
        from igs.scores.hail_engine import compute_scores_hail

        n_target = int(full["target_index"].max()) + 1 if full["target_index"].notna().any() else 0
        result = compute_scores_hail(
            prefix, fmt, score_weights(reports, n_target), mean_impute=mean_impute,
            dosage_sums=dosage_sums, hail_config=hail_config or {}, genome_build=genome_build,
            sample=sample,
        )  # fmt: skip
    else:
        from igs.io.plink import open_genotypes

        gset = open_genotypes(prefix, fmt, sample=sample)  # type: ignore[arg-type]
        result = compute_scores(
            gset, score_weights(reports, gset.n_variants), mean_impute=mean_impute,
            chunk_variants=chunk_variants, dosage_sums=dosage_sums, threads=threads,
        )  # fmt: skip
    with atomic_path(Path(out)) as tmp:
        write_tsv(result, tmp, gzipped=True)


QC_STATUS_COLUMNS = ("qc_pass", "qc_fail")


def adjust_files(
    scores: PathLike,
    pcs: PathLike,
    out: PathLike,
    models: PathLike,
    *,
    n_pcs: int,
    sample_qc: PathLike | None = None,
    reference_scores: PathLike | None = None,
    reference_pcs: PathLike | None = None,
    n_pcs_population: int = 5,
) -> None:
    """Ancestry-adjusted scores (Z-scores, mean and mean+variance PC regressions, percentiles)
    and the fitted adjustment models as JSON.

    Every scored person gets a row. With ``sample_qc`` the models are fitted on the people who
    pass QC (one of each related pair already removed there) and applied to everyone, and the
    rows carry ``qc_pass`` and ``qc_fail`` (the QC step that removed the person, '' if none).
    Without PC columns in ``pcs`` and without a reference (``qc.source: none``) the adjustment
    is skipped: ``Z_raw`` and its percentile only, and the reason in the models file.

    A ``reference_pcs`` table with a ``population`` column (``igs scores reference``) adds
    the most similar reference population of each person (random forest on its first
    ``n_pcs_population`` PCs), its probability, and the Z-score and percentile within that
    population's reference scores (``REFERENCE_COLUMNS``).
    """
    from igs.scores.ancestry import adjust_scores, skip_adjustment

    if (reference_scores is None) != (reference_pcs is None):
        raise ConfigError("--reference-scores and --reference-pcs go together.")
    read = lambda p: read_tsv(p, dtypes={"IID": "string"}) if p else None  # noqa: E731
    table, pc_table = read(scores), read(pcs)
    status = qc_status(read(sample_qc), table["IID"]) if sample_qc is not None else None
    groups, ref_scores, ref_pc_table = None, read(reference_scores), read(reference_pcs)
    if status is not None:
        passed = status[status["qc_pass"]]
        groups = pd.Series(passed["ancestry_group"].to_numpy(), index=passed["IID"])
        if ref_scores is None:
            ref_scores = table[table["IID"].astype(str).isin(passed["IID"])]
    if "PC1" not in pc_table.columns and reference_pcs is None:
        reason = f"{pcs}: no PCs (qc.source none); ancestry adjustment skipped, Z_raw only."
        log.warning(reason)
        adjusted, record = skip_adjustment(table, ref_scores, groups=groups), {"skipped": reason}
    else:
        adjusted, fits = adjust_scores(
            table, pc_table, n_pcs=n_pcs, reference_scores=ref_scores,
            reference_pcs=ref_pc_table, groups=groups,
        )  # fmt: skip
        record = [f.to_dict() for f in fits]
        if ref_pc_table is not None and "population" in ref_pc_table.columns:
            from igs.scores.reference import classify_populations, reference_population_columns

            populations = classify_populations(ref_pc_table, pc_table, n_pcs=n_pcs_population)
            adjusted = reference_population_columns(adjusted, populations, ref_scores, ref_pc_table)
    if status is not None:
        adjusted = adjusted.merge(
            status[["IID", *QC_STATUS_COLUMNS]], on="IID", how="left", validate="many_to_one"
        )
    with atomic_path(Path(out)) as tmp:
        write_tsv(adjusted, tmp, gzipped=True)
    with atomic_path(Path(models)) as tmp:
        tmp.write_text(json.dumps(record, indent=2) + "\n")


def qc_status(sample_qc: pd.DataFrame, scored: pd.Series) -> pd.DataFrame:
    """IID, ancestry_group, qc_pass and qc_fail of every scored person: a person QC never saw
    (not in sample_qc) does not pass, with qc_fail ``not_in_qc``."""
    fail = sample_qc["qc_fail"].fillna("").astype(str) if "qc_fail" in sample_qc else ""
    known = pd.DataFrame(
        {
            "IID": sample_qc["IID"].astype(str).to_numpy(),
            "ancestry_group": sample_qc.get(
                "ancestry_group", pd.Series(pd.NA, index=sample_qc.index)
            ).to_numpy(),
            "qc_fail": fail,
        }
    ).drop_duplicates("IID")
    ids = pd.DataFrame({"IID": pd.unique(scored.astype(str))})
    status = ids.merge(known, on="IID", how="left")
    status["qc_fail"] = status["qc_fail"].fillna("not_in_qc")
    status["qc_pass"] = status["qc_fail"] == ""
    return status


@dataclass(frozen=True)
class Fileset:
    """One genotype file(set): the prefix (or VCF/BGEN file), its format, a BGEN's .sample."""

    path: str
    format: str
    sample: PathLike | None = None

    def open(self) -> GenotypeSet:
        from igs.io.plink import open_genotypes

        return open_genotypes(self.path, self.format, sample=self.sample)  # type: ignore[arg-type]


@dataclass(frozen=True)
class ReferenceOutputs:
    """The files ``igs scores reference`` writes."""

    pcs: PathLike  # reference IID, population, PC1..
    loadings: PathLike  # as the QC's pca_loadings.tsv.gz
    scores: PathLike  # reference scores (long, as scores.tsv.gz)
    projected: PathLike  # the biobank's IID, PC1.. on the reference PCs
    summary: PathLike  # JSON counts


def reference_files(
    reference: Fileset,
    populations: PathLike,
    targets: list[Fileset],
    report: PathLike,
    scoring_files: list[str],
    genome_build: str,
    outputs: ReferenceOutputs,
    *,
    match_options: MatchOptions,
    options: Any,
) -> None:
    """Everything the biobank needs from a reference panel (``scores.ancestry_reference``):
    the reference PCA on the variants shared with ``targets`` (the biobank's genotype parts),
    the biobank projected onto it, and the reference scored on the rows of ``report`` (the
    biobank's combined match report) that the reference also has. ``options`` is a
    :class:`igs.scores.reference.ReferenceOptions`."""
    from igs.scores.reference import (
        fit_reference_pca,
        project_parts,
        read_population_labels,
        score_reference,
    )

    labels = read_population_labels(populations, options.population_column)
    ref = reference.open()
    parts = [t.open() for t in targets]
    pca = fit_reference_pca(ref, labels, [p.variants for p in parts], options)
    projected = project_parts(parts, pca.loadings)
    target_report = read_tsv(report, dtypes={"pgs_id": "string"})
    ref_scores, counts = score_reference(
        ref, scoring_files, target_report, genome_build, match_options
    )
    ref_scores = ref_scores[ref_scores["IID"].astype(str).isin(pca.pcs["IID"])]
    summary = {
        "reference": reference.path,
        "populations": str(populations),
        "population_column": options.population_column,
        "n_reference_samples": len(pca.pcs),
        "population_counts": pca.pcs["population"].value_counts().sort_index().to_dict(),
        "n_shared_variants": pca.n_shared,
        "n_pca_variants": len(pca.loadings),
        "n_projected": len(projected),
        "scores": counts,
    }
    tables = {outputs.pcs: pca.pcs, outputs.projected: projected,
              outputs.loadings: pca.loadings, outputs.scores: ref_scores}  # fmt: skip
    for path, table in tables.items():
        with atomic_path(Path(path)) as tmp:
            write_tsv(table, tmp, gzipped=str(path).endswith(".gz"))
    with atomic_path(Path(outputs.summary)) as tmp:
        tmp.write_text(json.dumps(summary, indent=2) + "\n")
