"""The ``igs`` command line: a thin layer over the package's functions.

Every workflow rule runs one of these commands, so every step can be re-run by hand.
Errors raised as :class:`igs.errors.IGSError` become a one-line message and an exit code.
"""

from __future__ import annotations

import errno
import json
import logging
import signal
import sys
from pathlib import Path

import click
import yaml

from igs import __version__
from igs.errors import ConfigError, IGSError
from igs.io.atomic import atomic_path
from igs.io.tables import TsvWriter, read_tsv, write_tsv

log = logging.getLogger("igs")


def _setup_logging(verbose: bool) -> None:
    from igs.redact import RedactingFormatter

    handler = logging.StreamHandler(sys.stderr)  # no URL user, password or query in any line
    handler.setFormatter(RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, handlers=[handler])


def _csv_floats(value: str) -> tuple[float, ...]:
    try:
        return tuple(float(x) for x in value.split(","))
    except ValueError as exc:
        raise click.BadParameter(f"expected comma-separated numbers, got {value!r}") from exc


def _csv_strings(value: str) -> tuple[str, ...]:
    return tuple(x.strip() for x in value.split(",") if x.strip())


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="igs")
@click.option("-v", "--verbose", is_flag=True, help="Log debug messages.")
def cli(verbose: bool) -> None:
    """igs: integrative genetic scores from biobank genotypes and health records."""
    _setup_logging(verbose)


# --------------------------------------------------------------------------- config


@cli.group()
def config() -> None:
    """Check the workflow configuration."""


@config.command("validate")
@click.argument("config_file", type=click.Path(path_type=Path))
@click.option("--no-file-checks", is_flag=True, help="Do not check that input files exist.")
@click.option("--show", is_flag=True, help="Print the resolved configuration (defaults filled in).")
def config_validate(config_file: Path, no_file_checks: bool, show: bool) -> None:
    """Validate CONFIG_FILE against the schema; list every problem with its key path."""
    from igs.config import read_config_yaml, resolve_config

    raw = read_config_yaml(config_file) if config_file.is_file() else None
    if raw is None:
        raise IGSError(f"config file {config_file} not found or empty.")
    cfg = resolve_config(raw, source=str(config_file), check_files=not no_file_checks)
    if show:
        click.echo(yaml.safe_dump(cfg, sort_keys=False))
    else:
        click.echo(f"{config_file}: OK ({len(cfg['biobanks'])} biobank(s))")


def genotype_options(formats: tuple[str, ...] = ("bed", "pgen")):  # type: ignore[no-untyped-def]
    """--genotypes and --format, shared by every command that reads a genotype fileset."""

    def decorate(f):  # type: ignore[no-untyped-def]
        f = click.option(
            "--format", "fmt", type=click.Choice(list(formats)), default="bed", show_default=True
        )(f)
        return click.option(
            "--genotypes",
            "prefix",
            required=True,
            help="Fileset prefix (without .bed/.pgen), or the VCF/BGEN file.",
        )(f)

    return decorate


def config_option(help: str, *, required: bool = False):  # type: ignore[no-untyped-def]
    """--config FILE (the workflow config), shared by the commands that read one."""
    return click.option(
        "--config",
        "config_file",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        required=required,
        help=help,
    )


def results_dir_option(f):  # type: ignore[no-untyped-def]
    """--results-dir: one biobank's results folder (qc/, scores/, pheno/, features/, evaluate/)."""
    return click.option(
        "--results-dir",
        type=click.Path(exists=True, file_okay=False, path_type=Path),
        required=True,
        help="The biobank's results folder.",
    )(f)


# --------------------------------------------------------------------------- simulate

_universe_options = [
    click.option(
        "--seed",
        type=int,
        default=42,
        show_default=True,
        help="Seed of the shared variant universe.",
    ),
    click.option(
        "--n-variants",
        type=int,
        default=20_000,
        show_default=True,
        help="Variants in the universe.",
    ),
    click.option(
        "--chromosomes",
        default="1,2,3,4,5,6",
        show_default=True,
        help="Comma-separated autosomes (chrX is added).",
    ),
]


def universe_options(f):  # type: ignore[no-untyped-def]
    for opt in reversed(_universe_options):
        f = opt(f)
    return f


def _universe(seed: int, n_variants: int, chromosomes: str):  # type: ignore[no-untyped-def]
    from igs.simulate import UniverseSpec, build_universe

    return build_universe(
        UniverseSpec(seed=seed, n_variants=n_variants, chromosomes=_csv_strings(chromosomes))
    )


