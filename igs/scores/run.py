"""The scores stage on files: match scoring files, compute the scores, adjust them for ancestry."""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
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
    per-score summary; pgs_ids must be unique. Reading the next file and writing the last
    report overlap the matching (at most three scoring files in memory).

    A scoring file that states a build other than ``genome_build`` is lifted over with
    ``liftover_chain`` (a UCSC chain file from its build to the target's) before matching;
    without a chain it is refused.

    Without ``summary`` (one chromosome file of several) every score is kept whatever its
    overlap: :func:`sum_parts` checks it on all chromosomes together.
    """
    from igs.scores.match import summarise_matches

    if summary is None:
        options = replace(options, min_overlap=0.0)
    apply_filters = _filter_function(
        variants, filters, info=_info_values(variants, filters), frequencies=_frequencies(filters)
    )
    summaries = []
    with (
        atomic_path(Path(report)) as tmp,
        TsvWriter(tmp, gzipped=True) as out,
        _BackgroundWriter() as writer,
    ):
        for part in _matched_reports(
            variants, scoring_files, genome_build, options, apply_filters, liftover_chain
        ):
            summaries.append(summarise_matches(part))
            writer.submit(out.write, part)
    if summary is not None:
        with atomic_path(Path(summary)) as tmp:
            pd.concat(summaries, ignore_index=True).to_csv(tmp, sep="\t", index=False)


@dataclass(frozen=True)
class TargetPart:
    """One genotype file(set) of a biobank's target (one chromosome file): its name, its
    variants, its genotypes (the local reader; scores.min_maf) and its info file (min_info)."""

    name: str
    variants: pd.DataFrame
    gset: GenotypeSet | None = None
    info_file: PathLike | None = None


@dataclass(frozen=True)
class PartsOutputs:
    """What ``igs scores match --part ...`` writes: the combined report (``chrom_part`` names
    the part of each matched row), the summary with ``scored``/``reason``, and the weights
    file each part's ``igs scores compute --part`` reads (:mod:`igs.scores.perchrom`)."""

    report: PathLike
    summary: PathLike
    weights: PathLike | None = None


def match_parts(
    parts: list[TargetPart],
    scoring_files: list[str],
    genome_build: str,
    options: MatchOptions,
    outputs: PartsOutputs,
    filters: ScoreFilters = ScoreFilters(),
    liftover_chain: PathLike | None = None,
    *,
    strict: bool = False,
) -> None:
    """Match each scoring file once against all the parts of a biobank's genotypes (one file
    per chromosome): the report, summary and scores equal those of matching every part on its
    own and combining them (:func:`sum_parts`), at the cost of one match.

    A score whose overlap over all parts is below ``options.min_overlap`` is dropped, with
    its reason in the summary (``strict``: MatchRateError), and left out of the weights.
    ``filters.gset`` and ``filters.info_file`` are not used: each part brings its own.
    """
    from igs.errors import MatchRateError
    from igs.scores.match import mark_scored, summarise_matches
    from igs.scores.perchrom import PartWeightsWriter, assign_parts, concat_variants

    variants, offsets = concat_variants({p.name: p.variants for p in parts})
    if filters.min_maf and any(p.gset is None for p in parts):
        raise ConfigError("scores.min_maf needs the genotypes read by the local engine.")
    apply_filters = _filter_function(
        variants, filters, info=_parts_info(parts, filters),
        frequencies=_parts_frequencies(parts, offsets) if filters.min_maf else None,
    )  # fmt: skip
    lenient = replace(options, min_overlap=0.0)
    summaries, dropped = [], {}
    with contextlib.ExitStack() as stack:
        tmp = stack.enter_context(atomic_path(Path(outputs.report)))
        out = stack.enter_context(TsvWriter(tmp, gzipped=True))
        weights = None
        if outputs.weights is not None:
            tmp_weights = stack.enter_context(atomic_path(Path(outputs.weights)))
            weights = stack.enter_context(PartWeightsWriter(tmp_weights))
        writer = stack.enter_context(_BackgroundWriter())
        for report in _matched_reports(
            variants, scoring_files, genome_build, lenient, apply_filters, liftover_chain
        ):
            report = assign_parts(report, offsets)
            counts = summarise_matches(report)
            reason = _overlap_reason(report, counts, options.min_overlap, len(parts))
            if reason is not None:
                if strict:
                    raise MatchRateError(reason + " scores.strict is true: the run stops.")
                log.warning("%s Dropped (scores.strict is false).", reason)
                dropped[str(counts["pgs_id"].iloc[0])] = reason
            summaries.append(counts)
            keep = weights is not None and reason is None and len(report)  # rows: scores
            writer.submit(_write_report(out, weights if keep else None), report)
    with atomic_path(Path(outputs.summary)) as tmp:
        mark_scored(pd.concat(summaries, ignore_index=True), dropped).to_csv(
            tmp, sep="\t", index=False
        )


def _overlap_reason(
    report: pd.DataFrame, summary: pd.DataFrame, min_overlap: float, n_parts: int
) -> str | None:
    """Why a score is dropped (its overlap over every part is below ``min_overlap``), or None;
    ``summary`` is its :func:`summarise_matches` row."""
    if not len(summary):  # a scoring file without rows: nothing to check
        return None
    pgs_id, n, matched = summary[["pgs_id", "n_variants", "matched"]].iloc[0]
    rate = matched / n
    if rate >= min_overlap:
        return None
    counts = report["match_status"].value_counts().to_dict()
    return (
        f"{pgs_id}: only {rate:.1%} of {n} variants matched the target over "
        f"{n_parts} genotype file(s) (min_overlap {min_overlap:.0%}); statuses {counts}."
    )


def _write_report(out: TsvWriter, weights: Any) -> Callable[[pd.DataFrame], None]:
    """Write a score's report, and its matched rows to ``weights`` (a PartWeightsWriter)."""

    def write(report: pd.DataFrame) -> None:
        out.write(report)
        if weights is not None:
            weights.add(str(report["pgs_id"].iloc[0]), report)

    return write


class _BackgroundWriter:
    """Runs one write at a time in a thread (Arrow's CSV writer and zlib release the GIL), so
    the next score is matched while the last report is written."""

    def __enter__(self) -> _BackgroundWriter:
        self._pool = ThreadPoolExecutor(1)
        self._pending: Future[None] | None = None
        return self

    def submit(self, write: Callable[[pd.DataFrame], None], table: pd.DataFrame) -> None:
        self.wait()
        self._pending = self._pool.submit(write, table)

    def wait(self) -> None:
        if self._pending is not None:
            pending, self._pending = self._pending, None
            pending.result()

    def __exit__(self, exc_type: object, *exc: object) -> None:
        try:
            if exc_type is None:
                self.wait()
        finally:
            self._pool.shutdown(wait=True)


def _matched_reports(
    variants: pd.DataFrame,
    scoring_files: list[str],
    genome_build: str,
    options: MatchOptions,
    apply_filters: Callable[[pd.DataFrame], pd.DataFrame],
    liftover_chain: PathLike | None,
) -> Iterator[pd.DataFrame]:
    """Each scoring file's filtered match report, in order; the next file is read in a thread
    while this one is matched. pgs_ids must be unique; another build needs ``liftover_chain``."""
    from igs.scores.match import check_build, match_variants, prepare_target
    from igs.scores.scorefile import read_scoring_file

    seen: dict[str, str] = {}
    prepared = prepare_target(variants, options)
    chain = None
    with ThreadPoolExecutor(1) as reader:
        reads = [reader.submit(read_scoring_file, p) for p in scoring_files[:1]]
        for k, path in enumerate(scoring_files):
            score = reads[k].result()
            if k + 1 < len(scoring_files):
                reads.append(reader.submit(read_scoring_file, scoring_files[k + 1]))
            reads[k] = None  # type: ignore[call-overload]
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
            report = apply_filters(match_variants(score, variants, options, prepared))
            n_matched = int((report["match_status"] == "matched").sum())
            log.info("%s: %d of %d variants matched", score.pgs_id, n_matched, len(report))
            del score
            yield report


def _info_values(variants: pd.DataFrame, filters: ScoreFilters) -> pd.Series | None:
    """INFO by target index from ``filters.info_file`` (None without one, or without min_info:
    then the variants' own ``info`` column, if any, is used)."""
    from igs.scores.filters import read_info_file

    if not filters.min_info or filters.info_file is None:
        return None
    by_id = read_info_file(filters.info_file)
    by_id = by_id[~by_id.index.duplicated()]
    return pd.Series(by_id.reindex(variants["id"]).to_numpy(), index=np.arange(len(variants)))


def _parts_info(parts: list[TargetPart], filters: ScoreFilters) -> pd.Series | None:
    """INFO by index into the concatenated parts: each part's info file, else its variants'
    ``info`` column, else missing (kept)."""
    if not filters.min_info:
        return None
    values = []
    for p in parts:
        own = _info_values(p.variants, replace(filters, info_file=p.info_file))
        if own is not None:
            values.append(own.to_numpy(dtype=float))
        elif "info" in p.variants.columns:
            values.append(p.variants["info"].to_numpy(dtype=float))
        else:
            values.append(np.full(len(p.variants), np.nan))
    joined = np.concatenate(values) if values else np.zeros(0)
    return pd.Series(joined, index=np.arange(len(joined)))


def _frequencies(filters: ScoreFilters) -> Callable[[np.ndarray], np.ndarray] | None:
    from igs.scores.filters import a1_frequencies

    gset = filters.gset
    return None if gset is None else (lambda index: a1_frequencies(gset, index))


def _parts_frequencies(
    parts: list[TargetPart], offsets: dict[str, int]
) -> Callable[[np.ndarray], np.ndarray]:
    """a1 frequencies by index into the concatenated parts, each read from its own part."""
    from igs.scores.filters import a1_frequencies

    starts = np.array([offsets[p.name] for p in parts], dtype=np.int64)

    def frequencies(index: np.ndarray) -> np.ndarray:
        out = np.full(len(index), np.nan)
        which = np.searchsorted(starts, index, side="right") - 1
        for k, p in enumerate(parts):
            mine = which == k
            if mine.any():
                out[mine] = a1_frequencies(p.gset, index[mine] - starts[k])  # type: ignore[arg-type]
        return out

    return frequencies


def _filter_function(
    variants: pd.DataFrame,
    filters: ScoreFilters,
    *,
    info: pd.Series | None = None,
    frequencies: Callable[[np.ndarray], np.ndarray] | None = None,
) -> Callable[[pd.DataFrame], pd.DataFrame]:
    """report -> report with min_info / min_maf applied (allele frequencies computed once per
    variant, in one streaming pass per score over the variants not yet seen). ``info``: INFO by
    target index (default: the variants' ``info`` column); ``frequencies``: a1 frequencies of
    target indices (needed with min_maf)."""
    from igs.scores.filters import filter_matches

    if not filters.min_info and not filters.min_maf and filters.reference_variants is None:
        return lambda report: report
    in_reference = None
    if filters.reference_variants is not None:
        from igs.scores.reference import variants_in

        in_reference = variants_in(variants, filters.reference_variants)
    if filters.min_maf and frequencies is None:
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
                freq[todo] = frequencies(todo)  # type: ignore[misc]
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
    from igs.scores.perchrom import combine_match_report_files

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
    total = _sum_score_files([str(s) for _, s in parts.values()], dropped, mean_impute)
    with atomic_path(Path(report)) as tmp:
        write_tsv(report_table, tmp, gzipped=True)
    with atomic_path(Path(summary)) as tmp:
        summarise_matches(report_table, dropped=dropped).to_csv(tmp, sep="\t", index=False)
    with atomic_path(Path(out)) as tmp:
        write_tsv(total, tmp, gzipped=True)


def sum_score_files(
    part_scores: list[PathLike], out: PathLike, *, mean_impute: bool = True
) -> None:
    """Sum the parts' score tables of :func:`match_parts` (scores below min_overlap were never
    computed): equal to the scores of :func:`sum_parts`."""
    total = _sum_score_files([str(p) for p in part_scores], {}, mean_impute)
    with atomic_path(Path(out)) as tmp:
        write_tsv(total, tmp, gzipped=True)


def _sum_score_files(names: list[str], dropped: dict[str, str], mean_impute: bool) -> pd.DataFrame:
    """The sum of the score tables ``names`` without the ``dropped`` scores, one table at a time."""
    from igs.scores.perchrom import sum_score_tables

    total = None
    for name in names:  # one part's table at a time
        table = read_tsv(name, dtypes={"IID": "string", "pgs_id": "string"})
        table = table[~table["pgs_id"].isin(list(dropped))]
        total = table if total is None else sum_score_tables(
            [total, table], mean_impute=mean_impute, names=[names[0], name]
        )  # fmt: skip
    return sum_score_tables([total], mean_impute=mean_impute, names=names[:1])  # type: ignore[list-item]


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
    part: str | None = None,
    threads: int | None = None,
) -> None:
    """Every matched score for every sample in one pass (plink2 --score semantics); ``sample``
    is a BGEN's .sample file, ``genome_build`` the build Hail reads VCF/BGEN loci on,
    ``threads`` the local engine's threads (default: every CPU this process may use). With
    ``part``, ``report`` is the weights file of :func:`match_parts` and only that part's rows
    are scored (every scored score gets a row, as when the part was matched alone)."""
    from igs.scores.engine import REPORT_COLUMNS_FOR_SCORING, compute_scores, score_weights

    if part is not None:
        from igs.scores.perchrom import read_part_weights

        reports = read_part_weights(report, part)
    else:
        full = read_tsv(
            report,
            columns=REPORT_COLUMNS_FOR_SCORING,
            dtypes={"pgs_id": "string"},
            categorical=True,
        )
        reports = [r for _, r in full.groupby("pgs_id", sort=False, observed=True)]
    if engine == "hail":
        from igs.scores.hail_engine import compute_scores_hail

        used = [r.loc[r["match_status"] == "matched", "target_index"] for r in reports]
        n_target = max((int(u.max()) + 1 for u in used if len(u)), default=0)
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
