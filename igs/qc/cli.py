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
@out_option("--out-dir", "Folder for qc/ outputs.")
def qc_run(prefix: str, fmt: str, engine: str, options_file: Path | None, config_file: Path | None,
           ancestry_groups: int | None, out_dir: Path) -> None:  # fmt: skip
    """Run QC and write genotypes.bed/bim/fam, variant_qc, sample_qc, pcs and summary.json."""
    from igs.options import stage_record
    from igs.qc.options import QCOptions
    from igs.qc.run import run_qc

    cfg = stage_record(options_file, config_file, "qc")["config"]
    opts = QCOptions.from_config(cfg["qc"], seed=cfg["seed"])
    if ancestry_groups is not None:
        opts = dataclasses.replace(opts, ancestry_groups=ancestry_groups)
    run_qc(prefix, fmt, opts, out_dir, engine=engine, hail_config=cfg["hail"])


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
