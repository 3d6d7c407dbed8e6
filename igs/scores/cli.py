"""``igs scores``: match scoring files, compute the scores, adjust them for genetic ancestry."""

from __future__ import annotations

from pathlib import Path

import click

from igs.cli_options import IN_FILE, csv_strings, genotype_options, options_options, out_option

_BLOCKS = "`scores` and `hail` blocks; default: the schema's defaults"
_SAMPLE = click.option(
    "--sample", type=IN_FILE, help="BGEN only: its .sample file (default: beside it)."
)


def _options(options_file: Path | None, config_file: Path | None, **match: object):  # type: ignore[no-untyped-def]
    from igs.options import stage_record
    from igs.scores.options import ScoresOptions

    return ScoresOptions.from_config(
        stage_record(options_file, config_file, "scores")["config"], **match
    )


@click.group()
def scores() -> None:
    """Match scoring files to the target variants and compute polygenic scores."""


@scores.command("match")
@click.option("--genotypes", "prefixes", multiple=True, required=True,
              help="Fileset prefix (without .bed/.pgen), or the VCF/BGEN file; with --part, once per part.")  # fmt: skip
@click.option("--format", "fmt", type=click.Choice(["bed", "pgen", "vcf", "bgen"]), default="bed",
              show_default=True)  # fmt: skip
@click.option("--part", "part_names", multiple=True,
              help="A genotype part's name (its chromosome), once per --genotypes in the same order: "
              "every part is matched at once (one job per biobank) and the report names each matched "
              "row's part (chrom_part); needs --summary.")  # fmt: skip
@click.option(
    "--genome-build",
    type=click.Choice(["GRCh37", "GRCh38"]),
    required=True,
    help="Build of the target.",
)
@options_options("scores", _BLOCKS)
@click.option("--min-overlap", type=click.FloatRange(0, 1), help="Override scores.min_overlap.")
@click.option(
    "--keep-ambiguous", is_flag=True, help="Keep A/T and C/G SNPs, assuming the same strand."
)
@click.option("--no-flips", is_flag=True, help="Do not match alleles on the other strand.")
@click.option(
    "--exclude-chromosomes", default="", help="Comma-separated chromosomes not to score (e.g. X)."
)
@click.option("--sample", "samples", multiple=True, type=IN_FILE,
              help="BGEN only: its .sample file (default: beside it); with --part, one per part.")  # fmt: skip
@click.option("--info-file", "info_files", multiple=True, type=IN_FILE,
              help="Imputation info file (ID and R2/INFO) for scores.min_info; with --part, one per part.")  # fmt: skip
@click.option(
    "--liftover-chain",
    type=IN_FILE,
    help="UCSC chain file from the scoring files' build to --genome-build (default: "
    "scores.liftover_chain); scoring files on another build are lifted over with it.",
)
@click.option("--engine", type=click.Choice(["local", "hail"]), default="local", show_default=True,
              help="The engine that will compute the scores (hail lists VCF/BGEN variants its way).")  # fmt: skip
@click.option("--reference", "reference_path",
              help="A reference panel (scores.ancestry_reference): score only variants it also has.")  # fmt: skip
@click.option("--reference-format", type=click.Choice(["bed", "pgen", "vcf", "bgen"]), default="bed",
              show_default=True)  # fmt: skip
@click.option("--reference-sample", type=IN_FILE, help="BGEN reference: its .sample file.")
@out_option("--report", "match_report.tsv.gz to write.")
@out_option(
    "--summary",
    "Per-score summary TSV to write. Without it (one chromosome file of several) every score is "
    "kept; `igs scores sum` checks the overlap over all of them. With --part: scores below "
    "scores.min_overlap over all parts are dropped (scored false, reason).",
    required=False,
)
@out_option("--weights", "With --part: the weights file (Parquet) that `igs scores compute "
            "--weights ... --part NAME` reads its part's rows from.", required=False)  # fmt: skip