@cli.group()
def simulate() -> None:
    """Write synthetic demo inputs with planted structure and known effects."""


@simulate.command("scores")
@click.option(
    "--out-dir",
    type=click.Path(path_type=Path),
    required=True,
    help="Folder for the scoring files.",
)
@universe_options
def simulate_scores(out_dir: Path, seed: int, n_variants: int, chromosomes: str) -> None:
    """Write PGS Catalog scoring files (and their truth files) for the simulated scores."""
    from igs.simulate import write_scoring_files

    paths = write_scoring_files(_universe(seed, n_variants, chromosomes), out_dir)
    log.info("wrote %d files to %s", len(paths), out_dir)


@simulate.command("cohort")
@click.option(
    "--out-dir",
    type=click.Path(path_type=Path),
    required=True,
    help="Folder for the cohort's files.",
)
@click.option("--name", required=True, help="Biobank name (prefix of sample IDs).")
@click.option("--n-samples", type=int, required=True, help="Number of people.")
@click.option(
    "--cohort-seed", type=int, default=1, show_default=True, help="Seed of this biobank's people."
)
@click.option(
    "--ancestry-proportions",
    default="0.8,0.15,0.05",
    show_default=True,
    help="Shares of POP_A,POP_B,POP_C.",
)
@click.option(
    "--chunk-variants",
    type=int,
    default=2048,
    show_default=True,
    help="Variants simulated per chunk.",
)
@universe_options
def simulate_cohort_cmd(
    out_dir: Path,
    name: str,
    n_samples: int,
    cohort_seed: int,
    ancestry_proportions: str,
    chunk_variants: int,
    seed: int,
    n_variants: int,
    chromosomes: str,
) -> None:
    """Write one biobank: genotypes (bed+pgen), clinical, diagnoses, omics and truth.json."""
    from igs.simulate import CohortSpec, simulate_cohort

    spec = CohortSpec(
        name=name,
        n_samples=n_samples,
        seed=cohort_seed,
        ancestry_proportions=_csv_floats(ancestry_proportions),
    )
    try:
        truth = simulate_cohort(
            _universe(seed, n_variants, chromosomes), spec, out_dir, chunk_variants=chunk_variants
        )
    except ValueError as exc:
        raise IGSError(str(exc)) from exc
    log.info(
        "%s: %d samples x %d variants written to %s",
        name,
        n_samples,
        truth["genotypes"]["n_variants"],
        out_dir,
    )


# --------------------------------------------------------------------------- inputs


@cli.group()
def inputs() -> None:
    """Validate a biobank's input files."""


@inputs.command("check")
@genotype_options()
@click.option(
    "--out", type=click.Path(path_type=Path), required=True, help="Summary JSON to write."
)
def inputs_check(prefix: str, fmt: str, out: Path) -> None:
    """Validate a PLINK fileset (magic, sizes, duplicate IDs, empty variants) and summarise it."""
    from igs.inputs import summarise_genotypes

    summary = summarise_genotypes(prefix, fmt)  # type: ignore[arg-type]
    with atomic_path(out) as tmp:
        tmp.write_text(json.dumps(summary, indent=2) + "\n")
    log.info(
        "%s: %d samples x %d variants, call rate %.4f",
        prefix,
        summary["n_samples"],
        summary["n_variants"],
        summary["overall_call_rate"],
    )


@simulate.command("omop")
@click.option(
    "--cohort-dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    required=True,
    help="A simulated cohort folder (clinical.tsv, diagnoses.tsv, omics.tsv.gz).",
)
@click.option("--out", required=True, help="OMOP DuckDB file to write, or a postgresql:// URL.")
def simulate_omop(cohort_dir: Path, out: str) -> None:
    """Write a simulated cohort's health records as an OMOP CDM v5.4 database."""
    from igs.pheno import read_table_records, write_omop
    from igs.redact import check_no_password

    check_no_password(out, "--out")
    meds = cohort_dir / "medications.tsv"
    records = read_table_records(
        cohort_dir / "clinical.tsv",
        cohort_dir / "diagnoses.tsv",
        cohort_dir / "omics.tsv.gz",
        meds if meds.is_file() else None,
    )
    if out.startswith(("postgresql://", "postgres://")):
        write_omop(records, out)
    else:
        with atomic_path(Path(out)) as tmp:
            tmp.unlink()  # DuckDB creates its own file
            write_omop(records, tmp)
    log.info("%d persons written as OMOP tables to %s", len(records.persons), out)


