"""``igs qc``: genotype QC (``run``) and projection onto saved PCs (``project``)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import click

from igs.cli_options import IN_FILE, genotype_options, options_options, out_option


@click.group()
def qc() -> None:
    """Genotype QC: sample and variant filters, sex check, relatedness, PCA."""


@qc.command("run")
@genotype_options(("bed", "pgen", "vcf", "bgen"))
@click.option("--engine", type=click.Choice(["local", "hail"]), default="local", show_default=True)
@options_options("qc", "`qc`, `seed` and `hail` blocks; default: the schema's defaults")
@click.option("--ancestry-groups", type=int, help="Override qc.ancestry_groups.")
@click.option(
    "--threads",
    type=click.IntRange(min=1),
    help="CPU threads of the local engine (default: every available CPU).",
)
@out_option("--out-dir", "Folder for qc/ outputs.")
def qc_run(prefix: str, fmt: str, engine: str, options_file: Path | None, config_file: Path | None,
           ancestry_groups: int | None, threads: int | None, out_dir: Path) -> None:  # fmt: skip
    """Run QC and write genotypes.bed/bim/fam, variant_qc, sample_qc, pcs and summary.json."""
    from igs.io.memory import keep_resident_memory_low
    from igs.options import stage_record
    from igs.qc.options import QCOptions
    from igs.qc.run import run_qc

    cfg = stage_record(options_file, config_file, "qc")["config"]
    opts = QCOptions.from_config(cfg["qc"], seed=cfg["seed"])
    if ancestry_groups is not None:
        opts = dataclasses.replace(opts, ancestry_groups=ancestry_groups)
    keep_resident_memory_low()
    run_qc(prefix, fmt, opts, out_dir, engine=engine, hail_config=cfg["hail"], threads=threads)


@qc.command("hardcalls")
@genotype_options(("pgen", "vcf", "bgen", "bed"))
@click.option("--sample", "sample_file", help="BGEN only: the .sample file (may contain {chrom}).")
@click.option(
    "--chromosomes",
    help="With {chrom} in --genotypes: comma-separated chromosomes (default: every file found).",
)
@options_options("qc", "`qc` and `seed` blocks (qc.imputed_*); default: the schema's defaults")
@out_option("--out", "Prefix of the bed/bim/fam fileset to write.")
def qc_hardcalls(prefix: str, fmt: str, sample_file: str | None, chromosomes: str | None,
                 options_file: Path | None, config_file: Path | None, out: Path) -> None:  # fmt: skip
    """Hard calls of the well-imputed common variants of imputed dosages, for QC."""
    from igs.config import genotype_parts
    from igs.options import stage_record
    from igs.qc.imputed import write_hard_calls
    from igs.qc.options import QCOptions

    cfg = stage_record(options_file, config_file, "qc")["config"]
    opts = QCOptions.from_config(cfg["qc"], seed=cfg["seed"])
    chroms = chromosomes.split(",") if chromosomes else None
    parts = genotype_parts({"path": prefix, "format": fmt, "chromosomes": chroms})
    write_hard_calls(parts, fmt, opts, out, sample=sample_file)


@qc.command("samples")
@genotype_options(("bed", "pgen", "vcf", "bgen"))
@click.option("--sample", "sample_file", help="BGEN only: the .sample file (may contain {chrom}).")
@click.option(
    "--source",
    type=click.Choice(["provided", "none"]),
    required=True,
    help="provided: the biobank's own exclusions, PCs and kinship; none: everyone passes.",
)
@click.option(
    "--exclusions", type=IN_FILE, help="provided: IID and reason of each excluded person."
)
@click.option("--pcs", type=IN_FILE, help="provided: IID, PC1.. of every genotyped person.")
@click.option("--kinship", type=IN_FILE, help="provided: ID1, ID2, Kinship (ukb_rel.dat).")
@options_options("qc", "`qc` and `seed` blocks (qc.kinship); default: the schema's defaults")
@out_option("--out-dir", "Folder for qc/ outputs.")
def qc_samples(prefix: str, fmt: str, sample_file: str | None, source: str, exclusions: Path | None,
               pcs: Path | None, kinship: Path | None, options_file: Path | None,
               config_file: Path | None, out_dir: Path) -> None:  # fmt: skip
    """Sample QC without computing it: write sample_qc, pcs, king_pairs and summary.json."""
    from igs.errors import ConfigError
    from igs.options import stage_record
    from igs.qc.options import QCOptions
    from igs.qc.provided import ProvidedQC, genotyped_samples, no_qc, provided_qc, write_sample_qc

    samples = genotyped_samples(prefix, fmt, sample=sample_file)
    files = None
    if source == "provided":
        if exclusions is None or pcs is None or kinship is None:
            raise ConfigError(
                "qc.source provided needs qc.provided.exclusions, pcs and kinship "
                "(--exclusions, --pcs, --kinship)."
            )
        cfg = stage_record(options_file, config_file, "qc")["config"]
        files = ProvidedQC(exclusions, pcs, kinship)
        tables = provided_qc(samples, files, QCOptions.from_config(cfg["qc"], seed=cfg["seed"]))
    else:
        tables = no_qc(samples)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_sample_qc(out_dir, source, prefix, *tables, provided=files)


@qc.command("project")
@genotype_options()
@click.option(
    "--loadings",
    type=IN_FILE,
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
@out_option("--out", "pcs.tsv to write.")
def qc_project(prefix: str, fmt: str, loadings: Path, min_overlap: float, out: Path) -> None:
    """Project samples onto saved PCs (same columns as qc/pcs.tsv)."""
    from igs.io.atomic import atomic_path
    from igs.io.plink import open_genotypes
    from igs.io.tables import read_tsv, write_tsv
    from igs.qc.pca import project_samples

    gset = open_genotypes(prefix, fmt)  # type: ignore[arg-type]
    pcs = project_samples(
        gset, read_tsv(loadings, dtypes={"chrom": "string"}), min_overlap=min_overlap
    )
    with atomic_path(out) as tmp:
        write_tsv(pcs, tmp, gzipped=False)