@click.argument("scoring_files", nargs=-1, required=True)
def scores_match(prefixes: tuple[str, ...], fmt: str, part_names: tuple[str, ...], genome_build: str,
                 options_file: Path | None, config_file: Path | None, min_overlap: float | None,
                 keep_ambiguous: bool, no_flips: bool, exclude_chromosomes: str, samples: tuple[Path, ...],
                 info_files: tuple[Path, ...], liftover_chain: Path | None, engine: str,
                 reference_path: str | None, reference_format: str, reference_sample: Path | None,
                 report: Path, summary: Path | None, weights: Path | None,
                 scoring_files: tuple[str, ...]) -> None:  # fmt: skip
    """Match SCORING_FILES (PGS Catalog or custom) to the target; one report row per scoring-file
    row. Variants below scores.min_info / scores.min_maf, or not in --reference, are not scored
    (never HWE)."""
    from igs.scores.run import PartsOutputs, ScoreFilters, match_files, match_parts

    n = len(part_names) or 1
    if part_names and len(part_names) != len(prefixes):
        raise click.UsageError("give one --part for each --genotypes.")
    if len(set(part_names)) != len(part_names):
        raise click.UsageError("give each --part its own name.")
    if not part_names and len(prefixes) != 1:
        raise click.UsageError("give one --genotypes, or one --part NAME for each of several.")
    for name, given in (("--sample", samples), ("--info-file", info_files)):
        if given and len(given) != n:
            raise click.UsageError(f"give one {name} for each --genotypes, or none.")
    if part_names and summary is None:
        raise click.UsageError("--part needs --summary: the overlap is checked over all parts.")
    if weights is not None and not part_names:
        raise click.UsageError("--weights goes with --part.")
    opts = _options(options_file, config_file, min_overlap=min_overlap, keep_ambiguous=keep_ambiguous,
                    allow_flips=not no_flips, exclude_chromosomes=csv_strings(exclude_chromosomes))  # fmt: skip
    parts = [
        _target_part(name, prefix, fmt, engine, opts.hail, genome_build, sample, info)
        for name, prefix, sample, info in zip(
            part_names or ("",), prefixes, samples or (None,) * n, info_files or (None,) * n,
            strict=True,
        )
    ]  # fmt: skip
    ref_variants = None
    if reference_path is not None:
        from igs.scores.run import Fileset

        ref_variants = Fileset(reference_path, reference_format, reference_sample).open().variants
    chain = liftover_chain if liftover_chain is not None else opts.liftover_chain
    if part_names:
        filters = ScoreFilters(opts.min_info, opts.min_maf, reference_variants=ref_variants)
        match_parts(parts, list(scoring_files), genome_build, opts.match,
                    PartsOutputs(report, summary, weights), filters,  # type: ignore[arg-type]
                    liftover_chain=chain, strict=opts.strict)  # fmt: skip
        return
    (part,) = parts
    filters = ScoreFilters(opts.min_info, opts.min_maf, part.gset, part.info_file, ref_variants)
    match_files(part.variants, list(scoring_files), genome_build, opts.match, report, summary,
                filters, liftover_chain=chain)  # fmt: skip


def _target_part(name: str, prefix: str, fmt: str, engine: str, hail: dict, genome_build: str,
                 sample: Path | None, info_file: Path | None):  # type: ignore[no-untyped-def]  # fmt: skip
    """One genotype part's variants (listed through Hail for its VCF/BGEN), and its genotypes
    with the local engine."""
    from igs.scores.run import TargetPart

    if engine == "hail" and fmt in ("vcf", "bgen"):
        from igs.scores.run import target_variants

        variants = target_variants(prefix, fmt, hail, engine="hail", sample=sample,
                                   genome_build=genome_build)  # fmt: skip
        return TargetPart(name, variants, None, info_file)
    from igs.io.plink import open_genotypes

    gset = open_genotypes(prefix, fmt, sample=sample)  # type: ignore[arg-type]
    return TargetPart(name, gset.variants, gset, info_file)


@scores.command("compute")
@genotype_options(("bed", "pgen", "vcf", "bgen"))
@click.option("--engine", type=click.Choice(["local", "hail"]), default="local", show_default=True)
@options_options("scores", _BLOCKS)
@click.option("--report", type=IN_FILE, help="From `igs scores match`.")
@click.option("--weights", type=IN_FILE,
              help="Instead of --report: the weights file of `igs scores match --part ...`; with --part.")  # fmt: skip