# --------------------------------------------------------------------------- pheno


@cli.group()
def pheno() -> None:
    """Endpoints, covariates and landmark omics features from health records."""


@pheno.command("build")
@config_option("Workflow config (its `pheno` block and the biobank's `phenotypes`).", required=True)
@click.option("--biobank", required=True, help="Biobank name in the config.")
@click.option(
    "--genotype-samples",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A .fam/.psam (e.g. the QC'd genotypes): keep only these samples.",
)
@click.option(
    "--out-dir",
    type=click.Path(path_type=Path),
    required=True,
    help="The biobank's results folder (pheno/ and features/ are written there).",
)
def pheno_build(
    config_file: Path, biobank: str, genotype_samples: Path | None, out_dir: Path
) -> None:
    """Build pheno/{endpoint}.parquet, features/*.parquet and pheno/summary.json."""
    from igs.config import get_biobank, load_config
    from igs.pheno import (
        EndpointSpec,
        OmopConcepts,
        build_phenotypes,
        read_omop_records,
        read_table_records,
    )

    cfg = load_config(config_file)
    bb = get_biobank(cfg, biobank)
    opts = cfg["pheno"]
    if not opts["endpoints"]:
        raise ConfigError(f"{config_file}: pheno.endpoints is empty; define at least one endpoint.")
    ph = bb["phenotypes"]
    if ph["source"] == "omop":
        records = read_omop_records(ph["omop_url"], OmopConcepts(**opts["omop_concepts"]))
    else:
        records = read_table_records(
            ph["clinical"], ph.get("diagnoses"), ph.get("omics"), ph.get("medications")
        )
    by_name = {e["name"]: e for e in opts["endpoints"]}
    endpoints = [
        EndpointSpec.from_config(
            e, age_cap=opts["age_cap"], landmark_age=opts["landmark_age"], others=by_name
        )
        for e in opts["endpoints"]
    ]
    iids = None
    if genotype_samples is not None:
        from igs.io.plink import read_fam, read_psam

        reader = read_psam if genotype_samples.suffix == ".psam" else read_fam
        iids = reader(genotype_samples)["IID"].to_numpy()
    build_phenotypes(
        records,
        endpoints,
        out_dir,
        genotype_iids=iids,
        min_genotype_overlap=opts["min_genotype_overlap"],
        landmark_age=opts["landmark_age"],
    )


# --------------------------------------------------------------------------- qc


@cli.group()
def qc() -> None:
    """Genotype QC: sample and variant filters, sex check, relatedness, PCA."""


@qc.command("run")
@genotype_options(("bed", "pgen", "vcf", "bgen"))
@click.option("--engine", type=click.Choice(["local", "hail"]), default="local", show_default=True)
@config_option("Workflow config; its `qc`, `seed` and `hail` blocks set the thresholds.")
@click.option("--ancestry-groups", type=int, help="Override qc.ancestry_groups.")
@click.option(
    "--out-dir", type=click.Path(path_type=Path), required=True, help="Folder for qc/ outputs."
)
def qc_run(
    prefix: str,
    fmt: str,
    engine: str,
    config_file: Path | None,
    ancestry_groups: int | None,
    out_dir: Path,
) -> None:
    """Run QC and write genotypes.bed/bim/fam, variant_qc, sample_qc, pcs and summary.json."""
    import dataclasses

    from igs.qc import QCOptions, write_qc_tables

    cfg = _qc_config(config_file)
    opts = QCOptions.from_config(cfg["qc"], seed=cfg["seed"])
    if ancestry_groups is not None:
        opts = dataclasses.replace(opts, ancestry_groups=ancestry_groups)
    if engine == "local":
        from igs.io.plink import open_genotypes
        from igs.qc import run_local_qc, write_qc_genotypes

        if fmt not in ("bed", "pgen"):
            raise ConfigError(
                f"the local engine reads bed or pgen, not {fmt}; use --engine hail for VCF/BGEN "
                "(pip install 'igs[hail]')."
            )
        gset = open_genotypes(prefix, fmt)  # type: ignore[arg-type]
        result = run_local_qc(gset, opts)
        write_qc_genotypes(gset, result, out_dir, opts)
    else:
        from igs.qc.hail_engine import run_hail_qc

        result = run_hail_qc(prefix, fmt, opts, out_dir, hail_config=cfg["hail"])
    write_qc_tables(result, out_dir)
    s = result.summary
    log.info(
        "QC: %d of %d samples and %d of %d variants kept",
        s["samples"]["final"],
        s["samples"]["input"],
        s["variants"]["final"],
        s["variants"]["input"],
    )


@qc.command("project")
@genotype_options()
@click.option(
    "--loadings",
    type=click.Path(exists=True, path_type=Path),
    required=True,
    help="pca_loadings.tsv.gz of a QC run (this biobank's or a reference panel's).",
)
@click.option(
    "--min-overlap",
    type=click.FloatRange(0, 1),
    default=0.5,
    show_default=True,
    help="Least share of the PCA variants that must be found.",
)
@click.option("--out", type=click.Path(path_type=Path), required=True, help="pcs.tsv to write.")
def qc_project(prefix: str, fmt: str, loadings: Path, min_overlap: float, out: Path) -> None:
    """Project samples onto saved PCs (same columns as qc/pcs.tsv)."""
    from igs.io.plink import open_genotypes
    from igs.scores.ancestry import project_samples

    gset = open_genotypes(prefix, fmt)  # type: ignore[arg-type]
    pcs = project_samples(
        gset, read_tsv(loadings, dtypes={"chrom": "string"}), min_overlap=min_overlap
    )
    with atomic_path(out) as tmp:
        write_tsv(pcs, tmp, gzipped=False)


def _qc_config(config_file: Path | None) -> dict:
    """The qc/seed/hail blocks of a config file with defaults filled in (defaults if no file)."""
    from igs.config import default_blocks, load_config

    if config_file is not None:
        return load_config(config_file)
    return default_blocks(("qc", "seed", "hail"))


# --------------------------------------------------------------------------- scores


@cli.group()
def scores() -> None:
    """Match scoring files to the target variants and compute polygenic scores."""


@scores.command("match")
@genotype_options(("bed", "pgen", "vcf", "bgen"))
@click.option(
    "--genome-build",
    type=click.Choice(["GRCh37", "GRCh38"]),
    required=True,
    help="Build of the target.",
)
@click.option("--min-overlap", type=click.FloatRange(0, 1), default=0.75, show_default=True)
@click.option(
    "--keep-ambiguous", is_flag=True, help="Keep A/T and C/G SNPs, assuming the same strand."
)
@click.option("--no-flips", is_flag=True, help="Do not match alleles on the other strand.")
@click.option(
    "--exclude-chromosomes", default="", help="Comma-separated chromosomes not to score (e.g. X)."
)
@click.option(
    "--report", type=click.Path(path_type=Path), required=True, help="match_report.tsv.gz to write."
)
@click.option(
    "--summary",
    type=click.Path(path_type=Path),
    required=True,
    help="Per-score summary TSV to write.",
)
@click.argument("scoring_files", nargs=-1, required=True)
def scores_match(
    prefix: str,
    fmt: str,
    genome_build: str,
    min_overlap: float,
    keep_ambiguous: bool,
    no_flips: bool,
    exclude_chromosomes: str,
    report: Path,
    summary: Path,
    scoring_files: tuple[str, ...],
) -> None:
    """Match SCORING_FILES (PGS Catalog or custom) to the target; one report row per scoring-file row."""
    import pandas as pd

    from igs.io.plink import open_genotypes
    from igs.scores import MatchOptions, match_variants, read_scoring_file, summarise_matches
    from igs.scores.match import check_build, prepare_target

    if fmt in ("vcf", "bgen"):
        from igs.scores.hail_engine import hail_target_variants

        variants = hail_target_variants(prefix, fmt, _qc_config(None)["hail"])
    else:
        variants = open_genotypes(prefix, fmt).variants  # type: ignore[arg-type]
    options = MatchOptions(
        keep_ambiguous=keep_ambiguous,
        allow_flips=not no_flips,
        min_overlap=min_overlap,
        exclude_chromosomes=_csv_strings(exclude_chromosomes),
    )
    seen: dict[str, str] = {}
    summaries = []
    prepared = prepare_target(variants, options)
    # one scoring file in memory at a time: its report is appended to the file, then dropped
    with atomic_path(report) as tmp, TsvWriter(tmp, gzipped=True) as out:
        for path in scoring_files:
            score = read_scoring_file(path)
            if score.pgs_id in seen:
                raise IGSError(
                    f"two scoring files share a pgs_id: {score.pgs_id!r} ({seen[score.pgs_id]} and {path})."
                )
            seen[score.pgs_id] = path
            check_build(score, genome_build)
            part = match_variants(score, variants, options, prepared)
            n_matched = int((part["match_status"] == "matched").sum())
            log.info("%s: %d of %d variants matched", score.pgs_id, n_matched, len(part))
            summaries.append(summarise_matches(part))
            out.write(part)
            del score, part  # before the next file is read
    with atomic_path(summary) as tmp:
        pd.concat(summaries, ignore_index=True).to_csv(tmp, sep="\t", index=False)


@scores.command("compute")
@genotype_options(("bed", "pgen", "vcf", "bgen"))
@click.option("--engine", type=click.Choice(["local", "hail"]), default="local", show_default=True)
@config_option("Workflow config; its `hail` block configures the Hail engine.")
@click.option(
    "--report",
    type=click.Path(exists=True, path_type=Path),
    required=True,
    help="From `igs scores match`.",
)
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
    "--chunk-variants", type=int, default=8192, show_default=True, help="Variants read per chunk."
)
@click.option(
    "--out", type=click.Path(path_type=Path), required=True, help="scores.tsv.gz to write."
)
def scores_compute(
    prefix: str,
    fmt: str,
    engine: str,
    config_file: Path | None,
    report: Path,
    no_mean_imputation: bool,
    dosage_sums: bool,
    chunk_variants: int,
    out: Path,
) -> None:
    """Compute every matched score for every sample in one pass (plink2 --score semantics)."""

    from igs.io.plink import open_genotypes
    from igs.scores import compute_scores, score_weights
    from igs.scores.engine import REPORT_COLUMNS_FOR_SCORING

    if engine == "local" and fmt not in ("bed", "pgen"):
        raise ConfigError(f"the local engine reads bed or pgen, not {fmt}; use --engine hail.")
    full = read_tsv(
        report, columns=REPORT_COLUMNS_FOR_SCORING, dtypes={"pgs_id": "string"}, categorical=True
    )
    reports = [r for _, r in full.groupby("pgs_id", sort=False, observed=True)]
    if engine == "hail":
        from igs.scores.hail_engine import compute_scores_hail

        n_target = int(full["target_index"].max()) + 1 if full["target_index"].notna().any() else 0
        result = compute_scores_hail(
            prefix,
            fmt,
            score_weights(reports, n_target),
            mean_impute=not no_mean_imputation,
            dosage_sums=dosage_sums,
            hail_config=_qc_config(config_file)["hail"],
        )
    else:
        gset = open_genotypes(prefix, fmt)  # type: ignore[arg-type]
        result = compute_scores(
            gset,
            score_weights(reports, gset.n_variants),
            mean_impute=not no_mean_imputation,
            chunk_variants=chunk_variants,
            dosage_sums=dosage_sums,
        )
    with atomic_path(out) as tmp:
        write_tsv(result, tmp, gzipped=True)


