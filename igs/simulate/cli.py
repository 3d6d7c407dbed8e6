"""``igs simulate``: the demo's synthetic inputs (defaults are the config schema's)."""

from __future__ import annotations

import logging
from pathlib import Path

import click

from igs.cli_options import IN_DIR, csv_floats, csv_strings, out_option
from igs.errors import ConfigError
from igs.options import schema_default

log = logging.getLogger("igs")


def _sim_default(key: str) -> object:
    return schema_default("simulation", key)


def _cohort_default(key: str) -> object:
    return schema_default("biobanks", "items", "simulate", key)


def universe_options(f):  # type: ignore[no-untyped-def]
    """--seed, --n-variants, --chromosomes: the shared variant universe (config `simulation`)."""
    chromosomes = ",".join(_sim_default("chromosomes"))  # type: ignore[arg-type]
    for opt in reversed([
        click.option("--seed", type=int, default=_sim_default("seed"), show_default=True, help="Seed of the shared variant universe."),
        click.option("--n-variants", type=int, default=_sim_default("n_variants"), show_default=True, help="Variants in the universe."),
        click.option("--chromosomes", default=chromosomes, show_default=True, help="Comma-separated autosomes (chrX is added)."),
    ]):  # fmt: skip
        f = opt(f)
    return f


def _universe(seed: int, n_variants: int, chromosomes: str):  # type: ignore[no-untyped-def]
    from igs.simulate import UniverseSpec, build_universe

    return build_universe(
        UniverseSpec(seed=seed, n_variants=n_variants, chromosomes=csv_strings(chromosomes))
    )


@click.group()
def simulate() -> None:
    """Write synthetic demo inputs with planted structure and known effects."""


@simulate.command("scores")
@out_option("--out-dir", "Folder for the scoring files.")
@universe_options
def simulate_scores(out_dir: Path, seed: int, n_variants: int, chromosomes: str) -> None:
    """Write PGS Catalog scoring files (and their truth files) for the simulated scores."""
    from igs.simulate import write_scoring_files

    paths = write_scoring_files(_universe(seed, n_variants, chromosomes), out_dir)
    log.info("wrote %d files to %s", len(paths), out_dir)


@simulate.command("cohort")
@out_option("--out-dir", "Folder for the cohort's files.")
@click.option("--name", required=True, help="Biobank name (prefix of sample IDs).")
@click.option("--n-samples", type=int, required=True, help="Number of people.")
@click.option(
    "--cohort-seed",
    type=int,
    default=_cohort_default("seed"),
    show_default=True,
    help="Seed of this biobank's people.",
)
@click.option(
    "--ancestry-proportions",
    default=",".join(map(str, _cohort_default("ancestry_proportions"))),
    show_default=True,
    help="Shares of POP_A,POP_B,POP_C.",
)
@click.option(
    "--chunk-variants",
    type=int,
    default=2048,
    show_default=True,
    help="Variants simulated per chunk (memory, not results).",
)
@click.option(
    "--imputed",
    is_flag=True,
    help="Also write imputed/chr{N}.pgen dosages with INFO and an array.bed fileset for QC.",
)
@universe_options
def simulate_cohort_cmd(
    out_dir: Path, name: str, n_samples: int, cohort_seed: int, ancestry_proportions: str,
    chunk_variants: int, imputed: bool, seed: int, n_variants: int, chromosomes: str,
) -> None:  # fmt: skip
    """Write one biobank: genotypes (bed+pgen), clinical, diagnoses, omics and truth.json
    (with --imputed also per-chromosome imputed dosages and a genotyped-array fileset)."""
    from igs.simulate import CohortSpec, simulate_cohort

    spec = CohortSpec(name=name, n_samples=n_samples, seed=cohort_seed,
                      ancestry_proportions=csv_floats(ancestry_proportions), imputed=imputed)  # fmt: skip
    try:
        truth = simulate_cohort(
            _universe(seed, n_variants, chromosomes), spec, out_dir, chunk_variants=chunk_variants
        )
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    log.info(
        "%s: %d samples x %d variants written to %s",
        name,
        n_samples,
        truth["genotypes"]["n_variants"],
        out_dir,
    )


@simulate.command("omop")
@click.option(
    "--cohort-dir",
    type=IN_DIR,
    required=True,
    help="A simulated cohort folder (clinical.tsv, diagnoses.tsv, omics.tsv.gz, medications.tsv).",
)
@click.option("--out", required=True, help="OMOP DuckDB file to write, or a postgresql:// URL.")
def simulate_omop(cohort_dir: Path, out: str) -> None:
    """Write a simulated cohort's health records as an OMOP CDM v5.4 database."""
    from igs.io.atomic import atomic_path
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