@click.option("--part", help="With --weights: the part these genotypes are (score only its rows).")
@click.option(
    "--no-mean-imputation",
    is_flag=True,
    help="Missing calls add nothing (plink2 no-mean-imputation).",
)
@click.option(
    "--dosage-sums",
    is_flag=True,
    help="Add NAMED_ALLELE_DOSAGE_SUM (each score's effect-allele dosage sum).",
)
@click.option(
    "--chunk-variants",
    type=int,
    default=8192,
    show_default=True,
    help="Variants read per chunk (memory, not results).",
)
@_SAMPLE
@click.option(
    "--genome-build",
    type=click.Choice(["GRCh37", "GRCh38"]),
    help="Build of the target: the Hail engine reads VCF/BGEN loci on it (default: guessed).",
)
@click.option(
    "--threads",
    type=click.IntRange(min=1),
    default=None,
    help="Threads for the local engine (default: every CPU this job may use; the scores do "
    "not depend on them beyond float rounding).",
)
@out_option("--out", "scores.tsv.gz to write.")
def scores_compute(prefix: str, fmt: str, engine: str, options_file: Path | None, config_file: Path | None,
                   report: Path | None, weights: Path | None, part: str | None, no_mean_imputation: bool,
                   dosage_sums: bool, chunk_variants: int, sample: Path | None, genome_build: str | None,
                   threads: int | None,
                   out: Path) -> None:  # fmt: skip
    """Compute every matched score for every sample in one pass (plink2 --score semantics)."""
    from igs.scores.run import compute_files

    if (report is None) == (weights is None):
        raise click.UsageError("give --report, or --weights with --part.")
    if (weights is None) != (part is None):
        raise click.UsageError("--weights and --part go together.")
    hail = _options(options_file, config_file).hail if engine == "hail" else None
    compute_files(prefix, fmt, report or weights, out, engine=engine,  # type: ignore[arg-type]
                  mean_impute=not no_mean_imputation, dosage_sums=dosage_sums,
                  chunk_variants=chunk_variants, hail_config=hail, sample=sample,
                  genome_build=genome_build, part=part, threads=threads)  # fmt: skip


@scores.command("sum")
@click.option("--part", "part_names", multiple=True, required=True,
              help="A genotype part's name (its chromosome), once per part.")  # fmt: skip
@click.option("--part-scores", multiple=True, type=IN_FILE, required=True,
              help="That part's scores (`igs scores compute`), in --part order.")  # fmt: skip
@click.option("--part-report", multiple=True, type=IN_FILE,
              help="Parts matched one by one: that part's match report (`igs scores match` without "
              "--summary), in --part order; the reports are combined and the overlap checked here. "
              "Without it the parts were matched at once (`igs scores match --part ...`).")  # fmt: skip
@options_options("scores", _BLOCKS)
@click.option(
    "--no-mean-imputation", is_flag=True, help="The parts were computed so (AVG over ALLELE_CT)."
)
@out_option(
    "--report", "With --part-report: combined match_report.tsv.gz to write.", required=False
)
@out_option(
    "--summary",
    "With --part-report: match_summary.tsv to write (scores below min_overlap: scored false, reason).",
    required=False,
)
@out_option("--out", "scores.tsv.gz to write: the sums over the parts.")
def scores_sum(part_names: tuple[str, ...], part_scores: tuple[Path, ...], part_report: tuple[Path, ...],
               options_file: Path | None, config_file: Path | None, no_mean_imputation: bool,
               report: Path | None, summary: Path | None, out: Path) -> None:  # fmt: skip
    """Sum per-chromosome scores (and combine per-chromosome match reports): equal to one merged file."""
    from igs.scores.run import sum_parts, sum_score_files

    if len(part_names) != len(part_scores) or (part_report and len(part_report) != len(part_names)):
        raise click.UsageError("give one --part-scores (and --part-report) for each --part.")
    if part_report and (report is None or summary is None):
        raise click.UsageError("--part-report needs --report and --summary.")
    if not part_report:
        if report is not None or summary is not None:
            raise click.UsageError("--report and --summary go with --part-report.")
        sum_score_files(list(part_scores), out, mean_impute=not no_mean_imputation)
        return
    opts = _options(options_file, config_file)
    parts = {n: (r, s) for n, r, s in zip(part_names, part_report, part_scores, strict=True)}
    sum_parts(parts, report, summary, out, min_overlap=opts.match.min_overlap, strict=opts.strict,  # type: ignore[arg-type]
              mean_impute=not no_mean_imputation)  # fmt: skip