@scores.command("adjust")
@click.option(
    "--scores",
    "scores_path",
    type=click.Path(exists=True, path_type=Path),
    required=True,
    help="scores.tsv.gz from `igs scores compute`.",
)
@click.option(
    "--pcs",
    type=click.Path(exists=True, path_type=Path),
    required=True,
    help="PCs of the scored samples (qc/pcs.tsv, or `igs qc project` output).",
)
@click.option(
    "--sample-qc",
    type=click.Path(exists=True, path_type=Path),
    help="qc/sample_qc.tsv.gz: its ancestry_group gives within-group percentiles.",
)
@click.option(
    "--reference-scores",
    type=click.Path(exists=True, path_type=Path),
    help="Scores of a reference panel to fit on (default: the scored samples).",
)
@click.option(
    "--reference-pcs",
    type=click.Path(exists=True, path_type=Path),
    help="PCs of the reference panel (with --reference-scores).",
)
@click.option("--n-pcs", type=click.IntRange(1, 20), default=4, show_default=True)
@click.option(
    "--out", type=click.Path(path_type=Path), required=True, help="scores_adjusted.tsv.gz to write."
)
@click.option(
    "--models",
    type=click.Path(path_type=Path),
    required=True,
    help="JSON file for the fitted adjustment models.",
)
def scores_adjust(
    scores_path: Path,
    pcs: Path,
    sample_qc: Path | None,
    reference_scores: Path | None,
    reference_pcs: Path | None,
    n_pcs: int,
    out: Path,
    models: Path,
) -> None:
    """Adjust scores for genetic ancestry: Z-scores, mean and mean+variance PC regressions, percentiles."""
    import pandas as pd

    from igs.scores.ancestry import adjust_scores

    if (reference_scores is None) != (reference_pcs is None):
        raise ConfigError("--reference-scores and --reference-pcs go together.")
    read = lambda p: read_tsv(p, dtypes={"IID": "string"}) if p else None  # noqa: E731
    groups = None
    if sample_qc is not None:
        qc = read(sample_qc)
        passed = qc[qc["qc_fail"].isna() | (qc["qc_fail"] == "")] if "qc_fail" in qc else qc
        groups = pd.Series(passed["ancestry_group"].to_numpy(), index=passed["IID"].astype(str))
    adjusted, fits = adjust_scores(
        read(scores_path),
        read(pcs),
        n_pcs=n_pcs,
        reference_scores=read(reference_scores),
        reference_pcs=read(reference_pcs),
        groups=groups,
    )
    with atomic_path(out) as tmp:
        write_tsv(adjusted, tmp, gzipped=True)
    with atomic_path(models) as tmp:
        tmp.write_text(json.dumps([f.to_dict() for f in fits], indent=2) + "\n")


# --------------------------------------------------------------------------- models


def _survival_data(cfg: dict, results_dir: Path, endpoint: str, *, only_included: bool = True):  # type: ignore[no-untyped-def]
    """The analysis table of one endpoint from a biobank's stage outputs."""
    import pandas as pd

    from igs.models import assemble

    spec = next((e for e in cfg["pheno"]["endpoints"] if e["name"] == endpoint), None)
    if spec is None:
        known = ", ".join(e["name"] for e in cfg["pheno"]["endpoints"])
        raise ConfigError(f"unknown endpoint {endpoint!r}; pheno.endpoints defines: {known}.")
    if "score" not in spec:
        raise ConfigError(f"pheno.endpoints ({endpoint}) needs `score`: the pgs_id to model.")
    r = Path(results_dir)
    return assemble(
        endpoint,
        pd.read_parquet(r / "pheno" / f"{endpoint}.parquet"),
        pd.read_parquet(r / "features" / "covariates.parquet"),
        read_tsv(r / "scores" / "scores_adjusted.tsv.gz", dtypes={"IID": "string"}),
        read_tsv(r / "qc" / "pcs.tsv", dtypes={"IID": "string"}),
        spec["score"],
        omics=pd.read_parquet(r / "features" / "omics_landmark.parquet"),
        omics_statistics=tuple(cfg["models"]["omics_statistics"]),
        n_pcs=cfg["scores"]["ancestry_adjustment"]["n_pcs"],
        only_included=only_included,
    )