@scores.command("adjust")
@click.option(
    "--scores",
    "scores_path",
    type=IN_FILE,
    required=True,
    help="scores.tsv.gz from `igs scores compute`.",
)
@click.option(
    "--pcs",
    type=IN_FILE,
    required=True,
    help="PCs of the scored samples (qc/pcs.tsv, or `igs qc project` output).",
)
@click.option(
    "--sample-qc",
    type=IN_FILE,
    help="qc/sample_qc.tsv.gz: its ancestry_group gives within-group percentiles.",
)
@click.option(
    "--reference-scores",
    type=IN_FILE,
    help="Scores of a reference panel to fit on (default: the scored samples).",
)
@click.option(
    "--reference-pcs", type=IN_FILE, help="PCs of the reference panel (with --reference-scores)."
)
@options_options("scores", _BLOCKS)
@click.option(
    "--n-pcs", type=click.IntRange(1, 20), help="Override scores.ancestry_adjustment.n_pcs."
)
@out_option("--out", "scores_adjusted.tsv.gz to write.")
@out_option("--models", "JSON file for the fitted adjustment models.")
def scores_adjust(scores_path: Path, pcs: Path, sample_qc: Path | None, reference_scores: Path | None,
                  reference_pcs: Path | None, options_file: Path | None, config_file: Path | None,
                  n_pcs: int | None, out: Path, models: Path) -> None:  # fmt: skip
    """Adjust scores for genetic ancestry: Z-scores, mean and mean+variance PC regressions, percentiles."""
    from igs.scores.run import adjust_files

    opts = _options(options_file, config_file)
    adjust_files(scores_path, pcs, out, models, n_pcs=n_pcs if n_pcs is not None else opts.n_pcs,
                 sample_qc=sample_qc, reference_scores=reference_scores, reference_pcs=reference_pcs,
                 n_pcs_population=opts.reference.n_pcs_population)  # fmt: skip


@scores.command("reference")
@click.option("--reference", "reference_path", required=True,
              help="The reference panel: fileset prefix (bed/pgen) or the VCF/BGEN file.")  # fmt: skip
@click.option("--reference-format", type=click.Choice(["bed", "pgen", "vcf", "bgen"]), default="bed",
              show_default=True)  # fmt: skip
@click.option("--reference-sample", type=IN_FILE, help="BGEN reference: its .sample file.")
@click.option("--populations", type=IN_FILE, required=True,
              help="Population-label table of the reference (IID/sample column and the label column).")  # fmt: skip
@click.option("--target", "targets", multiple=True, required=True,
              help="The biobank's genotypes, once per part (chromosome file).")  # fmt: skip
@click.option("--target-format", type=click.Choice(["bed", "pgen", "vcf", "bgen"]), default="bed",
              show_default=True)  # fmt: skip
@click.option("--target-sample", "target_samples", multiple=True, type=IN_FILE,
              help="BGEN parts: each part's .sample file, in --target order.")  # fmt: skip
@click.option("--report", type=IN_FILE, required=True,
              help="The biobank's combined match_report.tsv.gz (`igs scores sum`).")  # fmt: skip
@click.option("--genome-build", type=click.Choice(["GRCh37", "GRCh38"]), required=True,
              help="Build of the biobank and the reference.")  # fmt: skip
@options_options("scores", _BLOCKS)
@out_option("--out-pcs", "The reference samples' IID, population and PCs (TSV).")
@out_option("--out-loadings", "The reference PCA's loadings (as pca_loadings.tsv.gz).")
@out_option("--out-scores", "The reference samples' scores (as scores.tsv.gz).")
@out_option("--out-projected", "The biobank's people on the reference PCs (TSV).")
@out_option("--out-summary", "JSON counts: samples, populations, variants, matched rows.")
@click.argument("scoring_files", nargs=-1, required=True)
def scores_reference(reference_path: str, reference_format: str, reference_sample: Path | None,
                     populations: Path, targets: tuple[str, ...], target_format: str,
                     target_samples: tuple[Path, ...], report: Path, genome_build: str,
                     options_file: Path | None, config_file: Path | None, out_pcs: Path,
                     out_loadings: Path, out_scores: Path, out_projected: Path, out_summary: Path,
                     scoring_files: tuple[str, ...]) -> None:  # fmt: skip
    """PCA of a labelled reference panel on the variants it shares with the biobank, the
    biobank projected onto it, and the reference scored on the rows matched in both; then
    `igs scores adjust --pcs PROJECTED --reference-pcs PCS --reference-scores SCORES`."""
    from igs.scores.run import Fileset, ReferenceOutputs, reference_files

    if target_samples and len(target_samples) != len(targets):
        raise click.UsageError("give one --target-sample for each --target, or none.")
    opts = _options(options_file, config_file)
    samples = target_samples or (None,) * len(targets)
    parts = [Fileset(t, target_format, s) for t, s in zip(targets, samples, strict=True)]
    outputs = ReferenceOutputs(out_pcs, out_loadings, out_scores, out_projected, out_summary)
    reference_files(Fileset(reference_path, reference_format, reference_sample), populations,
                    parts, report, list(scoring_files), genome_build, outputs,
                    match_options=opts.match, options=opts.reference)  # fmt: skip