@cli.group()
def models() -> None:
    """Integrative survival models: fit, evaluate, apply elsewhere."""


@models.command("evaluate")
@config_option("Workflow config (its `pheno`, `models` and `scores` blocks).", required=True)
@click.option("--endpoint", required=True)
@results_dir_option
@click.option(
    "--out-dir", type=click.Path(path_type=Path), required=True, help="evaluate/{endpoint} folder."
)
def models_evaluate(config_file: Path, endpoint: str, results_dir: Path, out_dir: Path) -> None:
    """Fit the model sets, compare them on held-out data and cross-validation, write tables and plots."""
    from igs.config import load_config
    from igs.models import EvaluationSettings, evaluate_endpoint, write_evaluation

    cfg = load_config(config_file)
    m = cfg["models"]
    settings = EvaluationSettings(
        horizons=tuple(float(h) for h in m["horizons"]), test_fraction=m["test_fraction"],
        n_folds=m["n_folds"], penalizers=tuple(m["penalizers"]), n_bootstrap=m["n_bootstrap"],
        thresholds=tuple(m["thresholds"]), seed=cfg["seed"],
    )  # fmt: skip
    result = evaluate_endpoint(_survival_data(cfg, results_dir, endpoint), settings)
    sh = cfg["share"]  # model.json leaves the biobank: no exact event ages in its baseline
    result["model"] = result["model"].coarsened(sh["min_cell"], sh["baseline_grid_years"])
    write_evaluation(result, out_dir)


@cli.command("apply-model")
@click.option(
    "--model",
    "model_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help="model.json written by `igs models evaluate` (possibly at another biobank).",
)
@config_option("Workflow config (its `pheno`, `models` and `scores` blocks).", required=True)
@results_dir_option
@click.option("--horizon", type=float, default=10.0, show_default=True)
@click.option(
    "--out", type=click.Path(path_type=Path), required=True, help="Per-person risks (TSV)."
)
@click.option(
    "--metrics",
    type=click.Path(path_type=Path),
    required=True,
    help="External-validation metrics (JSON).",
)
def apply_model(
    model_file: Path, config_file: Path, results_dir: Path, horizon: float, out: Path, metrics: Path
) -> None:
    """Apply a saved model to this biobank's data: absolute risks and external-validation metrics."""
    import pandas as pd

    from igs.config import load_config
    from igs.models import CoxModel
    from igs.models import metrics as M

    model = CoxModel.from_json(model_file)
    data = _survival_data(load_config(config_file), results_dir, model.endpoint)
    risk = model.absolute_risk(data.features, data.start, horizon)
    cal = M.calibration(data.followup, data.event, risk, horizon, M.cloglog(risk))
    summary = {
        "model": str(model_file), "endpoint": model.endpoint, "model_set": model.model_set,
        "horizon": horizon, "n": len(risk), "events": int(data.event.sum()),
        "harrell_c": M.harrell_c(data.followup, data.event, risk),
        "observed_expected": cal["observed_expected"], "calibration_slope": cal["slope"],
    }  # fmt: skip
    with atomic_path(out) as tmp:
        pd.DataFrame({"IID": data.iid, f"risk_{horizon:g}y": risk}).to_csv(
            tmp, sep="\t", index=False
        )
    with atomic_path(metrics) as tmp:
        tmp.write_text(json.dumps(summary, indent=2) + "\n")


# --------------------------------------------------------------------------- share / meta


@cli.group()
def share() -> None:
    """Aggregate-only results that may leave the biobank."""


@share.command("bundle")
@config_option("Workflow config (its `pheno` and `share` blocks).", required=True)
@click.option("--biobank", required=True)
@results_dir_option
@click.option(
    "--out-dir", type=click.Path(path_type=Path), required=True, help="The share/ folder."
)
def share_bundle(config_file: Path, biobank: str, results_dir: Path, out_dir: Path) -> None:
    """Write the share bundle: counts, model metrics, score effects, calibration, match rates,
    and the biobank's provenance.json (when it exists), all listed in the manifest."""
    from igs.config import load_config
    from igs.share.bundle import build_bundle, write_bundle

    cfg = load_config(config_file)
    min_cell = cfg["share"]["min_cell"]
    endpoints = [e["name"] for e in cfg["pheno"]["endpoints"]]
    write_bundle(
        build_bundle(results_dir, biobank, endpoints, min_cell), out_dir, biobank, min_cell
    )


@cli.command("meta")
@click.argument(
    "bundles",
    nargs=-1,
    required=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
)
@click.option("--out-dir", type=click.Path(path_type=Path), required=True)
def meta(bundles: tuple[Path, ...], out_dir: Path) -> None:
    """Meta-analyse share BUNDLES (from any number of biobanks): pooled.tsv, leave_one_out.tsv, forest plots."""
    from igs.io.atomic import atomic_paths
    from igs.share.bundle import read_bundle
    from igs.share.meta import forest_plot, gather_estimates, meta_analyse

    read = {}
    for b in bundles:
        manifest, tables = read_bundle(b)
        if manifest["biobank"] in read:
            raise IGSError(f"{b}: a second bundle from biobank {manifest['biobank']!r}.")
        read[manifest["biobank"]] = tables
    estimates = gather_estimates(read)
    pooled, loo = meta_analyse(estimates)
    out_dir.mkdir(parents=True, exist_ok=True)
    overall = pooled[pooled["quantity"] == "log_hr_per_sd:all"]
    plots = [out_dir / f"forest_{ep}.png" for ep in overall["endpoint"]]
    files = [
        out_dir / "estimates.tsv",
        out_dir / "pooled.tsv",
        out_dir / "leave_one_out.tsv",
        *plots,
    ]
    with atomic_paths(files) as tmps:
        for tmp, table in zip(tmps, (estimates, pooled, loo), strict=False):
            table.to_csv(tmp, sep="\t", index=False, float_format="%.6g")
        for tmp, ep in zip(tmps[3:], overall["endpoint"], strict=True):
            forest_plot(estimates, pooled, "log_hr_per_sd:all", ep, tmp)
    log.info("meta-analysed %d quantities over %d biobanks", len(pooled), len(read))


# --------------------------------------------------------------------------- export


@cli.group()
def export() -> None:
    """Per-person results for clinicians."""


@export.command("clinician")
@config_option("Workflow config (its `export`, `pheno` and `models` blocks).", required=True)
@click.option("--endpoint", required=True)
@results_dir_option
@click.option(
    "--out-dir", type=click.Path(path_type=Path), required=True, help="The export/ folder."
)
def export_clinician(config_file: Path, endpoint: str, results_dir: Path, out_dir: Path) -> None:
    """Write export/{endpoint}_risk.csv and one FHIR R4 RiskAssessment per person (export/fhir/{endpoint}/)."""
    import pandas as pd

    from igs.config import load_config
    from igs.export.clinician import clinician_table, write_clinician_export
    from igs.models import CoxModel

    cfg = load_config(config_file)
    ex = cfg["export"]
    model_file = results_dir / "evaluate" / endpoint / "model.json"
    model = CoxModel.from_json(model_file)
    data = _survival_data(cfg, results_dir, endpoint, only_included=False)
    spec = next(e for e in cfg["pheno"]["endpoints"] if e["name"] == endpoint)
    ep_table = pd.read_parquet(results_dir / "pheno" / f"{endpoint}.parquet").set_index("IID")
    match = read_tsv(results_dir / "scores" / "match_summary.tsv").set_index("pgs_id")
    n_pcs = cfg["scores"]["ancestry_adjustment"]["n_pcs"]
    table = clinician_table(
        data, ep_table.loc[data.iid, "excluded"].to_numpy(),
        read_tsv(results_dir / "scores" / "scores_adjusted.tsv.gz", dtypes={"IID": "string"}),
        model, model_file, pgs_id=spec["score"], match_rate=float(match.loc[spec["score"], "match_rate"]),
        horizon=float(ex["horizon"]), thresholds=tuple(ex["thresholds"]), labels=tuple(ex["labels"]),
        min_match_rate=ex["min_match_rate"],
        normalisation=f"pgsc_calc mean+variance (Z_norm2) on {n_pcs} PCs, fitted in this biobank's QC'd samples",
    )  # fmt: skip
    write_clinician_export(
        table, model, [spec["score"]], out_dir, endpoint, results_dir / "provenance.json"
    )
    log.info(
        "%s: %d people exported (%d flagged prevalent)",
        endpoint,
        len(table),
        int(table["flag_prevalent"].sum()),
    )


@cli.command("report")
@config_option("Workflow config (biobanks, endpoints, results_dir).", required=True)
@click.option("--out", type=click.Path(path_type=Path), required=True, help="report.html to write.")
def report_cmd(config_file: Path, out: Path) -> None:
    """Write one self-contained HTML report of the whole run."""
    from igs.config import load_config
    from igs.report.html import build_report

    cfg = load_config(config_file)
    text = build_report(
        Path(cfg["results_dir"]),
        [b["name"] for b in cfg["biobanks"]],
        [e["name"] for e in cfg["pheno"]["endpoints"]],
    )
    with atomic_path(out) as tmp:
        tmp.write_text(text)


@cli.command("provenance")
@config_option("Workflow config.", required=True)
@click.option("--biobank", required=True)
@click.option(
    "--out", type=click.Path(path_type=Path), required=True, help="provenance.json to write."
)
def provenance_cmd(config_file: Path, biobank: str, out: Path) -> None:
    """Write provenance.json: igs version and commit, dependency versions, config and input checksums."""
    from igs.config import load_config
    from igs.provenance import provenance

    record = provenance(load_config(config_file), biobank)
    with atomic_path(out) as tmp:
        tmp.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")


class Terminated(Exception):
    """SIGTERM (a cancelled job, Snakemake stopping): unwinds so half-written temporaries go."""


def _raise_terminated(signum: int, frame: object) -> None:
    raise Terminated


_DISK_ERRORS = {
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is exceeded",
    errno.EROFS: "the file system is read-only",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
}


def _redact(text: str) -> str:
    from igs.redact import redact_urls

    return redact_urls(text)


def main() -> None:
    """Entry point: run the CLI, turning igs errors into a message and an exit code."""
    signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        try:
            cli(standalone_mode=False)
        except OSError as exc:  # a full or read-only disk: name the path, no traceback
            if exc.errno not in _DISK_ERRORS:
                raise
            raise IGSError(
                f"{exc.filename or 'writing a file'}: {_DISK_ERRORS[exc.errno]} ({exc.strerror}); "
                "free space or fix permissions, then run the step again."
            ) from exc
    except Terminated:
        click.echo("igs: terminated (SIGTERM) before the step finished; run it again", err=True)
        sys.exit(143)
    except IGSError as exc:
        click.echo(f"igs: error: {_redact(str(exc))}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("igs: aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.message = _redact(exc.message)
        exc.show()
        sys.exit(exc.exit_code)


from igs.federated.cli import federated  # noqa: E402

cli.add_command(federated)

if __name__ == "__main__":
    main()
